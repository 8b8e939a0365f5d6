//! The same `#[delayed]` pipeline on one machine and across MPI ranks: what
//! dask-mpi users do with `client.compute`, without a scheduler.
//!
//! ```python
//! from dask_mpi import initialize; initialize()
//! from dask.distributed import Client; client = Client()
//! parts = [summarize(clean(load(i))) for i in range(16)]
//! total = delayed(merge)(parts)
//! client.compute(total).result()
//! ```
//!
//! Run on one machine: `cargo run --release --example delayed_mpi`; across
//! ranks: `cargo build --release --features mpi --example delayed_mpi &&
//! mpirun -n 4 target/release/examples/delayed_mpi`. The graph code is the
//! same; only the call that computes it changes (`compute_on(&world, …)`).

use parallel_runtime::graph::{compute_on, compute_on_root, last_cluster_stats};
use parallel_runtime::prelude::*;

/// Summary statistics of one chunk: (count, sum, sum of squares, max).
type Stats = (u64, f64, f64, f64);

#[delayed]
fn load(chunk: u64) -> Vec<f64> {
    (0..10_000u64)
        .map(|i| ((chunk * 10_000 + i) as f64 * 0.001).sin() * 100.0)
        .collect()
}

#[delayed]
fn clean(xs: Vec<f64>) -> Vec<f64> {
    xs.into_iter().filter(|x| x.abs() < 99.0).collect()
}

#[delayed]
fn summarize(xs: Vec<f64>) -> Stats {
    let n = xs.len() as u64;
    let sum = xs.iter().sum();
    let sq = xs.iter().map(|x| x * x).sum();
    let max = xs.iter().copied().fold(f64::MIN, f64::max);
    (n, sum, sq, max)
}

#[delayed]
fn merge(parts: Vec<Stats>) -> Stats {
    parts.iter().fold((0, 0.0, 0.0, f64::MIN), |a, b| {
        (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3.max(b.3))
    })
}

/// The graph: 16 chunks loaded, cleaned and summarized, then merged.
fn pipeline() -> Delayed<Stats> {
    merge(
        (0..16)
            .map(|i| summarize(clean(load(i))))
            .collect::<Vec<_>>(),
    )
}

#[mpi_main]
fn main(world: Comm) -> Result<(), DelayedError> {
    // One machine: the shared thread pool of this process.
    let here = pipeline().compute()?;
    // Across the ranks (a world of one rank without mpirun): every rank
    // built the same graph and gets the result.
    let everywhere = compute_on(&world, pipeline())?;
    assert_eq!(here.0, everywhere.0);
    assert!((here.1 - everywhere.1).abs() <= 1e-9 * here.1.abs().max(1.0));
    let stats = last_cluster_stats().expect("a compute across ranks ran");
    println!(
        "rank {} of {}: ran {} tasks, sent {} results, received {}",
        world.rank(),
        world.size(),
        stats.tasks,
        stats.sent,
        stats.received
    );
    // Only rank 0 prints: the result is not broadcast.
    if let Some((n, sum, sq, max)) = compute_on_root(&world, 0, pipeline())? {
        let mean = sum / n as f64;
        let sd = (sq / n as f64 - mean * mean).sqrt();
        println!("{n} values: mean {mean:.4}, sd {sd:.4}, max {max:.4}");
        assert_eq!(n, here.0);
    }
    Ok(())
}
