use parallel_runtime::prelude::*;

#[mpi_main]
fn run(world: Comm) {
    let _ = world.rank();
}

fn main() {}
