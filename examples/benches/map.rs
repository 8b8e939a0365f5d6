//! Benchmark of `#[parallel_map]` against hand-written rayon, a serial loop
//! and Python's `multiprocessing.Pool.map`, and of the call-site map
//! (`map_fn`) against the attribute, measured side by side in one run.
//!
//! Run: `cargo bench -p parallel-examples --bench map`
//! (set `BENCH_QUICK=1` for a fast smoke run, `BENCH_ONLY=map_fn` for the
//! call-site map's rows alone, `BENCH_ONLY=imap` for the
//! streaming rows alone; prints a markdown table).
//!
//! A small harness instead of criterion: what we need is ratios of rounds
//! interleaved in one process (ours, then the baseline, alternately), so the
//! noise of a shared 2-core machine hits both sides alike, and a markdown
//! table to paste into docs/performance.md; criterion measures one function
//! at a time and reports absolute times.

use std::hint::black_box;
use std::time::Instant;

use parallel_examples::bench::{fmt_time, inc, side_by_side, ten_us, ten_us_iters};
use parallel_examples::busy_work;
use parallel_runtime::prelude::*;
use rayon::prelude::*;

#[parallel_map]
fn sq(x: &f64) -> f64 {
    x * x
}

fn main() {
    if let Some(n) = std::env::var_os(STREAM_RSS_CHILD) {
        return stream_rss_child(n.to_str().and_then(|n| n.parse().ok()).unwrap_or(0));
    }
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let rounds = if quick { 3 } else { 31 };
    let threads = parallel_runtime::num_threads();
    let mut rows = Vec::new();
    // `BENCH_ONLY=imap`: the streaming rows alone (issue 10).
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "imap") {
        stream_rows(&mut rows, rounds, quick, ten_us_iters(quick));
        return print_rows(threads, rounds, rows);
    }

    // `BENCH_ONLY=map_fn`: the call-site map's rows alone (issue 10).
    let only_map_fn = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "map_fn");

    // 1. The annotation against hand-written rayon, trivial item.
    for n in [100_000usize, 10_000_000]
        .into_iter()
        .filter(|_| !only_map_fn)
    {
        let v: Vec<u64> = (0..n as u64).collect();
        let (ours, rayon) = side_by_side(
            if n > 1_000_000 {
                rounds.min(15)
            } else {
                rounds
            },
            || {
                black_box(inc::map(black_box(&v)));
            },
            || {
                black_box(
                    black_box(&v)
                        .par_iter()
                        .map(|x| x + 1)
                        .collect::<Vec<u64>>(),
                );
            },
        );
        rows.push(format!(
            "| `inc::map` vs rayon `par_iter().map().collect()`, `x + 1`, 10^{} items | {} | {} | **{:.3}** (target ≤ 1.05) |",
            (n as f64).log10().round(),
            fmt_time(ours),
            fmt_time(rayon),
            ours / rayon
        ));
        if n == 10_000_000 {
            rows.push(format!(
                "| per-item cost of `map`, trivial item (10^7 items, {threads} threads) | {:.2} ns/item | | |",
                ours / n as f64 * 1e9
            ));
        }
    }

    // The call-site map (`map_fn`, for a function that cannot be annotated)
    // against the attribute, trivial item: the same engine, so the same cost.
    for n in [100_000usize, 10_000_000] {
        let v: Vec<u64> = (0..n as u64).collect();
        let at_call_site = map_fn("inc", |x: &u64| x + 1);
        let (ours, attr) = side_by_side(
            if n > 1_000_000 {
                rounds.min(15)
            } else {
                rounds
            },
            || {
                black_box(at_call_site.map(black_box(&v)));
            },
            || {
                black_box(inc::map(black_box(&v)));
            },
        );
        rows.push(format!(
            "| `map_fn(\"inc\", |x| x + 1).map` vs `#[parallel_map] inc::map`, 10^{} items | {} | {} | **{:.3}** (target ≤ 1.05) |",
            (n as f64).log10().round(),
            fmt_time(ours),
            fmt_time(attr),
            ours / attr
        ));
    }
    if only_map_fn {
        return print_rows(threads, rounds, rows);
    }

    // Calibrate ~10 µs per item.
    let iters = ten_us_iters(quick);
    let n = if quick { 2_000 } else { 20_000 };
    let seeds: Vec<u64> = (0..n as u64).collect();
    let (ours, rayon) = side_by_side(
        rounds.min(11),
        || {
            black_box(ten_us::map(&seeds, iters));
        },
        || {
            black_box(
                seeds
                    .par_iter()
                    .map(|s| busy_work(*s, iters))
                    .collect::<Vec<f64>>(),
            );
        },
    );
    rows.push(format!(
        "| `ten_us::map` vs rayon, 10 µs item, {n} items | {} | {} | **{:.3}** (target ≤ 1.05) |",
        fmt_time(ours),
        fmt_time(rayon),
        ours / rayon
    ));
    // 2. Against the serial loop.
    let (ours, serial) = side_by_side(
        rounds.min(11),
        || {
            black_box(ten_us::map(&seeds, iters));
        },
        || {
            black_box(seeds.iter().map(|s| ten_us(s, iters)).collect::<Vec<f64>>());
        },
    );
    rows.push(format!(
        "| `ten_us::map` vs serial loop, 10 µs item, {n} items | {} | {} | **{:.2}× faster** (target ≥ 1.8× on 2 threads) |",
        fmt_time(ours),
        fmt_time(serial),
        serial / ours
    ));

    // Tracing: off (the rows above: one relaxed load per call) against on.
    let trace_file = std::env::temp_dir().join(format!("bench-trace-{}.json", std::process::id()));
    for (label, n) in [("10 µs item", 20_000usize), ("`x + 1`", 1_000_000)] {
        let v: Vec<u64> = (0..n as u64).collect();
        let run = |traced: bool| {
            let guard =
                traced.then(|| parallel_runtime::trace::start(&trace_file).expect("trace file"));
            if n == 20_000 {
                black_box(ten_us::map(&v, iters));
            } else {
                black_box(inc::map(&v));
            }
            drop(guard);
        };
        let (on, off) = side_by_side(rounds.min(11), || run(true), || run(false));
        rows.push(format!(
            "| `map` with `PARALLEL_TRACE` on vs off, {label}, {n} items | {} | {} | **{:.3}** (cost of recording; off is the default) |",
            fmt_time(on),
            fmt_time(off),
            on / off
        ));
    }
    let _ = std::fs::remove_file(&trace_file);

    // 4. Deterministic reduce against rayon's sum.
    for n in [100_000usize, 10_000_000] {
        let v: Vec<f64> = (0..n).map(|i| i as f64 * 1e-3).collect();
        let (ours, rayon) = side_by_side(
            rounds.min(15),
            || {
                black_box(sq::reduce(black_box(&v), 0.0, |a, b| a + b));
            },
            || {
                black_box(black_box(&v).par_iter().map(|x| x * x).sum::<f64>());
            },
        );
        rows.push(format!(
            "| `sq::reduce` (bitwise reproducible) vs rayon `map().sum()`, 10^{} items | {} | {} | **{:.3}** (target ≤ 1.10) |",
            (n as f64).log10().round(),
            fmt_time(ours),
            fmt_time(rayon),
            ours / rayon
        ));
    }

    // 3. Python's multiprocessing.Pool.map on this machine.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pool_map.py");
    let py_n = if quick { "100000" } else { "1000000" };
    let py = std::process::Command::new("python3")
        .args([script, py_n, &threads.to_string()])
        .output();
    let per_item_ours = {
        let v: Vec<u64> = (0..1_000_000u64).collect();
        let (t, _) = side_by_side(
            rounds.min(15),
            || {
                black_box(inc::map(&v));
            },
            || {},
        );
        t / 1e6 * 1e9
    };
    match py {
        Ok(out) if out.status.success() => {
            let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let pool = line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("pool_map_ns_per_item="))
                .and_then(|v| v.parse::<f64>().ok());
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name))
                    .and_then(|v| v.parse::<f64>().ok())
            };
            if let Some(pool) = pool {
                rows.push(format!(
                    "| per-item cost, 10^6 trivial items: `inc::map` vs Python `Pool({threads}).map` (default chunking) | {per_item_ours:.2} ns | {pool:.0} ns | **{:.0}× lower** (target ≥ 100×) |",
                    pool / per_item_ours
                ));
            }
            if let Some(pool1) = field("pool_map_chunksize1_ns_per_item=") {
                rows.push(format!(
                    "| per-item cost: `inc::map` vs Python `Pool({threads}).map(chunksize=1)` | {per_item_ours:.2} ns | {pool1:.0} ns | **{:.0}× lower** |",
                    pool1 / per_item_ours
                ));
            }
        }
        _ => rows.push("| Python `Pool.map` | not measured: `python3` did not run | | |".into()),
    }

    stream_rows(&mut rows, rounds, quick, iters);
    print_rows(threads, rounds, rows);
}

