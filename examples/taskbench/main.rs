//! Task Bench on `#[delayed]` graphs, on one process with the threads
//! backend: the Rust side of `bench/taskbench/run.sh`, which computes the
//! METG from the times printed here.
//!
//! ```text
//! taskbench [--patterns trivial,stencil_1d,tree] [--width W] [--steps S]
//!           [--iters 65536,32768,...] [--reps R]
//! taskbench --check
//! ```
//!
//! For each pattern and kernel size it builds and computes the graph `R`
//! times and prints the best time as
//! `ours PATTERN CORES WIDTH STEPS ITERS TASKS SECONDS` (build and compute)
//! and `ours_compute ...` (compute alone), after the kernel's best time on
//! one core as `ours peak CORES 0 0 ITERS 1 SECONDS`. Every run's result is checked
//! against a serial walk of the graph: a wrong result exits with status 1
//! and prints no time. `--check` runs small graphs of every pattern on
//! both backends and checks them (CI); `TASKBENCH_CORRUPT=1` spoils each
//! result, to show that the check fails.

use std::process::ExitCode;
use std::time::Instant;

use parallel_examples::taskbench::{
    build, checksum, peak_seconds, reference, Args, Pattern, CHECK_SIZES, PEAK_ITERS,
};
use parallel_runtime::graph::compute_with;
use parallel_runtime::prelude::*;

fn parse() -> Result<Args, String> {
    Args {
        patterns: Pattern::ALL.to_vec(),
        width: None,
        steps: 1000,
        iters: (0..=16).rev().map(|k| 1 << k).collect(),
        reps: 5,
        check: false,
    }
    .parse()
}

/// Builds and computes one graph; returns (build + compute, compute)
/// seconds, or why the result is wrong.
fn run_once(
    backend: Backend,
    pattern: Pattern,
    width: usize,
    steps: usize,
    iters: u32,
    expect: u64,
) -> Result<(f64, f64), String> {
    let t0 = Instant::now();
    let sinks = build(pattern, width, steps, iters);
    let t1 = Instant::now();
    let values = compute_with(backend, sinks).map_err(|e| e.to_string())?;
    let t2 = Instant::now();
    let mut got = checksum(&values);
    if std::env::var_os("TASKBENCH_CORRUPT").is_some() {
        got ^= 1;
    }
    if got != expect {
        return Err(format!(
            "{} width {width} steps {steps} iters {iters} on {backend:?}: checksum {got:#x}, \
             the serial walk gives {expect:#x}",
            pattern.name()
        ));
    }
    Ok(((t2 - t0).as_secs_f64(), (t2 - t1).as_secs_f64()))
}

fn check() -> Result<(), String> {
    for pattern in Pattern::ALL {
        for (width, steps) in CHECK_SIZES {
            let expect = reference(pattern, width, steps);
            for backend in [Backend::Serial, Backend::Threads] {
                run_once(backend, pattern, width, steps, 16, expect)?;
            }
        }
        println!(
            "ok: {} (widths 1, 2, 3, 5; serial and threads)",
            pattern.name()
        );
    }
    Ok(())
}

/// The kernel's rate on one core, undisturbed: the best of many short
/// calls (the ideal against which efficiency is measured, robust to a
/// shared machine's load).
fn peak(cores: usize) {
    let best = peak_seconds();
    for who in ["ours", "ours_compute"] {
        println!("{who} peak {cores} 0 0 {PEAK_ITERS} 1 {best:.9}");
    }
}

fn sweep(a: &Args) -> Result<(), String> {
    let cores = parallel_runtime::num_threads();
    let width = a.width.unwrap_or(cores);
    peak(cores);
    for &pattern in &a.patterns {
        let expect = reference(pattern, width, a.steps);
        let tasks = pattern.tasks(width, a.steps);
        for &iters in &a.iters {
            let (mut all, mut comp) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..a.reps {
                let (e, c) = run_once(Backend::Threads, pattern, width, a.steps, iters, expect)?;
                all = all.min(e);
                comp = comp.min(c);
            }
            let row = |who: &str, s: f64| {
                println!(
                    "{who} {} {cores} {} {} {iters} {tasks} {s:.9}",
                    pattern.name(),
                    width,
                    a.steps
                )
            };
            row("ours", all);
            row("ours_compute", comp);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = parse().and_then(|a| if a.check { check() } else { sweep(&a) });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taskbench: {e}");
            ExitCode::FAILURE
        }
    }
}
