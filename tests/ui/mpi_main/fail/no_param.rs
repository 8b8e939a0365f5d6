use parallel_runtime::prelude::*;

#[mpi_main]
fn main() {}
