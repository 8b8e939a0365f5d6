use parallel_runtime::prelude::*;

#[mpi_main(threads = 4, threading = "full", threading = "single")]
fn main(world: Comm) {
    let _ = world.rank();
}
