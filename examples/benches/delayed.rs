//! Benchmark of `#[delayed]`: per-task cost of building and computing
//! graphs of trivial tasks (a wide map-reduce and a long chain) against
//! Dask's threaded scheduler in the same run, peak memory per node, and
//! the speedup on the pool for 10 ms tasks.
//!
//! Run: `cargo bench -p parallel-examples --bench delayed`
//! (`BENCH_QUICK=1` for a fast smoke run, `BENCH_NO_DASK=1` to skip Dask;
//! prints markdown tables for docs/performance.md).
//!
//! Dask is run through `python3 -c` when `import dask` works; its times
//! are end to end too (building the `delayed` objects plus
//! `dask.compute(..., scheduler="threads")`).

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use parallel_examples::busy_work;
use parallel_runtime::graph::compute_with;
use parallel_runtime::prelude::*;

#[delayed]
fn inc(x: u64) -> u64 {
    x + 1
}

#[delayed]
fn total(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

/// About 10 ms of floating-point work on one core.
#[delayed]
fn ten_ms(seed: u64, iters: u32) -> f64 {
    busy_work(seed, iters)
}

#[delayed]
fn sum_f(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// `n - 1` independent `inc` tasks and one `total` over all of them.
    Wide,
    /// `n` `inc` tasks, each consuming the previous one.
    Chain,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Wide => "wide map-reduce",
            Shape::Chain => "long chain",
        }
    }
}

