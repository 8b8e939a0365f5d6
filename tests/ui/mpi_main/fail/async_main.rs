use parallel_runtime::prelude::*;

#[mpi_main]
async fn main(world: Comm) {
    let _ = world.rank();
}
