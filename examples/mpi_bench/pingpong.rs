//! The MPI benchmark, Rust side: ping-pong latency (8 B) and bandwidth
//! (1 MiB) between ranks 0 and 1 on the buffer path and the object path,
//! then `all_reduce` of one `f64` on all ranks. `bench/mpi/pingpong.c` (C)
//! and `bench/mpi/pingpong.py` (mpi4py) measure the same; every figure is
//! the best of 5 repetitions. Results: `docs/performance.md`.
//!
//! ```text
//! cargo build --release --features parallel-runtime/mpi --example mpi_pingpong
//! mpirun -n 2 --bind-to core target/release/examples/mpi_pingpong
//! ```
//!
//! or `bash bench/mpi/run.sh`, which runs all three, alternated.

#[path = "common.rs"]
mod common;

use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), parallel_runtime::mpi::Error> {
    common::run(world, "rust-funneled")
}
