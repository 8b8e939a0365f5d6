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
//! The v-forms take counts: one more exchange (the root's counts, or every
//! rank's) tells each rank what it will get, and an `MPI_Allreduce` makes
//! every rank agree on the first disagreement, [`Error::Counts`]: a rank
//! that sent more than its block would overrun the receiver's memory, one
//! that sent less would leave the block's end as it was, unreported.
//!
//! The same calls compare the element type's fingerprint (`f64` on one
//! rank, `f32` or `i64` on another moved the wrong number of bytes, or
//! combined the bits of one type as the other): [`Error::ElementType`].
//! `reduce_scatter_buf` compares a hash of every rank's counts.
//!
//! A job whose other ranks are not parallel-runtime programs (an mpi4py or
//! C rank) would not make that extra call: [`Comm::with_foreign_peers`]
//! leaves it out, so that each buffer collective is one MPI call again.

use super::comm::Comm;
use super::error::Error;
use super::op::Op;
use super::transport::collectives::Collectives;
use super::transport::Transport;
use crate::codec::{fingerprint_of, fnv1a, type_name_of};

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

    /// Whether the checks of this module are left out: a world of one rank
    /// has nothing to compare, foreign peers make no such calls.
    fn unchecked(&self) -> bool {
        self.size() < 2 || self.foreign_peers
    }

    /// Whether every rank passes `len` elements as `what` to collective
    /// `op`: `Ok`, or [`Error::Uneven`] on every rank. Every rank calls
    /// it, as it calls the collective.
    pub(super) fn check_lens_agree<T>(
        &self,
        op: &'static str,
        what: &'static str,
        len: usize,
    ) -> Result<(), Error> {
        if self.unchecked() {
            return Ok(());
        }
        let mine = len as u64;
        if self.same_everywhere::<T>(op, mine)? {
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

    /// The v-forms with a root (`gatherv_buf`: what each rank sends;
    /// `scatterv_buf`: what each receives): this rank's `mine` elements
    /// must be what the root's `counts` (`Some` on the root) give it. One
    /// `MPI_Scatter` of the counts and one `MPI_Allreduce`; else
    /// [`Error::Counts`] on every rank, naming the first rank that differs.
    pub(super) fn check_root_counts<T>(
        &self,
        op: &'static str,
        root: usize,
        counts: Option<&[usize]>,
        mine: usize,
        does: &'static str,
    ) -> Result<(), Error> {
        if self.unchecked() {
            return Ok(());
        }
        let all: Option<Vec<u64>> = counts.map(|c| c.iter().map(|&n| n as u64).collect());
        let mut given = [0u64];
        self.t.scatter_into(root, all.as_deref(), &mut given, op)?;
        let bad = (given[0] != mine as u64).then_some([0, mine as u64, given[0]]);
        self.counts_error::<T>(op, bad, |b, [_, n, want]| {
            format!(
                "rank {b} {does} {}; rank {root}'s counts give it {want}",
                elements(n)
            )
        })
    }

    /// `all_gatherv_buf`: every rank's `counts` must say what each rank
    /// sends (this rank sends `counts[rank()]`, checked before). One
    /// `MPI_Allgather` of what each sends and one `MPI_Allreduce`.
    pub(super) fn check_gathered_counts<T>(
        &self,
        op: &'static str,
        counts: &[usize],
    ) -> Result<(), Error> {
        if self.unchecked() {
            return Ok(());
        }
        let mut sent = vec![0u64; self.size()];
        let mine = counts[self.rank()] as u64;
        self.t.all_gather_into(&[mine], &mut sent, op)?;
        self.pair_error::<T>(op, first_difference(&sent, counts))
    }

    /// `all_to_allv_buf`: what each rank sends this one (its `send_counts`)
    /// must be what this one expects (`recv_counts`). One `MPI_Alltoall` of
    /// the counts and one `MPI_Allreduce`.
    pub(super) fn check_pair_counts<T>(
        &self,
        op: &'static str,
        send_counts: &[usize],
        recv_counts: &[usize],
    ) -> Result<(), Error> {
        if self.unchecked() {
            return Ok(());
        }
        let sc: Vec<u64> = send_counts.iter().map(|&n| n as u64).collect();
        let mut sent = vec![0u64; self.size()];
        self.t.all_to_all_into(&sc, &mut sent, op)?;
        self.pair_error::<T>(op, first_difference(&sent, recv_counts))
    }

    /// [`Error::Counts`] on every rank when `bad` (`[from, sent, expected]`)
    /// is `Some` on any: "rank b expects n elements from rank i, which
    /// sends m".
    fn pair_error<T>(&self, op: &'static str, bad: Option<[u64; 3]>) -> Result<(), Error> {
        self.counts_error::<T>(op, bad, |b, [from, sent, want]| {
            format!(
                "rank {b} expects {} from rank {from}, which sends it {sent}",
                elements(want)
            )
        })
    }

    /// [`Error::Counts`] on every rank when `bad` is `Some` on any, its
    /// detail said by `say` from the lowest such rank and its three
    /// numbers (an `MPI_Allreduce`, then a broadcast from that rank when
    /// there is one).
    fn counts_error<T>(
        &self,
        op: &'static str,
        bad: Option<[u64; 3]>,
        say: impl FnOnce(usize, [u64; 3]) -> String,
    ) -> Result<(), Error> {
        let me = if bad.is_some() {
            self.rank() as u64
        } else {
            u64::MAX
        };
        let ty = fingerprint_of::<T>();
        // The lowest bad rank; the smallest fingerprint and the smallest
        // complement (the largest).
        let mut low = [0u64; 3];
        self.t
            .all_reduce_into(&[me, ty, !ty], &mut low, Op::Min, op)?;
        if low[1] != !low[2] {
            return Err(self.types_error::<T>(op));
        }
        if low[0] == u64::MAX {
            return Ok(());
        }
        let b = low[0] as usize;
        let mut numbers = bad.unwrap_or_default();
        self.t.bcast_into(b, &mut numbers, op)?;
        Err(Error::Counts {
            rank: self.rank(),
            op,
            detail: say(b, numbers),
        })
    }
}

impl Comm {
    /// `reduce_scatter_buf`: every rank must pass the same `counts` (and
    /// element type). One `MPI_Allreduce` of a hash of them; else
    /// [`Error::Counts`] on every rank, naming the lowest rank whose counts
    /// differ from rank 0's and the first block where they do.
    pub(super) fn check_counts_agree<T>(
        &self,
        op: &'static str,
        counts: &[usize],
    ) -> Result<(), Error> {
        if self.unchecked() {
            return Ok(());
        }
        let words: Vec<u8> = counts
            .iter()
            .flat_map(|&c| (c as u64).to_le_bytes())
            .collect();
        let h = fnv1a(&words);
        if self.same_everywhere::<T>(op, h)? {
            return Ok(());
        }
        let mut hashes = vec![0u64; self.size()];
        self.t.all_gather_into(&[h], &mut hashes, op)?;
        let r = (1..self.size())
            .find(|&r| hashes[r] != hashes[0])
            .unwrap_or_else(|| unreachable!("the hashes differ, so one differs from rank 0's"));
        let mine: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
        let mut first = mine.clone();
        self.t.bcast_into(0, &mut first, op)?;
        let mut other = mine;
        self.t.bcast_into(r, &mut other, op)?;
        let i = (0..first.len())
            .find(|&i| first[i] != other[i])
            .unwrap_or(0);
        Err(Error::Counts {
            rank: self.rank(),
            op,
            detail: format!(
                "rank {r} passes counts that give rank {i} {}, where rank 0's give it {} \
                 (every rank must pass the same counts)",
                elements(other[i]),
                elements(first[i])
            ),
        })
    }

    /// Whether every rank passes the same `word` (a length, a hash of
    /// counts), with one `MPI_Allreduce` of it, its complement and the
    /// same two of the element type's fingerprint (the largest of each:
    /// the largest and the smallest value); [`Error::ElementType`] on every
    /// rank when the types differ.
    fn same_everywhere<T>(&self, op: &'static str, word: u64) -> Result<bool, Error> {
        let ty = fingerprint_of::<T>();
        let mut out = [0u64; 4];
        self.t
            .all_reduce_into(&[word, !word, ty, !ty], &mut out, Op::Max, op)?;
        if out[2] != !out[3] {
            return Err(self.types_error::<T>(op));
        }
        Ok(out[0] == !out[1])
    }

    /// [`Error::ElementType`] on every rank, once the ranks are known to
    /// pass different element types `T`: it names this rank's type and
    /// rank 0's, or, on the ranks of rank 0's type, the lowest rank of
    /// another type and its type. An error of the exchange itself is
    /// returned as it is.
    fn types_error<T>(&self, op: &'static str) -> Error {
        let said = || -> Result<Error, Error> {
            let ty = fingerprint_of::<T>();
            let mut all = vec![0u64; self.size()];
            self.t.all_gather_into(&[ty], &mut all, op)?;
            let r = (1..self.size()).find(|&r| all[r] != all[0]).unwrap_or(0);
            let first = self.bcast_name(0, type_name_of::<T>(), op)?;
            let other = self.bcast_name(r, type_name_of::<T>(), op)?;
            let (other_rank, other) = if ty == all[0] { (r, other) } else { (0, first) };
            Ok(Error::ElementType {
                rank: self.rank(),
                op,
                mine: type_name_of::<T>().to_owned(),
                other_rank,
                other,
            })
        };
        said().unwrap_or_else(|e| e)
    }

    /// `name` as `root` has it, on every rank (its length, then its bytes).
    fn bcast_name(&self, root: usize, name: &str, op: &'static str) -> Result<String, Error> {
        let mut len = [name.len() as u64];
        self.t.bcast_into(root, &mut len, op)?;
        let mut bytes = if self.rank() == root {
            name.as_bytes().to_vec()
        } else {
            vec![0u8; len[0] as usize]
        };
        self.t.bcast_into(root, &mut bytes, op)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The first rank `i` whose count `sent[i]` is not `expected[i]`, as
/// `[i, sent, expected]`.
fn first_difference(sent: &[u64], expected: &[usize]) -> Option<[u64; 3]> {
    let i = (0..sent.len()).find(|&i| sent[i] != expected[i] as u64)?;
    Some([i as u64, sent[i], expected[i] as u64])
}

/// "1 element", "n elements".
fn elements(n: u64) -> String {
    if n == 1 {
        "1 element".to_owned()
    } else {
        format!("{n} elements")
    }
}
