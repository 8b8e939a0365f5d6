//! Point to point: a token passed around a ring, then an exchange of arrays
//! on the buffer path, then nonblocking messages.
//!
//! ```python
//! if rank == 0: comm.send({"hops": 0}, dest=1, tag=11)
//! token = comm.recv(source=rank - 1, tag=11)
//! comm.Send(array, dest=right); comm.Recv(buffer, source=left)
//! req = comm.isend(obj, dest=right); obj = comm.irecv(source=left).wait()
//! r = comm.Irecv(buffer, source=left); s = comm.Isend(array, dest=right); MPI.Request.Waitall([r, s])
//! ```
//!
//! Run: `mpirun -n 4 target/release/examples/mpi_p2p` (also runs as one rank).

use std::collections::BTreeMap;

use parallel_runtime::mpi::{self, Request};
use parallel_runtime::prelude::*;

#[mpi_main]
fn main(world: Comm) -> Result<(), mpi::Error> {
    let (rank, size) = (world.rank(), world.size());
    let right = (rank + 1) % size;
    let left = (rank + size - 1) % size;

    // Object path: a map travels once around the ring, each rank signing it.
    let mut token: BTreeMap<usize, String> = BTreeMap::new();
    if rank == 0 {
        token.insert(0, "start".into());
        if size > 1 {
            world.send(&token, right, 11)?;
            token = world.recv(left, 11)?;
        }
        assert_eq!(token.len(), size, "every rank signed the token");
        println!("the token went around {size} ranks: {token:?}");
    } else {
        let (mut t, status): (BTreeMap<usize, String>, _) = world.recv_status(left, 11)?;
        assert_eq!(status.source(), left);
        t.insert(rank, format!("rank {rank}"));
        world.send(&t, right, 11)?;
    }

    // Buffer path: each rank sends 1000 floats to the right, receives from the left.
    let mine: Vec<f64> = (0..1000).map(|i| (rank * 1000 + i) as f64).collect();
    let mut got = vec![0.0f64; 1000];
    let status = world.sendrecv_buf(&mine, right, 7, &mut got, left, 7)?;
    assert_eq!(status.count(), 1000);
    assert_eq!(got[0], (left * 1000) as f64);
    assert_eq!(got[999], (left * 1000 + 999) as f64);

    // Nonblocking: post the receive first, then send, then wait on both.
    let incoming = world.irecv::<String>(left, 3)?;
    let outgoing = world.isend(&format!("from {rank}"), right, 3)?;
    let mut requests = vec![incoming];
    let (_, text) = Request::wait_any(&mut requests)?.expect("one request");
    outgoing.wait()?;
    assert_eq!(text, format!("from {left}"));

    // Nonblocking on the buffer path: the requests own the vectors while MPI
    // uses them (no copy) and give them back.
    let recv = world.irecv_buf(vec![0u64; 512], left, 4)?;
    let send = world.isend_buf((0..500u64).map(|i| i * rank as u64).collect(), right, 4)?;
    let (filled, status) = recv.wait()?;
    let (sent_back, _) = send.wait()?;
    let status = status.expect("a receive reports its status");
    assert_eq!((status.source(), status.count()), (left, 500));
    assert_eq!(filled[499], 499 * left as u64);
    assert_eq!(
        filled[500..],
        [0u64; 12],
        "the rest of the vector is untouched"
    );
    assert_eq!(sent_back.len(), 500, "the send gives its vector back");
    // A receive that no message will match is cancelled when dropped.
    drop(world.irecv_buf(vec![0u8; 4], left, 999)?);

    world.barrier()?;
    if rank == 0 {
        println!("point to point: ok on {size} ranks");
    }
    Ok(())
}