/// Builds and computes one graph of `n` tasks; returns (build, compute+free)
/// seconds.
fn run(shape: Shape, n: usize, backend: Backend) -> (f64, f64) {
    let t0 = Instant::now();
    let (graph, expect) = match shape {
        Shape::Wide => {
            let parts: Vec<Delayed<u64>> = (0..n as u64 - 1).map(inc).collect();
            (total(parts), (1..n as u64).sum::<u64>())
        }
        Shape::Chain => {
            let mut x = inc(0);
            for _ in 1..n {
                x = inc(x);
            }
            (x, n as u64)
        }
    };
    let t1 = Instant::now();
    let got = compute_with(backend, black_box(graph)).expect("trivial tasks do not fail");
    let t2 = Instant::now();
    assert_eq!(got, expect);
    ((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const DASK: &str = r#"
import sys, time
import dask, dask.threaded
from dask import delayed
mode, shape, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def inc(x): return x + 1
def total(xs): return sum(xs)
sys.setrecursionlimit(1_000_000)
times = []
for _ in range(rounds):
    t0 = time.perf_counter()
    if mode == "delayed":
        dinc = delayed(inc, pure=False)
        if shape == "wide":
            g = delayed(total, pure=False)([dinc(i) for i in range(n - 1)])
        else:
            g = dinc(0)
            for _ in range(n - 1):
                g = dinc(g)
        (got,) = dask.compute(g, scheduler="threads", optimize_graph=False)
    else:
        # The scheduler alone, on a graph written as a dict of tasks.
        if shape == "wide":
            dsk = {("inc", i): (inc, i) for i in range(n - 1)}
            dsk["out"] = (total, [("inc", i) for i in range(n - 1)])
        else:
            dsk = {("inc", 0): (inc, 0)}
            for i in range(1, n - 1):
                dsk[("inc", i)] = (inc, ("inc", i - 1))
            dsk["out"] = (inc, ("inc", n - 2))
        got = dask.threaded.get(dsk, "out")
    expect = sum(range(1, n)) if shape == "wide" else n
    assert got == expect, (got, expect)
    times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2])
"#;

/// Dask's end-to-end seconds for one graph, or `None` if Dask is missing:
/// `delayed` objects computed with the threaded scheduler, or (`dict`) the
/// threaded scheduler alone on a graph written as a dict.
fn dask(mode: &str, shape: Shape, n: usize, rounds: usize) -> Option<f64> {
    if std::env::var_os("BENCH_NO_DASK").is_some() {
        return None;
    }
    let s = match shape {
        Shape::Wide => "wide",
        Shape::Chain => "chain",
    };
    let out = Command::new("python3")
        .args(["-c", DASK, mode, s, &n.to_string(), &rounds.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "dask {mode} {s} {n}: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn status_kib(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// In a child process: peak resident memory added by building and
/// computing one graph, per node (bytes).
fn memory_child(shape: Shape, n: usize) {
    parallel_runtime::num_threads();
    let before = status_kib("VmRSS:").unwrap_or(0.0);
    let _ = run(shape, n, Backend::Threads);
    let peak = status_kib("VmHWM:").unwrap_or(0.0);
    println!("{}", (peak - before) * 1024.0 / n as f64);
}

fn memory(shape: Shape, n: usize) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let arg = match shape {
        Shape::Wide => "wide",
        Shape::Chain => "chain",
    };
    let out = Command::new(exe)
        .args(["--memory", arg, &n.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn us(s: f64) -> String {
    format!("{:.3} µs", s * 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--memory" {
        let shape = if args[2] == "wide" {
            Shape::Wide
        } else {
            Shape::Chain
        };
        memory_child(shape, args[3].parse().expect("a node count"));
        return;
    }
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let threads = parallel_runtime::num_threads();
    let sizes: &[usize] = if quick {
        &[1_000, 100_000]
    } else {
        &[1_000, 100_000, 1_000_000]
    };

    // `BENCH_ONLY=cost|memory|speedup` runs one section.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let want = |s: &str| only.is_empty() || only == s;
    if want("cost") {
        per_task_cost(quick, threads, sizes);
    }
    if want("memory") {
        peak_memory(quick);
    }
    if want("speedup") {
        speedup(quick, threads);
    }
}

fn per_task_cost(quick: bool, threads: usize, sizes: &[usize]) {
    println!("## Per-task cost, trivial tasks ({threads} threads)\n");
    println!(
        "| shape | tasks | build / task | compute / task | **end to end / task** | end to end / task, \
         serial backend | Dask `delayed` + threaded, end to end / task | Dask threaded scheduler \
         alone (dict graph) / task | Dask ÷ ours |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for shape in [Shape::Wide, Shape::Chain] {
        for &n in sizes {
            let rounds = match n {
                0..=10_000 => 51,
                10_001..=200_000 => 9,
                _ => 5,
            };
            let rounds = if quick { rounds.min(3) } else { rounds };
            let (mut b, mut c, mut e, mut s) = (vec![], vec![], vec![], vec![]);
            let _ = run(shape, n, Backend::Threads);
            for _ in 0..rounds {
                let (build, comp) = run(shape, n, Backend::Threads);
                b.push(build);
                c.push(comp);
                e.push(build + comp);
                let (sb, sc) = run(shape, n, Backend::Serial);
                s.push(sb + sc);
            }
            let nf = n as f64;
            let ours = median(&mut e) / nf;
            let dask_rounds = if quick {
                1
            } else if n <= 10_000 {
                9
            } else {
                1
            };
            // Dask builds `delayed` graphs in quadratic time (each call
            // merges its inputs' graphs): 10^5 would take a quarter of an hour.
            let dask_delayed = (n <= 10_000)
                .then(|| dask("delayed", shape, n, dask_rounds))
                .flatten()
                .map(|t| t / nf);
            let dask_dict = (n <= 100_000)
                .then(|| dask("dict", shape, n, dask_rounds))
                .flatten()
                .map(|t| t / nf);
            let best = dask_dict.or(dask_delayed);
            println!(
                "| {} | {n} | {} | {} | **{}** | {} | {} | {} | {} |",
                shape.name(),
                us(median(&mut b) / nf),
                us(median(&mut c) / nf),
                us(ours),
                us(median(&mut s) / nf),
                dask_delayed.map_or("not run".into(), us),
                dask_dict.map_or("not run".into(), us),
                best.map_or("".into(), |d| format!("{:.0}×", d / ours)),
            );
        }
    }
}

fn peak_memory(quick: bool) {
    println!("\n## Peak memory per node, 10^6 tasks\n");
    println!("| shape | peak resident memory added / node |");
    println!("|---|---:|");
    for shape in [Shape::Wide, Shape::Chain] {
        let n = if quick { 100_000 } else { 1_000_000 };
        match memory(shape, n) {
            Some(b) => println!("| {} ({n} tasks) | {b:.0} B |", shape.name()),
            None => println!("| {} | not measured |", shape.name()),
        }
    }
}

fn speedup(quick: bool, threads: usize) {
    println!("\n## Speedup for 10 ms tasks (threads vs serial backend)\n");
    // Calibrate about 10 ms of work.
    let mut iters = 100_000u32;
    for _ in 0..3 {
        let t = Instant::now();
        black_box(busy_work(1, iters));
        let el = t.elapsed().as_secs_f64();
        iters = ((iters as f64) * 0.010 / el).max(1.0) as u32;
    }
    let tasks = if quick { 8 } else { 40 };
    let graph = || sum_f((0..tasks).map(|i| ten_ms(i, iters)).collect::<Vec<_>>());
    let rounds = if quick { 1 } else { 9 };
    // Three sides, interleaved round by round: the serial backend, the
    // threads backend, and rayon's `par_iter` over the same work (what the
    // machine gives two threads at that moment).
    let mut t = [vec![], vec![], vec![]];
    let side = |k: usize| {
        let start = Instant::now();
        match k {
            0 => {
                black_box(compute_with(Backend::Serial, graph()).expect("no failure"));
            }
            1 => {
                black_box(compute_with(Backend::Threads, graph()).expect("no failure"));
            }
            _ => {
                use rayon::prelude::*;
                let v: Vec<f64> = (0..tasks)
                    .into_par_iter()
                    .map(|i| busy_work(i, iters))
                    .collect();
                black_box(v.iter().sum::<f64>());
            }
        }
        start.elapsed().as_secs_f64()
    };
    for r in 0..rounds {
        for k in 0..3 {
            let k = (k + r) % 3;
            t[k].push(side(k));
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let b: Vec<f64> = t.iter().map(|v| best(v)).collect();
    let m: Vec<f64> = t.iter_mut().map(|v| median(v)).collect();
    println!(
        "| tasks | threads | serial backend | threads backend | speedup (medians) | \
         speedup (best of {rounds}) | rayon `par_iter`, same work: speedup (medians) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {tasks} × 10 ms + 1 sum | {threads} | {:.0} ms | {:.0} ms | **{:.2}×** | {:.2}× | {:.2}× |",
        m[0] * 1e3,
        m[1] * 1e3,
        m[0] / m[1],
        b[0] / b[1],
        m[0] / m[2],
    );
}
