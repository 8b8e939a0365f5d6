//! The first Dask tutorial ("Delayed"), in Rust:
//!
//! ```python
//! from dask import delayed
//! @delayed
//! def inc(x):  sleep(0.05); return x + 1
//! @delayed
//! def add(x, y): sleep(0.05); return x + y
//!
//! x = inc(1); y = inc(2); z = add(x, y)      # nothing has run yet
//! z.visualize("intro.svg"); z.compute()      # 5
//!
//! data = [1, 2, 3, 4, 5, 6, 7, 8]
//! total = delayed(sum)([inc(x) for x in data])
//! total.compute()                            # 44
//! ```
//!
//! Run: `cargo run --release --example delayed_intro`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parallel_runtime::prelude::*;

/// Sleeps stand for real work, as in the tutorial.
const WORK: Duration = Duration::from_millis(50);

/// Calls that have run, and the most that ran at the same time: the example
/// checks what ran, never how long it took (it must pass on a loaded
/// machine and with `PARALLEL_BACKEND=serial`).
static CALLS: AtomicUsize = AtomicUsize::new(0);
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

/// Stands for the work of one task and counts it.
fn work() {
    CALLS.fetch_add(1, Ordering::SeqCst);
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(WORK);
    RUNNING.fetch_sub(1, Ordering::SeqCst);
}

#[delayed]
fn inc(x: i64) -> i64 {
    work();
    x + 1
}

#[delayed]
fn add(x: i64, y: i64) -> i64 {
    work();
    x + y
}

#[delayed]
fn sum(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Three tasks: two independent `inc`, then `add`.
    let t = Instant::now();
    let x = inc(1);
    let y = inc(2);
    let z = add(x, y);
    let built = t.elapsed();
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        0,
        "building a graph runs nothing"
    );
    println!("z = {z:?}: {} tasks, built in {built:?}", z.graph().len());
    println!("dependencies of {}: {:?}", z.key(), z.dependencies());

    let svg = std::env::temp_dir().join("delayed_intro.svg");
    let engine = z.write_svg(&svg)?;
    println!("picture: {} (drawn by {engine:?})", svg.display());
    println!("{}", z.to_dot());

    let t = Instant::now();
    let z = z.compute()?;
    println!("z.compute() = {z} in {:?}", t.elapsed());
    assert_eq!(z, 5);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3, "each task ran once");
    // The plain function is still there.
    assert_eq!(inc::call(1), 2);

    // 2. Parallelize a for loop.
    let data = [1, 2, 3, 4, 5, 6, 7, 8];
    let results: Vec<Delayed<i64>> = data.iter().map(|&x| inc(x)).collect();
    let total = sum(results);
    let t = Instant::now();
    MOST_AT_ONCE.store(0, Ordering::SeqCst);
    let total = total.compute()?;
    let took = t.elapsed();
    let threads = parallel_runtime::num_threads();
    println!(
        "sum(inc(x) for x in data) = {total} in {took:?} on {threads} threads, \
         at most {} tasks at once (serially: {:?})",
        MOST_AT_ONCE.load(Ordering::SeqCst),
        WORK * data.len() as u32
    );
    assert_eq!(total, 44);
    // 3 tasks and one plain call above, 8 `inc` here (`sum` is not counted).
    assert_eq!(CALLS.load(Ordering::SeqCst), 3 + 1 + data.len());

    // 3. Several results at once, sharing one graph: `dask.compute(a, b)`.
    let a = inc(10);
    let b = add(&a, 100);
    let (a, b) = compute((a, b))?;
    assert_eq!((a, b), (11, 111));
    println!("compute((a, b)) = ({a}, {b})");
    Ok(())
}
