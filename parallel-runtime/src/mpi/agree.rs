//! The buffer collectives that need the same length on every rank check it
//! first, on every backend.
//!
//! MPI leaves ranks that pass different lengths to such a collective
//! undefined, and Open MPI 4.1 shows every kind of undefined: measured on
//! 2 ranks, a rank passing 10 elements where rank 0 passes 2,000 made
//! `all_gather_buf` and `scan_buf` corrupt the heap (its shared-memory
//! transport writes a longer block past a shorter buffer), `bcast_buf` and
//! `all_reduce_buf` end the job with `MPI_ERR_TRUNCATE` and no rank named,
//! and `gather_buf` and `reduce_buf` return `Ok` with values that are
//! silently wrong. One `MPI_Allreduce` of two numbers before the
//! collective tells every rank whether all lengths agree, so that all of
//! them return the same [`Error::Uneven`] (naming a rank that differs) or
//! none does. The local world does the same, so that a program fails there
//! as it would under `mpirun`.
//!
//! A job whose other ranks are not parallel-runtime programs (an mpi4py or
//! C rank) would not make that extra call: [`Comm::with_foreign_peers`]
//! leaves it out, so that each buffer collective is one MPI call again.

use super::comm::Comm;
use super::error::Error;
use super::op::Op;
use super::transport::Transport;

impl Comm {
    /// This communicator, for a job whose other ranks may be programs of
    /// another kind (mpi4py, C): its buffer-path collectives (`bcast_buf`,
    /// `all_reduce_buf`, `scan_buf`…) are then each exactly one MPI call,
    /// which meets the other rank's `comm.Bcast`, `comm.Scan`…, without
    /// the check that every rank passes the same length ([`Error::Uneven`]),
    /// which is one more collective call on every rank. As in MPI, ranks
    /// that pass different lengths are then the program's error, and not
    /// detected (docs/mpi.md, "Lengths compared on every rank").
    /// Communicators made from it (`split`, `dup`, `create_cart`) keep this.
    ///
    /// ```no_run
    /// use parallel_runtime::prelude::*;
    ///
    /// #[mpi_main]
    /// fn main(world: Comm) -> Result<(), parallel_runtime::mpi::Error> {
    ///     // Rank 0 is a Python script: `mpirun -n 1 python3 peer.py : -n 1 ./this`.
    ///     let world = world.with_foreign_peers();
    ///     let mut table = [0.0f64; 4];
    ///     world.bcast_buf(0, &mut table)?; // meets peer.py's comm.Bcast
    ///     Ok(())
    /// }
    /// ```
    pub fn with_foreign_peers(mut self) -> Comm {
        self.foreign_peers = true;
        self
    }

    /// Whether every rank passes `len` elements as `what` to collective
    /// `op`: `Ok`, or [`Error::Uneven`] on every rank. Every rank calls
    /// it, as it calls the collective.
    pub(super) fn check_lens_agree(
        &self,
        op: &'static str,
        what: &'static str,
        len: usize,
    ) -> Result<(), Error> {
        if self.size() < 2 || self.foreign_peers {
            return Ok(());
        }
        let mine = len as u64;
        // The largest length and the largest complement: the smallest.
        let mut out = [0u64; 2];
        self.t
            .all_reduce_into(&[mine, !mine], &mut out, Op::Max, op)?;
        if out[0] == !out[1] {
            return Ok(());
        }
        let mut lens = vec![0u64; self.size()];
        self.t.all_gather_into(&[mine], &mut lens, op)?;
        let (other_rank, &other) = lens
            .iter()
            .enumerate()
            .find(|&(_, &l)| l != mine)
            .unwrap_or_else(|| unreachable!("the lengths differ, so one differs from this one"));
        Err(Error::Uneven {
            rank: self.rank(),
            op,
            what,
            mine: len,
            other_rank,
            other: other as usize,
        })
    }
}
