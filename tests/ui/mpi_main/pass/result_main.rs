use parallel_runtime::prelude::*;

#[derive(Equivalence, Clone, Copy)]
#[mpi(crate = "::parallel_runtime::mpi::rsmpi")]
struct Cell {
    density: f64,
    velocity: [f64; 3],
}

/// Docs and attributes on `main` are kept.
#[mpi_main(threading = "serialized")]
#[allow(clippy::needless_return)]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    let cells = [Cell { density: 1.0, velocity: [0.0; 3] }; 4];
    let mut got = cells;
    world.bcast_buf(0, &mut got)?;
    assert_eq!(got[0].density, cells[0].density);
    return Ok(());
}
