use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: &Comm, rank: usize) {
    let _ = (world, rank);
}
