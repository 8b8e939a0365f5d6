//! Issue 11's collectives on real MPI (`MPI_Alltoall(v)`, `MPI_Scatterv`,
//! `MPI_Gatherv`, `MPI_Allgatherv`, `MPI_Scan`, `MPI_Exscan`,
//! `MPI_Reduce_scatter(_block)`). `Comm` checked every count and
//! displacement against the buffers and MPI's `int`, so the buffers passed
//! here end at the furthest block, which MPI's counts describe.

use rsmpi::datatype::{Partition, PartitionMut};
use rsmpi::traits::{Communicator, CommunicatorCollectives, Root};
use rsmpi::Count;

use super::{count, Rsmpi};
use crate::mpi::error::Error;
use crate::mpi::limits::max_count;
use crate::mpi::op::{zeroed, AnyBitPattern, Reduction, Scalar};
use crate::mpi::transport::collectives::Collectives;

/// Counts or displacements as MPI's `int`s (checked by `Comm`).
fn counts(v: &[usize]) -> Vec<Count> {
    v.iter().map(|&n| count(n)).collect()
}

/// `buf` up to the end of its furthest block, cut into MPI's partition.
fn parts<'a, T: Scalar>(
    (buf, c, d): (&'a [T], &[usize], &[usize]),
) -> Partition<'a, [T], Vec<Count>, Vec<Count>> {
    let end = c.iter().zip(d).map(|(c, d)| c + d).max().unwrap_or(0);
    Partition::new(&buf[..end], counts(c), counts(d))
}

/// [`parts`] of a receive buffer.
fn parts_mut<'a, T: Scalar>(
    (buf, c, d): (&'a mut [T], &[usize], &[usize]),
) -> PartitionMut<'a, [T], Vec<Count>, Vec<Count>> {
    let end = c.iter().zip(d).map(|(c, d)| c + d).max().unwrap_or(0);
    PartitionMut::new(&mut buf[..end], counts(c), counts(d))
}

impl Collectives for Rsmpi {
    fn all_to_all_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        _op: &'static str,
    ) -> Result<(), Error> {
        self.comm.all_to_all_into(send, recv);
        Ok(())
    }

    fn all_to_allv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: (&[T], &[usize], &[usize]),
        recv: (&mut [T], &[usize], &[usize]),
        _op: &'static str,
    ) -> Result<(), Error> {
        self.comm
            .all_to_all_varcount_into(&parts(send), &mut parts_mut(recv));
        Ok(())
    }

    fn scatterv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: &mut [T],
        _op: &'static str,
    ) -> Result<(), Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        match send {
            Some(send) => root_proc.scatter_varcount_into_root(&parts(send), recv),
            None => root_proc.scatter_varcount_into(recv),
        }
        Ok(())
    }

    fn gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<(&mut [T], &[usize], &[usize])>,
        _op: &'static str,
    ) -> Result<(), Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        match recv {
            Some(recv) => root_proc.gather_varcount_into_root(send, &mut parts_mut(recv)),
            None => root_proc.gather_varcount_into(send),
        }
        Ok(())
    }

    fn all_gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: (&mut [T], &[usize], &[usize]),
        _op: &'static str,
    ) -> Result<(), Error> {
        self.comm
            .all_gather_varcount_into(send, &mut parts_mut(recv));
        Ok(())
    }

    /// In pieces of `max_count` elements; rank 0 of an exclusive scan
    /// receives into a scratch buffer (MPI leaves it undefined), so that
    /// its `recv` keeps its values.
    fn scan_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        exclusive: bool,
        _op: &'static str,
    ) -> Result<(), Error> {
        let op = reduction.mpi_op();
        let p = max_count();
        let mut scratch = Vec::new();
        for (s, r) in send.chunks(p).zip(recv.chunks_mut(p)) {
            if !exclusive {
                self.comm.scan_into(s, r, &op);
            } else if self.rank == 0 {
                scratch.resize_with(s.len(), zeroed::<T>);
                self.comm.exclusive_scan_into(s, &mut scratch[..], &op);
            } else {
                self.comm.exclusive_scan_into(s, r, &op);
            }
        }
        Ok(())
    }

    /// `MPI_Reduce_scatter_block` when every count is the same, else
    /// `MPI_Reduce_scatter`.
    fn reduce_scatter_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        block_counts: &[usize],
        reduction: O,
        _op: &'static str,
    ) -> Result<(), Error> {
        let op = reduction.mpi_op();
        if block_counts.windows(2).all(|w| w[0] == w[1]) {
            self.comm.reduce_scatter_block_into(send, recv, &op);
            return Ok(());
        }
        use rsmpi::raw::AsRaw;
        let c = counts(block_counts);
        // SAFETY: `send` holds the sum of `c` elements and `recv` this
        // rank's count (checked by `Comm`); the datatype is `T`'s, the
        // operation and the communicator are live for the call, which is
        // blocking.
        unsafe {
            rsmpi::ffi::MPI_Reduce_scatter(
                send.as_ptr().cast(),
                recv.as_mut_ptr().cast(),
                c.as_ptr(),
                T::equivalent_datatype().as_raw(),
                op.as_raw(),
                self.comm.as_raw(),
            );
        }
        Ok(())
    }
}
