//! Task Bench on `#[delayed]` graphs across MPI ranks (`compute_on`): row
//! (b) of `bench/taskbench/run.sh`, the same graphs as `taskbench` (built by
//! `parallel_examples::taskbench::build`), run under `mpirun -n R`.
//!
//! ```text
//! mpirun -n R taskbench_ranks [--patterns stencil_1d,...] [--width W]
//!                             [--steps S] [--iters 4096,...] [--reps N]
//! mpirun -n R taskbench_ranks --check
//! ```
//!
//! Every rank builds the graph; the sinks are XOR-ed in `R` parts and the
//! parts on rank 0 (`compute_on_root`), so that only a few values move
//! besides the ones the pattern sends between neighbours. Rank 0 prints
//! `ours_ranks PATTERN R WIDTH STEPS ITERS TASKS SECONDS` (build and
//! compute, the best of N) and `ours_ranks_compute …` (compute alone), after
//! the kernel's best time on one core as `ours_ranks peak R 0 0 ITERS 1
//! SECONDS`; and, per pattern, the cost of a task across ranks with an
//! empty kernel (`overhead PATTERN R: … µs per task`). Every result is
//! checked against a serial walk; a wrong one exits with status 1.

use std::time::Instant;

use parallel_examples::taskbench::{
    build, checksum, peak_seconds, reference, Args, Pattern, CHECK_SIZES, PEAK_ITERS,
};
use parallel_runtime::graph::{compute_on_root, delayed_fn};
use parallel_runtime::prelude::*;

fn parse() -> Result<Args, String> {
    Args {
        patterns: vec![Pattern::Stencil1d],
        width: None,
        steps: 1000,
        iters: (0..=13).rev().map(|k| 1 << k).collect(),
        reps: 3,
        check: false,
    }
    .parse()
}

/// The graph's checksum as one task: the sinks XOR-ed in `parts` groups
/// (each group where most of its sinks are), then the groups.
fn xor_tree(sinks: Vec<Delayed<u64>>, parts: usize) -> Delayed<u64> {
    let xor = delayed_fn("xor", |xs: Vec<u64>| checksum(&xs));
    let per = sinks.len().div_ceil(parts.max(1)).max(1);
    let mut groups: Vec<Delayed<u64>> = Vec::new();
    let mut it = sinks.into_iter().peekable();
    while it.peek().is_some() {
        groups.push(xor.call(it.by_ref().take(per).collect::<Vec<_>>()));
    }
    xor.call(groups)
}

/// Builds and computes one graph across the ranks; on rank 0, (build +
/// compute, compute) seconds, or why the result is wrong.
fn run_once(
    world: &Comm,
    pattern: Pattern,
    width: usize,
    steps: usize,
    iters: u32,
    expect: u64,
) -> Result<Option<(f64, f64)>, String> {
    world.barrier().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let total = xor_tree(build(pattern, width, steps, iters), world.size());
    let t1 = Instant::now();
    let got = compute_on_root(world, 0, total).map_err(|e| e.to_string())?;
    let t2 = Instant::now();
    let Some(mut got) = got else { return Ok(None) };
    if std::env::var_os("TASKBENCH_CORRUPT").is_some() {
        got ^= 1;
    }
    if got != expect {
        return Err(format!(
            "{} width {width} steps {steps} iters {iters} across {} ranks: checksum {got:#x}, \
             the serial walk gives {expect:#x}",
            pattern.name(),
            world.size()
        ));
    }
    Ok(Some(((t2 - t0).as_secs_f64(), (t2 - t1).as_secs_f64())))
}

fn check(world: &Comm) -> Result<(), String> {
    for pattern in Pattern::ALL {
        for (width, steps) in CHECK_SIZES {
            let expect = reference(pattern, width, steps);
            run_once(world, pattern, width, steps, 16, expect)?;
        }
        if world.rank() == 0 {
            println!(
                "ok: {} across {} ranks (widths 1, 2, 3, 5)",
                pattern.name(),
                world.size()
            );
        }
    }
    Ok(())
}

fn sweep(world: &Comm, a: &Args) -> Result<(), String> {
    let ranks = world.size();
    let width = a.width.unwrap_or(ranks);
    if world.rank() == 0 {
        let best = peak_seconds();
        for who in ["ours_ranks", "ours_ranks_compute"] {
            println!("{who} peak {ranks} 0 0 {PEAK_ITERS} 1 {best:.9}");
        }
    }
    for &pattern in &a.patterns {
        let expect = reference(pattern, width, a.steps);
        let tasks = pattern.tasks(width, a.steps);
        for &iters in a.iters.iter().chain([0].iter()) {
            let (mut all, mut comp) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..a.reps {
                if let Some((e, c)) = run_once(world, pattern, width, a.steps, iters, expect)? {
                    all = all.min(e);
                    comp = comp.min(c);
                }
            }
            if world.rank() != 0 {
                continue;
            }
            if iters == 0 {
                // An empty kernel: what a task costs across ranks, per core.
                let per_task = comp * ranks as f64 / tasks as f64 * 1e6;
                eprintln!(
                    "overhead {} {ranks} ranks: {per_task:.2} µs per task (compute only, \
                     wall × ranks ÷ tasks, {tasks} tasks)",
                    pattern.name()
                );
                continue;
            }
            let row = |who: &str, s: f64| {
                println!(
                    "{who} {} {ranks} {width} {} {iters} {tasks} {s:.9}",
                    pattern.name(),
                    a.steps
                )
            };
            row("ours_ranks", all);
            row("ours_ranks_compute", comp);
        }
    }
    Ok(())
}

#[mpi_main]
fn main(world: Comm) -> Result<(), String> {
    let a = parse()?;
    let result = if a.check {
        check(&world)
    } else {
        sweep(&world, &a)
    };
    result.map_err(|e| format!("taskbench_ranks (rank {}): {e}", world.rank()))
}
