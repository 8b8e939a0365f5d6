//! A run to watch in the live dashboard: a few maps and a task graph that
//! take about ten seconds in all, each checked against a serial run.
//!
//! ```sh
//! PARALLEL_DASHBOARD=127.0.0.1:8787 cargo run --release --example dashboard_demo
//! # open http://127.0.0.1:8787/ while it runs
//! ```
//!
//! Dask users know the page from `client.dashboard_link`. `--seconds N`
//! sets the length of the run (10 by default).

use std::time::{Duration, Instant};

use parallel_runtime::prelude::*;

/// The value of a piece of work: what the serial check expects.
fn value(seed: u64) -> u64 {
    seed.wrapping_mul(2654435761) % 1000
}

/// Works for about `ms` milliseconds on this core, then returns
/// [`value`]`(seed)`.
fn busy(seed: u64, ms: u64) -> u64 {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut x = seed;
    while Instant::now() < until {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    value(seed)
}

/// One simulation run (about 10 ms).
#[parallel_map]
fn simulate(seed: u64) -> u64 {
    busy(seed, 10)
}

/// One scoring of a result (about 5 ms).
#[parallel_map]
fn score(x: u64) -> u64 {
    busy(x, 5) + x % 7
}

/// A block of a task graph (about 40 ms).
#[delayed]
fn block(i: u64) -> u64 {
    busy(i, 40)
}

/// Two blocks combined (about 20 ms).
#[delayed]
fn merge(a: u64, b: u64) -> u64 {
    busy(a ^ b, 20) + a + b
}

fn seconds() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("--seconds takes a whole number of seconds")),
        None => 10,
    }
}

fn main() {
    // Starts the pool, and the dashboard that `PARALLEL_DASHBOARD` asks for.
    let threads = parallel_runtime::num_threads() as u64;
    if let Some(at) = parallel_runtime::dashboard::address() {
        println!("live dashboard on http://{at}/");
    }
    // Each round: a map, a graph and a map, about a third of a second per
    // thread each, so that the run lasts about `seconds` whatever the cores.
    let rounds = seconds().max(1);
    let start = Instant::now();
    for round in 0..rounds {
        let seeds: Vec<u64> = (0..threads * 30).map(|i| i + 1000 * round).collect();
        let simulated = simulate::map(seeds.clone());
        assert_eq!(
            simulated,
            seeds.iter().map(|&s| value(s)).collect::<Vec<_>>()
        );

        let blocks: Vec<_> = (0..threads * 6).map(|i| block(i + round)).collect();
        let mut level = blocks;
        while level.len() > 1 {
            let mut next = Vec::new();
            let mut it = level.into_iter();
            while let Some(a) = it.next() {
                next.push(match it.next() {
                    Some(b) => merge(a, b),
                    None => a,
                });
            }
            level = next;
        }
        let total = compute(level.pop().expect("one root")).expect("no task fails");
        assert!(total >= (0..threads * 6).map(|i| value(i + round)).sum::<u64>());

        let scored = score::map(simulated.clone());
        let expected: Vec<u64> = simulated.iter().map(|&x| value(x) + x % 7).collect();
        assert_eq!(scored, expected);
        println!(
            "round {}/{rounds}: {} runs simulated and scored, graph total {total} ({:.1} s)",
            round + 1,
            seeds.len(),
            start.elapsed().as_secs_f64()
        );
    }
    println!("done in {:.1} s", start.elapsed().as_secs_f64());
}
