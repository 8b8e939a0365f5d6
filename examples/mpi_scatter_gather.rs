//! Scatter the work, compute, gather the results.
//!
//! ```python
//! chunks = [list(range(i * 10, i * 10 + 10)) for i in range(size)] if rank == 0 else None
//! mine = comm.scatter(chunks, root=0)
//! squares = comm.gather(sum(x * x for x in mine), root=0)
//! comm.Scatter(sendbuf, recvbuf, root=0); comm.Gather(recvbuf, result, root=0)
//! ```
//!
//! Run: `mpirun -n 4 target/release/examples/mpi_scatter_gather` (also runs as one rank).

use parallel_runtime::mpi;
use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), mpi::Error> {
    let (rank, size) = (world.rank(), world.size());

    // Object path: lists of different lengths are fine.
    let chunks = (rank == 0).then(|| {
        (0..size)
            .map(|r| (0..=r as u64).collect::<Vec<u64>>())
            .collect::<Vec<_>>()
    });
    let mine: Vec<u64> = world.scatter(0, chunks)?;
    assert_eq!(mine.len(), rank + 1);
    let partial: u64 = mine.iter().map(|x| x * x).sum();
    let all = world.gather(0, &partial)?;
    if let Some(all) = &all {
        let expected: Vec<u64> = (0..size as u64)
            .map(|r| (0..=r).map(|x| x * x).sum())
            .collect();
        assert_eq!(all, &expected);
    }
    let everyone: Vec<u64> = world.allgather(&partial)?;
    assert_eq!(everyone.len(), size);

    // Buffer path: blocks of 256 floats.
    const N: usize = 256;
    let data: Vec<f64> = (0..N * size).map(|i| i as f64).collect();
    let mut block = vec![0.0f64; N];
    world.scatter_buf(0, (rank == 0).then_some(&data[..]), &mut block)?;
    assert_eq!(block[0], (rank * N) as f64);
    for x in &mut block {
        *x *= 2.0;
    }
    let mut result = vec![0.0f64; if rank == 0 { N * size } else { 0 }];
    world.gather_buf(0, &block, (rank == 0).then_some(&mut result[..]))?;
    if rank == 0 {
        assert!(result.iter().enumerate().all(|(i, &x)| x == 2.0 * i as f64));
        println!("scatter/gather: ok on {size} ranks");
    }
    Ok(())
}
