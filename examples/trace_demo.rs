//! Traces for the report: a small program of two maps, a compute with a
//! failing task, and a `try_map` with a failing item (each a section of
//! the report, the failures marked); or, with `--million`, a map of 10^6
//! items in chunks of one, a trace of a million events (the report's
//! scaling check in CI).
//!
//! Run: `cargo run --release --example trace_demo -- demo.json` then
//! `cargo run --release -p parallel-report -- demo.json`.

use std::path::PathBuf;

use clap::Parser;
use parallel_runtime::graph::FailureKind;
use parallel_runtime::prelude::*;

/// Records a trace for `parallel-report`.
#[derive(Parser)]
struct Args {
    /// Where to write the trace (Chrome trace-event JSON).
    out: PathBuf,
    /// Record one map of 10^6 items in chunks of one item instead: 10^6
    /// events.
    #[arg(long)]
    million: bool,
}

#[parallel_map]
fn square(x: u64) -> u64 {
    parallel_examples::busy_work(x, 2_000).to_bits() % 7 + x * x
}

#[parallel_map]
fn cube(x: u64) -> u64 {
    parallel_examples::busy_work(x, 3_000).to_bits() % 7 + x * x * x
}

#[parallel_map]
fn parse(s: String) -> Result<u64, std::num::ParseIntError> {
    s.parse()
}

#[parallel_map]
fn one(x: u64) -> u64 {
    x + 1
}

#[delayed]
fn load(i: u64) -> Result<u64, String> {
    std::hint::black_box(parallel_examples::busy_work(i, 20_000));
    if i == 2 {
        return Err(format!("cannot read part {i}"));
    }
    Ok(i)
}

#[delayed]
fn clean(x: u64) -> u64 {
    std::hint::black_box(parallel_examples::busy_work(x, 10_000));
    x
}

#[delayed]
fn combine(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let trace = parallel_runtime::trace::start(&args.out)?;
    if args.million {
        let opts = MapOptions::new().schedule(Schedule::Dynamic).chunk_size(1);
        let out = one::map_with(&opts, 0..1_000_000u64);
        assert_eq!(out.len(), 1_000_000);
        assert_eq!(out[999_999], 1_000_000);
    } else {
        let squares = square::map(0..2_000u64);
        let cubes = cube::map(0..2_000u64);
        assert_eq!((squares.len(), cubes.len()), (2_000, 2_000));
        // Part 2 fails: its `clean` and the `combine` are cancelled.
        let parts: Vec<_> = (0..4u64).map(|i| clean(load(i))).collect();
        let err = combine(parts).compute().expect_err("load-2 fails");
        assert_eq!((err.function(), err.kind()), ("load", FailureKind::Error));
        let err = parse::try_map(["1", "2", "x", "4"].map(String::from)).expect_err("item 2 fails");
        assert_eq!(err.index(), 2);
    }
    drop(trace);
    println!("wrote {}", args.out.display());
    Ok(())
}