/// Prints the table of `rows`.
fn print_rows(threads: usize, rounds: usize, rows: Vec<String>) {
    println!("Measured with {threads} threads, {rounds} interleaved rounds, medians.\n");
    println!("| comparison | ours | baseline | ratio |");
    println!("|---|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
}

// Streaming maps (issue 10): `imap` and `imap_unordered` against `map`, and
// the resident memory of `imap` over a long generator.

#[parallel_map]
fn succ(x: u64) -> u64 {
    x + 1
}

/// Set in the child process that measures `imap`'s resident memory: the
/// number of items of its generator.
const STREAM_RSS_CHILD: &str = "BENCH_STREAM_RSS_ITEMS";

/// Rows of `imap` and `imap_unordered` against `map`, then `imap`'s peak
/// resident memory over a long generator, measured in a fresh process.
///
/// Both sides deliver every result to the caller the same way: `map`'s
/// vector is consumed by `for_each`, as is each stream (a `for_each` is a
/// `fold`, where the pool runs the next window while this one is consumed).
/// The last rows consume `imap` item by item with `next()`, as a `for`
/// loop does, where the pool idles while a window is consumed.
fn stream_rows(rows: &mut Vec<String>, rounds: usize, quick: bool, iters: u32) {
    let n = if quick { 100_000 } else { 1_000_000 };
    let v: Vec<u64> = (0..n as u64).collect();
    let m = if quick { 2_000 } else { 20_000 };
    let seeds: Vec<u64> = (0..m as u64).collect();
    // (10 µs items?, the stream's label, consumed item by item?)
    let shapes = [
        (false, "imap(…).for_each(…)", false),
        (false, "imap_unordered(…).for_each(…)", false),
        (false, "imap` in a `for` loop, `next()", true),
        (true, "imap(…).for_each(…)", false),
        (true, "imap_unordered(…).for_each(…)", false),
        (true, "imap` in a `for` loop, `next()", true),
    ];
    for (ten, label, by_next) in shapes {
        let unordered = label.starts_with("imap_unordered");
        let run = |stream: bool| match (stream, ten, unordered, by_next) {
            (false, false, ..) => inc::map(&v).into_iter().for_each(consume),
            (false, true, ..) => ten_us::map(&seeds, iters).into_iter().for_each(consume),
            (true, false, _, true) => {
                for r in inc::imap(&v) {
                    consume(r);
                }
            }
            (true, true, _, true) => {
                for r in ten_us::imap(&seeds, iters) {
                    consume(r);
                }
            }
            (true, false, false, _) => inc::imap(&v).for_each(consume),
            (true, false, true, _) => inc::imap_unordered(&v).for_each(consume),
            (true, true, false, _) => ten_us::imap(&seeds, iters).for_each(consume),
            (true, true, true, _) => ten_us::imap_unordered(&seeds, iters).for_each(consume),
        };
        let (stream, map) = side_by_side(rounds.min(11), || run(true), || run(false));
        let (f, item, items) = if ten {
            ("ten_us", "10 µs item", m)
        } else {
            ("inc", "`x + 1`", n)
        };
        let target = if by_next {
            "(the pool idles while a window is consumed)"
        } else {
            "(target ≤ 1.2)"
        };
        rows.push(format!(
            "| `{f}::{label}` vs `{f}::map(…).into_iter().for_each(…)`, {item}, {items} items | {:.2} ns/item | {:.2} ns/item | **{:.3}** {target} |",
            stream / items as f64 * 1e9,
            map / items as f64 * 1e9,
            stream / map
        ));
    }
    // Short streams, back to back: each call pays its windows' start (a
    // wake-up of the pool per window) on few items.
    let short: Vec<u64> = (0..10_000).collect();
    let calls = if quick { 20 } else { 200 };
    let (stream, map) = side_by_side(
        rounds.min(11),
        || (0..calls).for_each(|_| inc::imap(&short).for_each(consume)),
        || (0..calls).for_each(|_| inc::map(&short).into_iter().for_each(consume)),
    );
    let items = (calls * short.len()) as f64;
    rows.push(format!(
        "| `inc::imap(…).for_each(…)` vs `inc::map(…).into_iter().for_each(…)`, `x + 1`, {calls} calls of {} items back to back | {:.2} ns/item | {:.2} ns/item | **{:.3}** (target ≤ 1.2) |",
        short.len(),
        stream / items * 1e9,
        map / items * 1e9,
        stream / map
    ));
    let items: u64 = if quick { 10_000_000 } else { 1_000_000_000 };
    let child = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .env(STREAM_RSS_CHILD, items.to_string())
            .output()
    });
    let out = child.ok().filter(|o| o.status.success());
    let line = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    rows.push(match line {
        Some(line) => format!(
            "| peak resident memory of `succ::imap` over a generator of {items} items (`map` would hold {:.2} GB of items and results) | {line} | | |",
            items as f64 * 16e-9
        ),
        None => "| peak resident memory of `imap` | not measured: the child process failed | | |".into(),
    });
}

/// Keeps the optimizer from dropping a result.
fn consume<T>(r: T) {
    black_box(r);
}

/// The child process: `imap` over a generator of `n` items, then its peak
/// resident memory (`VmHWM`) and the time taken.
fn stream_rss_child(n: u64) {
    let t = Instant::now();
    // A generator: nothing of it exists before `imap` pulls it.
    let generator = (0..n).map(|i| i ^ 0x5555);
    let sum = succ::imap(generator).fold(0u64, u64::wrapping_add);
    black_box(sum);
    let secs = t.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map_or("unknown".to_owned(), |v| v.trim().to_owned());
    println!(
        "{hwm} peak RSS ({:.1} s, {:.2} ns/item)",
        secs,
        secs / n as f64 * 1e9
    );
}
