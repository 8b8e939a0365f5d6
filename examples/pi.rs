//! Monte Carlo π, the classic first exercise of Python's `multiprocessing`:
//!
//! ```python
//! def hits(seed):            # points of one batch inside the quarter circle
//!     rng = random.Random(seed)
//!     return sum(rng.random()**2 + rng.random()**2 <= 1 for _ in range(N))
//! with Pool() as pool:
//!     pi = 4 * sum(pool.map(hits, range(BATCHES))) / (N * BATCHES)
//! ```
//!
//! Run: `cargo run --release --example pi`

use parallel_examples::SplitMix64;
use parallel_runtime::prelude::*;

/// Points of one batch that fall inside the quarter circle.
#[parallel_map]
fn hits(seed: u64, points_per_batch: u64) -> u64 {
    let mut rng = SplitMix64::new(seed);
    let mut inside = 0;
    for _ in 0..points_per_batch {
        let (x, y) = (rng.next_f64(), rng.next_f64());
        if x * x + y * y <= 1.0 {
            inside += 1;
        }
    }
    inside
}

fn main() {
    let batches = 256u64;
    let per_batch = 200_000u64;
    let total_points = (batches * per_batch) as f64;

    let t = std::time::Instant::now();
    let inside = hits::reduce(0..batches, per_batch, 0, |a, b| a + b);
    let parallel = t.elapsed();
    let pi = 4.0 * inside as f64 / total_points;

    let t = std::time::Instant::now();
    let serial_inside: u64 = (0..batches).map(|s| hits(s, per_batch)).sum();
    let serial = t.elapsed();

    println!(
        "π ≈ {pi:.6} from {} points ({} threads: {:.3} s; serial loop: {:.3} s; speed-up {:.2}×)",
        total_points,
        parallel_runtime::num_threads(),
        parallel.as_secs_f64(),
        serial.as_secs_f64(),
        serial.as_secs_f64() / parallel.as_secs_f64()
    );
    // The same seeds give the same points, serial or parallel.
    assert_eq!(inside, serial_inside, "parallel and serial counts differ");
    // 4·p(1−p)/n bounds the variance; 6 standard deviations is a safe check.
    let sd = 4.0
        * (std::f64::consts::PI / 4.0 * (1.0 - std::f64::consts::PI / 4.0) / total_points).sqrt();
    assert!(
        (pi - std::f64::consts::PI).abs() < 6.0 * sd,
        "π estimate {pi} is off by more than 6σ"
    );
    println!(
        "ok: within {:.1e} of π (6σ = {:.1e})",
        (pi - std::f64::consts::PI).abs(),
        6.0 * sd
    );
}
