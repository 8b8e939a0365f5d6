//! Monte Carlo π with `all_reduce`: each rank throws its own points, the
//! counts are summed on every rank.
//!
//! ```python
//! inside = sum(random() ** 2 + random() ** 2 <= 1 for _ in range(n))
//! total = comm.allreduce(inside, op=MPI.SUM)
//! pi = 4 * total / (n * size)
//! ```
//!
//! Run: `mpirun -n 4 target/release/examples/mpi_pi` (also runs as one rank).

use parallel_examples::SplitMix64;
use parallel_runtime::mpi;
use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    let (rank, size) = (world.rank(), world.size());
    let n: u64 = 4_000_000;
    let t = mpi::wtime();
    let mut rng = SplitMix64::new(1000 + rank as u64);
    let mut inside = 0u64;
    for _ in 0..n {
        let (x, y) = (rng.next_f64(), rng.next_f64());
        if x * x + y * y <= 1.0 {
            inside += 1;
        }
    }
    let total = world.all_reduce(inside, Op::Sum)?;
    let pi = 4.0 * total as f64 / (n * size as u64) as f64;
    // Every rank holds the same sum.
    let agree = world.all_reduce(total, Op::Max)? == world.all_reduce(total, Op::Min)?;
    assert!(agree);
    assert!((pi - std::f64::consts::PI).abs() < 0.005, "pi = {pi}");
    if rank == 0 {
        println!(
            "pi = {pi:.5} from {} points on {size} ranks in {:.2} s",
            n * size as u64,
            mpi::wtime() - t
        );
    }
    Ok(())
}
