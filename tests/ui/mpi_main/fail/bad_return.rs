use parallel_runtime::prelude::*;

struct Opaque;

#[mpi_main]
fn main(world: Comm) -> Result<u32, Opaque> {
    Ok(world.rank() as u32)
}
