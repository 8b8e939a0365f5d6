//! The MPI benchmark at thread level single (`MPI_Init`, as plain C
//! programs use): see `pingpong.rs`.

#[path = "common.rs"]
mod common;

use parallel_runtime::prelude::*;

#[mpi_main(threading = "single")]
fn main(world: Comm) -> Result<(), parallel_runtime::mpi::Error> {
    common::run(world, "rust-single")
}
