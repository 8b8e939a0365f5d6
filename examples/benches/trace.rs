//! Benchmark of recording a trace (`PARALLEL_TRACE`, `trace::start`): the
//! cost per recorded event at 1, 2 and 16 threads, and a map with tracing
//! on against the same map with it off, side by side in one run.
//!
//! Run: `cargo bench -p parallel-examples --bench trace`
//! (set `BENCH_QUICK=1` for a fast smoke run; prints a markdown table and
//! the machine's load average, since the rows are only comparable as
//! ratios measured in the same run).
//!
//! Per-event cost: a map of trivial items with `Dynamic` schedule and
//! chunks of one item records one event per item, so (time with tracing on
//! − time off) / items is what one event costs, writing it to the file
//! included (each round starts and stops its own trace).

use std::hint::black_box;

use parallel_examples::bench::{fmt_time, inc, side_by_side, ten_us, ten_us_iters};
use parallel_runtime::prelude::*;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs `body`, with a trace of its own (started and stopped around it)
/// when `traced`.
fn traced_run(traced: bool, file: &std::path::Path, body: impl FnOnce()) {
    let guard = traced.then(|| parallel_runtime::trace::start(file).expect("trace file"));
    body();
    drop(guard);
}

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let rounds = if quick { 3 } else { 15 };
    let file = std::env::temp_dir().join(format!("bench-trace-{}.json", std::process::id()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let before = load_average();
    let mut rows = Vec::new();

    // Per-event cost: one event per item.
    let n = if quick { 20_000 } else { 200_000 };
    let v: Vec<u64> = (0..n as u64).collect();
    for threads in [1usize, 2, 16] {
        let opts = MapOptions::new()
            .threads(threads)
            .schedule(Schedule::Dynamic)
            .chunk_size(1);
        let run = |traced: bool| {
            traced_run(traced, &file, || {
                black_box(inc::map_with(&opts, black_box(&v)));
            })
        };
        let (on, off) = side_by_side(rounds, || run(true), || run(false));
        rows.push(format!(
            "| one event per item (`Dynamic`, chunks of 1), `x + 1`, {n} items, {threads} threads | {} | {} | **{:.0} ns/event** ({:.2}×) |",
            fmt_time(on),
            fmt_time(off),
            (on - off) / n as f64 * 1e9,
            on / off
        ));
    }

    // The goals: the default schedule at 16 threads.
    let sixteen = MapOptions::new().threads(16);
    let n = if quick { 100_000 } else { 1_000_000 };
    let v: Vec<u64> = (0..n as u64).collect();
    let run = |traced: bool| {
        traced_run(traced, &file, || {
            black_box(inc::map_with(&sixteen, black_box(&v)));
        })
    };
    let (on, off) = side_by_side(rounds, || run(true), || run(false));
    rows.push(format!(
        "| `inc::map` on vs off, `x + 1`, {n} items, 16 threads | {} | {} | **{:.3}** (target ≤ 2) |",
        fmt_time(on),
        fmt_time(off),
        on / off
    ));

    let iters = ten_us_iters(quick);
    let n = if quick { 2_000 } else { 20_000 };
    let seeds: Vec<u64> = (0..n as u64).collect();
    let run = |traced: bool| {
        traced_run(traced, &file, || {
            black_box(ten_us::map_with(&sixteen, &seeds, iters));
        })
    };
    let (on, off) = side_by_side(rounds, || run(true), || run(false));
    rows.push(format!(
        "| `ten_us::map` on vs off, 10 µs item, {n} items, 16 threads | {} | {} | **{:.3}** (target ≤ 1.05) |",
        fmt_time(on),
        fmt_time(off),
        on / off
    ));
    let _ = std::fs::remove_file(&file);

    println!(
        "load average {before} before, {} after ({cores} cores available)\n",
        load_average()
    );
    println!("| case | tracing on | off | cost |\n|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
