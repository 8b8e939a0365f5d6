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
//! included (each round starts and stops its own trace, and the stop
//! waits until the trace's writer thread has written every event).
//!
//! Two ways of tracing each map of the goals:
//! - **own trace**: each traced round starts and stops a trace of its own,
//!   so a 1–2 ms map also pays creating the file and closing it;
//! - **one trace**: as with `PARALLEL_TRACE`, one trace holds many maps: the
//!   traced rounds come in blocks, each block one trace started before its
//!   rounds and stopped after them (outside the timing), alternating with
//!   blocks of untraced rounds. Each map still hands its events to the
//!   trace's writer thread when it returns, as under `PARALLEL_TRACE` (the
//!   writer writes them while the next rounds run; the stop after a block
//!   waits for it, outside the timing).
//!
//! The cost of starting and stopping a trace (creating the file, writing
//! its closing `]`) is a row of its own.

use std::hint::black_box;

use parallel_examples::bench::{fmt_time, inc, median, side_by_side, ten_us, ten_us_iters};
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

/// Median times (s) of `body` with tracing on and off, the traced rounds
/// recorded in one trace per block of rounds (started before the block and
/// stopped after it, outside the timing), blocks on and off alternating.
fn one_trace(rounds: usize, file: &std::path::Path, mut body: impl FnMut()) -> (f64, f64) {
    let block = rounds.div_ceil(3).max(1);
    body();
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for b in 0..rounds.div_ceil(block) {
        let mut timed = |traced: bool, out: &mut Vec<f64>| {
            let guard = traced.then(|| parallel_runtime::trace::start(file).expect("trace file"));
            for _ in 0..block {
                let t = std::time::Instant::now();
                body();
                out.push(t.elapsed().as_secs_f64());
            }
            drop(guard);
        };
        let first = b % 2 == 0;
        timed(first, if first { &mut on } else { &mut off });
        timed(!first, if first { &mut off } else { &mut on });
    }
    (median(&mut on), median(&mut off))
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

    // The goals: the default schedule at 16 threads, traced both
    // ways (see the module's documentation).
    let sixteen = MapOptions::new().threads(16);
    let n = if quick { 100_000 } else { 1_000_000 };
    let v: Vec<u64> = (0..n as u64).collect();
    let iters = ten_us_iters(quick);
    let m = if quick { 2_000 } else { 20_000 };
    let seeds: Vec<u64> = (0..m as u64).collect();
    let trivial = || {
        black_box(inc::map_with(&sixteen, black_box(&v)));
    };
    let ten = || {
        black_box(ten_us::map_with(&sixteen, &seeds, iters));
    };
    let cases: [(String, &dyn Fn(), &str); 2] = [
        (
            format!("`inc::map`, `x + 1`, {n} items, 16 threads"),
            &trivial,
            "≤ 2",
        ),
        (
            format!("`ten_us::map`, 10 µs items, {m} items, 16 threads"),
            &ten,
            "≤ 1.05",
        ),
    ];
    for (case, body, goal) in cases {
        // How many events one such map records.
        traced_run(true, &file, body);
        let events = parallel_runtime::trace::read(&file)
            .map_or(0, |e| e.iter().filter(|e| e.ph == "X").count());
        let (on, off) = one_trace(rounds, &file, body);
        rows.push(format!(
            "| {case} ({events} events), one trace over many maps (as with `PARALLEL_TRACE`) | {} | {} | **{:.3}** (target {goal}) |",
            fmt_time(on),
            fmt_time(off),
            on / off
        ));
        let run = |traced: bool| traced_run(traced, &file, body);
        let (on, off) = side_by_side(rounds, || run(true), || run(false));
        rows.push(format!(
            "| {case}, each traced round its own trace (start + stop in the time) | {} | {} | {:.3} |",
            fmt_time(on),
            fmt_time(off),
            on / off
        ));
    }

    // What starting and stopping a trace costs by itself.
    let mut t = Vec::new();
    for _ in 0..rounds * 4 {
        let start = std::time::Instant::now();
        drop(parallel_runtime::trace::start(&file).expect("trace file"));
        t.push(start.elapsed().as_secs_f64());
    }
    rows.push(format!(
        "| `trace::start` + stop of an empty trace (creating the file, writing `[]`) | {} | — | — |",
        fmt_time(median(&mut t))
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
