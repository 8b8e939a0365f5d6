//! The Rust side of the MPMD interoperability job with mpi4py
//! (`interop/peer.py` is rank 0, this program rank 1):
//!
//! ```text
//! mpirun -n 1 python3 interop/peer.py : -n 1 target/release/interop_rank
//! ```
//!
//! Both sides exchange float64 arrays through the buffer path, in both
//! directions, and check the values they get.

use parallel_runtime::prelude::*;

const N: usize = 1000;

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    if world.size() != 2 || world.rank() != 1 {
        return Err(format!(
            "run as rank 1 of 2 beside interop/peer.py (this is rank {} of {})",
            world.rank(),
            world.size()
        )
        .into());
    }
    // Rank 0 is mpi4py: each buffer collective must be one MPI call, as
    // its `comm.Bcast`, `comm.Scan`… are.
    let world = world.with_foreign_peers();
    // Python -> Rust: a = 0.5 * i.
    let mut a = vec![0.0f64; N];
    let status = world.recv_buf(&mut a, 0, 1)?;
    assert_eq!(status.count(), N);
    for (i, x) in a.iter().enumerate() {
        assert_eq!(*x, 0.5 * i as f64, "a[{i}] from Python");
    }
    // Rust -> Python: 2a + 1, then sqrt(i).
    let b: Vec<f64> = a.iter().map(|x| 2.0 * x + 1.0).collect();
    world.send_buf(&b, 0, 2)?;
    let c: Vec<f64> = (0..N).map(|i| (i as f64).sqrt()).collect();
    world.send_buf(&c, 0, 3)?;
    // Collectives across the two languages.
    let total = world.all_reduce(2.5f64, Op::Sum)?;
    assert_eq!(total, 4.0);
    let mut table = vec![0.0f64; 16];
    world.bcast_buf(0, &mut table)?;
    assert!(table.iter().enumerate().all(|(i, &x)| x == -(i as f64)));
    // Nonblocking collectives and probes across the two languages.
    let mine: Vec<f64> = (0..8).map(|i| 10.0 * i as f64).collect();
    let summed = world.iall_reduce_buf(mine, Op::Sum)?.wait()?;
    assert!(summed
        .iter()
        .enumerate()
        .all(|(i, &x)| x == 11.0 * i as f64));
    let grid = world.ibcast_buf(0, vec![0.0f64; 5])?.wait()?;
    assert_eq!(grid, [0.0, 0.25, 0.5, 0.75, 1.0]);
    let status = world.probe_buf::<f64>(0, 5)?;
    assert_eq!((status.source(), status.count()), (0, 23));
    let mut extra = vec![0.0f64; status.count()];
    world.recv_buf(&mut extra, 0, 5)?;
    assert!(extra.iter().all(|&x| x == 3.0));
    world.send_buf(&[1.0f64; 37], 0, 4)?;
    // Issue 11's collectives, as peer.py calls them.
    let send = [10.0, 11.0, 12.0, 20.0, 21.0]; // 3 elements to rank 0, 2 to itself
    let mut recv = vec![-1.0; 4];
    world.all_to_allv_buf((&send, &[3, 2], &[0, 3]), (&mut recv, &[2, 2], &[0, 2]))?;
    assert_eq!(recv, [1.0, 2.0, 20.0, 21.0]);
    let mut prefix = [0.0; 2];
    world.scan_buf(&[0.5, 0.25], &mut prefix, Op::Sum)?;
    assert_eq!(prefix, [1.5, 2.25]);
    let mut mine = [0i64; 2];
    world.reduce_scatter_block_buf(&[16, 32, 64, 128], &mut mine, Op::BOr)?;
    assert_eq!(mine, [4 | 64, 8 | 128]);
    println!(
        "interop_rank: ok (received {N} float64 from mpi4py, sent {} back)",
        2 * N
    );
    Ok(())
}
