//! What the benchmarks share: ratios of rounds interleaved in one process.

use std::time::Instant;

use parallel_runtime::parallel_map;

use crate::busy_work;

/// The trivial item, `x + 1`.
#[parallel_map]
pub fn inc(x: &u64) -> u64 {
    x + 1
}

/// About 10 µs of floating-point work with [`ten_us_iters`].
#[parallel_map]
pub fn ten_us(seed: &u64, iters: u32) -> f64 {
    busy_work(*seed, iters)
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `a` and `b` in alternating rounds; returns their median times (s).
pub fn side_by_side(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    a();
    b();
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let time = |f: &mut dyn FnMut(), out: &mut Vec<f64>| {
            let t = Instant::now();
            f();
            out.push(t.elapsed().as_secs_f64());
        };
        if r % 2 == 0 {
            time(&mut a, &mut ta);
            time(&mut b, &mut tb);
        } else {
            time(&mut b, &mut tb);
            time(&mut a, &mut ta);
        }
    }
    (median(&mut ta), median(&mut tb))
}

/// A time in µs or ms.
pub fn fmt_time(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

/// The `iters` of [`crate::busy_work`] that take about 10 µs on this
/// machine (a first guess only when `quick`).
pub fn ten_us_iters(quick: bool) -> u32 {
    let mut iters = 1000u32;
    loop {
        let t = Instant::now();
        for s in 0..200 {
            std::hint::black_box(busy_work(s, iters));
        }
        let per = t.elapsed().as_secs_f64() / 200.0;
        if (per - 10e-6).abs() < 1e-6 || quick {
            return iters;
        }
        iters = ((iters as f64) * 10e-6 / per).max(1.0) as u32;
    }
}
