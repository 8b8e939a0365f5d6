//! Hello from every rank: the first lesson of an mpi4py course.
//!
//! ```python
//! from mpi4py import MPI
//! comm = MPI.COMM_WORLD
//! print(f"hello from rank {comm.Get_rank()} of {comm.Get_size()} on {MPI.Get_processor_name()}")
//! ```
//!
//! Run: `cargo run --release --example mpi_hello` (one rank), or with MPI:
//! `cargo build --release --features mpi --example mpi_hello &&
//! mpirun -n 4 target/release/examples/mpi_hello`

use parallel_runtime::mpi;
use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), mpi::Error> {
    let (rank, size) = (world.rank(), world.size());
    let host = mpi::processor_name();
    println!("hello from rank {rank} of {size} on {host}");

    // Every rank reports to rank 0, which checks that all of them did.
    let greetings = world.gather(0, &(rank, host))?;
    if let Some(all) = greetings {
        let ranks: Vec<usize> = all.iter().map(|(r, _)| *r).collect();
        assert_eq!(ranks, (0..size).collect::<Vec<_>>());
        println!("rank 0 heard from all {size} ranks");
    }
    world.barrier()?;
    Ok(())
}
