//! Reductions: sums, extremes, and a reduction with your own function.
//!
//! ```python
//! total = comm.reduce(x, op=MPI.SUM, root=0)
//! hi = comm.allreduce(x, op=MPI.MAX)
//! longest = comm.allreduce(word, op=lambda a, b: a if len(a) >= len(b) else b)
//! comm.Allreduce(local_hist, hist, op=MPI.SUM)
//! ```
//!
//! Run: `mpirun -n 4 target/release/examples/mpi_reduce` (also runs as one rank).

use parallel_runtime::mpi;
use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), mpi::Error> {
    let (rank, size) = (world.rank(), world.size());
    let x = rank as i64 + 1;

    let total = world.reduce(0, x, Op::Sum)?;
    if rank == 0 {
        assert_eq!(total, Some((size * (size + 1) / 2) as i64));
    } else {
        assert_eq!(total, None);
    }
    assert_eq!(world.all_reduce(x, Op::Max)?, size as i64);
    assert_eq!(world.all_reduce(x as f64, Op::Min)?, 1.0);
    assert_eq!(world.all_reduce(2u64, Op::Prod)?, 1u64 << size);

    // Any serde type, any function (folded in rank order, so it need not commute).
    let word = "x".repeat(rank + 1);
    let longest = world.all_reduce_with(word, |a, b| if a.len() >= b.len() { a } else { b })?;
    assert_eq!(longest.len(), size);

    // Buffer path, element-wise: a histogram summed over ranks.
    let mut local = [0u32; 8];
    local[rank % 8] = 1;
    let mut hist = [0u32; 8];
    world.all_reduce_buf(&local, &mut hist, Op::Sum)?;
    assert_eq!(hist.iter().sum::<u32>(), size as u32);

    if rank == 0 {
        println!("reduce: ok on {size} ranks");
    }
    Ok(())
}
