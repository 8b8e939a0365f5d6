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

use std::time::{Duration, Instant};

use parallel_runtime::prelude::*;

/// Sleeps stand for real work, as in the tutorial.
const WORK: Duration = Duration::from_millis(50);

#[delayed]
fn inc(x: i64) -> i64 {
    std::thread::sleep(WORK);
    x + 1
}

#[delayed]
fn add(x: i64, y: i64) -> i64 {
    std::thread::sleep(WORK);
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
    assert!(built < WORK, "building a graph runs nothing");
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
    // The plain function is still there.
    assert_eq!(inc::call(1), 2);

    // 2. Parallelize a for loop.
    let data = [1, 2, 3, 4, 5, 6, 7, 8];
    let results: Vec<Delayed<i64>> = data.iter().map(|&x| inc(x)).collect();
    let total = sum(results);
    let t = Instant::now();
    let total = total.compute()?;
    let took = t.elapsed();
    let threads = parallel_runtime::num_threads();
    println!(
        "sum(inc(x) for x in data) = {total} in {took:?} on {threads} threads \
         (serially: {:?})",
        WORK * data.len() as u32
    );
    assert_eq!(total, 44);
    if threads >= 2 {
        // Eight 50 ms tasks on two or more threads finish well before 400 ms.
        assert!(took < WORK * 7, "tasks ran concurrently: {took:?}");
    }

    // 3. Several results at once, sharing one graph: `dask.compute(a, b)`.
    let a = inc(10);
    let b = add(&a, 100);
    let (a, b) = compute((a, b))?;
    assert_eq!((a, b), (11, 111));
    println!("compute((a, b)) = ({a}, {b})");
    Ok(())
}
