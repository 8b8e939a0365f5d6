//! Hybrid MPI + threads: `#[parallel_map]` inside `#[mpi_main]`. With
//! `backend = "mpi"` the items are split across the ranks, each rank runs
//! its share on its own thread pool (sized to its share of the node's
//! cores), and every rank gets all results in input order.
//!
//! Run: `mpirun -n 2 target/release/examples/mpi_hybrid` (also runs as one rank).

use parallel_examples::busy_work;
use parallel_runtime::prelude::*;

#[parallel_map(backend = "mpi")]
fn simulate(seed: u64, iters: &u32) -> (u64, f64) {
    (seed, busy_work(seed, *iters))
}

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    let (rank, size) = (world.rank(), world.size());
    let iters = 20_000u32;
    let t = parallel_runtime::mpi::wtime();
    let results = simulate::map(0..400u64, &iters);
    let elapsed = parallel_runtime::mpi::wtime() - t;

    // Every rank has every result, in input order, equal to the serial ones.
    assert_eq!(results.len(), 400);
    for (i, (seed, y)) in results.iter().enumerate() {
        assert_eq!(*seed, i as u64);
        assert_eq!(*y, busy_work(i as u64, iters));
    }
    // And all ranks agree.
    let checksum: f64 = results.iter().map(|(_, y)| y).sum();
    let agree = world.allgather(&checksum)?;
    assert!(agree.iter().all(|&c| c == checksum));
    println!(
        "rank {rank}/{size}: {} threads, 400 items in {elapsed:.2} s",
        parallel_runtime::num_threads()
    );
    Ok(())
}
