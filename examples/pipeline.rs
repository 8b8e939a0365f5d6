//! A real pipeline with `#[delayed]`: several data files (written by this
//! example) go through load → clean → per-file statistics → one combined
//! summary, computed in parallel and compared with a serial run.
//!
//! In Dask:
//!
//! ```python
//! parts = [stats(clean(load(p))) for p in paths]
//! summary = combine(parts)
//! summary.compute()
//! ```
//!
//! Run: `cargo run --release --example pipeline`

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use parallel_examples::SplitMix64;
use parallel_runtime::graph::{compute_with, FailureKind};
use parallel_runtime::prelude::*;

/// Count, mean, sum of squared deviations, min and max of one file.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stats {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn variance(&self) -> f64 {
        self.m2 / (self.n - 1) as f64
    }
}

/// Reads one file: one number per line, `NA` for a missing value.
#[delayed]
fn load(path: PathBuf) -> io::Result<Vec<f64>> {
    let text = std::fs::read_to_string(&path)?;
    Ok(text
        .lines()
        .map(|l| l.trim().parse::<f64>().unwrap_or(f64::NAN))
        .collect())
}

/// Drops missing values and readings outside the sensor's range.
#[delayed]
fn clean(xs: Vec<f64>) -> Vec<f64> {
    xs.into_iter()
        .filter(|x| x.is_finite() && (-50.0..=150.0).contains(x))
        .collect()
}

/// Welford's one-pass statistics.
#[delayed]
fn stats(xs: Vec<f64>) -> Stats {
    let mut s = Stats {
        n: 0,
        mean: 0.0,
        m2: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };
    for x in xs {
        s.n += 1;
        let d = x - s.mean;
        s.mean += d / s.n as f64;
        s.m2 += d * (x - s.mean);
        s.min = s.min.min(x);
        s.max = s.max.max(x);
    }
    s
}

/// Chan et al.'s pairwise combination, in file order.
#[delayed]
fn combine(parts: Vec<Stats>) -> Stats {
    let mut it = parts.into_iter();
    let mut acc = it.next().expect("at least one file");
    for b in it {
        let n = acc.n + b.n;
        let d = b.mean - acc.mean;
        acc = Stats {
            n,
            mean: acc.mean + d * b.n as f64 / n as f64,
            m2: acc.m2 + b.m2 + d * d * acc.n as f64 * b.n as f64 / n as f64,
            min: acc.min.min(b.min),
            max: acc.max.max(b.max),
        };
    }
    acc
}

/// Writes `files` files of `rows` readings each (some missing, some wild).
fn generate(dir: &std::path::Path, files: usize, rows: usize) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    (0..files)
        .map(|f| {
            let mut rng = SplitMix64::new(f as u64);
            let mut text = String::with_capacity(rows * 8);
            for _ in 0..rows {
                let u = rng.next_f64();
                if u < 0.01 {
                    text.push_str("NA\n");
                } else if u < 0.02 {
                    text.push_str("9999\n");
                } else {
                    // A rough bell curve around 20 °C.
                    let x: f64 = (0..6).map(|_| rng.next_f64()).sum::<f64>() - 3.0;
                    text.push_str(&format!("{:.3}\n", 20.0 + 8.0 * x));
                }
            }
            let path = dir.join(format!("sensor-{f:02}.csv"));
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("delayed-pipeline-{}", std::process::id()));
    let paths = generate(&dir, 16, 200_000)?;

    // The graph: nothing runs while it is built.
    let build = |paths: &[PathBuf]| {
        let parts: Vec<Delayed<Stats>> = paths
            .iter()
            .map(|p| stats(clean(load(p.clone()))))
            .collect();
        combine(parts)
    };
    let summary = build(&paths);
    println!(
        "{} tasks; combine depends on {} per-file statistics",
        summary.graph().len(),
        summary.dependencies().len()
    );
    let svg = std::env::temp_dir().join("delayed_pipeline.svg");
    println!(
        "picture: {} (drawn by {:?})",
        svg.display(),
        summary.write_svg(&svg)?
    );

    let t = Instant::now();
    let parallel = summary.compute()?;
    let t_parallel = t.elapsed();

    // The same answer from the plain functions, one after another.
    let t = Instant::now();
    let serial = combine::call(
        paths
            .iter()
            .map(|p| Ok(stats::call(clean::call(load::call(p.clone())?))))
            .collect::<io::Result<Vec<Stats>>>()?,
    );
    let t_serial = t.elapsed();
    // And from the serial backend (the debugging switch).
    let serial_backend = compute_with(Backend::Serial, build(&paths))?;

    println!(
        "summary: n = {}, mean = {:.4}, sd = {:.4}, min = {:.3}, max = {:.3}",
        parallel.n,
        parallel.mean,
        parallel.variance().sqrt(),
        parallel.min,
        parallel.max
    );
    println!(
        "graph on {} threads: {t_parallel:?}; plain serial loop: {t_serial:?}",
        parallel_runtime::num_threads()
    );
    // Same functions, same combination order: the same bits.
    assert_eq!(parallel, serial);
    assert_eq!(parallel, serial_backend);
    assert!(parallel.n > 16 * 200_000 * 97 / 100 && parallel.n < 16 * 200_000);
    assert!((parallel.mean - 20.0).abs() < 0.05, "{}", parallel.mean);
    assert!(parallel.max <= 150.0 && parallel.min >= -50.0);

    // A missing file fails its `load` task, cancels what depends on it, and
    // names the task.
    let mut broken = paths.clone();
    broken[3] = dir.join("missing.csv");
    let err = build(&broken)
        .compute()
        .expect_err("a missing file fails the graph");
    println!("with a missing file: {err}");
    assert_eq!(err.function(), "load");
    assert_eq!(err.kind(), FailureKind::Error);
    assert!(err.take_error::<io::Error>().is_some());

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
