//! Issue 11's collectives in the local world (all-to-all, counts and
//! displacements, scans, reduce-scatter): every rank's part goes to every
//! rank through the collectives of `collective.rs`, and each rank copies
//! out its own. A test harness, not fast; `Comm` checked the arguments.

use super::Local;
use crate::mpi::error::Error;
use crate::mpi::op::{AnyBitPattern, Reduction, Scalar};
use crate::mpi::transport::collectives::Collectives;
use crate::mpi::transport::Transport;

/// Block `r` of `buf` by `counts` and `displs`.
fn block<'a, T>(buf: &'a [T], counts: &[usize], displs: &[usize], r: usize) -> &'a [T] {
    &buf[displs[r]..displs[r] + counts[r]]
}

impl Local {
    /// `recv`'s block `r` of `counts`/`displs` takes `got[r]`.
    fn place<T: Copy>(
        &self,
        op: &'static str,
        recv: (&mut [T], &[usize], &[usize]),
        got: &[Vec<T>],
    ) -> Result<(), Error> {
        let (buf, counts, displs) = recv;
        for (r, part) in got.iter().enumerate() {
            let at = displs[r];
            self.copy_in(op, "a block received", &mut buf[at..at + counts[r]], part)?;
        }
        Ok(())
    }
}

impl Collectives for Local {
    fn all_to_all_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        let n = send.len() / self.size();
        let counts = vec![n; self.size()];
        let displs: Vec<usize> = (0..self.size()).map(|r| r * n).collect();
        self.all_to_allv_into((send, &counts, &displs), (recv, &counts, &displs), op)
    }
    fn all_to_allv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: (&[T], &[usize], &[usize]),
        recv: (&mut [T], &[usize], &[usize]),
        op: &'static str,
    ) -> Result<(), Error> {
        let (buf, counts, displs) = send;
        let parts: Vec<Vec<T>> = (0..self.size())
            .map(|r| block(buf, counts, displs, r).to_vec())
            .collect();
        let all = self.allgather(parts, op)?;
        let mine: Vec<Vec<T>> = all
            .into_iter()
            .map(|mut parts| std::mem::take(&mut parts[self.rank]))
            .collect();
        self.place(op, recv, &mine)
    }
    fn scatterv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        let parts = send.map(|(buf, counts, displs)| {
            (0..self.size())
                .map(|r| block(buf, counts, displs, r).to_vec())
                .collect::<Vec<_>>()
        });
        let got = self.scatter(root, parts, op)?;
        self.copy_in(op, "the block sent", recv, &got)
    }
    fn gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<(&mut [T], &[usize], &[usize])>,
        op: &'static str,
    ) -> Result<(), Error> {
        if let (Some(all), Some(recv)) = (self.gather(root, send.to_vec(), op)?, recv) {
            self.place(op, recv, &all)?;
        }
        Ok(())
    }
    fn all_gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: (&mut [T], &[usize], &[usize]),
        op: &'static str,
    ) -> Result<(), Error> {
        let all = self.allgather(send.to_vec(), op)?;
        self.place(op, recv, &all)
    }
    fn scan_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        exclusive: bool,
        op: &'static str,
    ) -> Result<(), Error> {
        let all = self.allgather(send.to_vec(), op)?;
        let upto = if exclusive { self.rank } else { self.rank + 1 };
        if upto == 0 {
            return Ok(());
        }
        self.fold_into(op, recv, &all[..upto], reduction)
    }
    fn reduce_scatter_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error> {
        // Every rank passes the same counts, as in MPI, where a difference
        // is not detected (a hang, or blocks cut in other places): here
        // every rank says which rank differs.
        let all = self.allgather((send.to_vec(), counts.to_vec()), op)?;
        if let Some(r) = all.iter().position(|(_, c)| c != counts) {
            return Err(Error::Argument {
                rank: self.rank,
                op,
                detail: format!(
                    "rank {r} passes the counts {:?}, this rank {counts:?}; every rank must pass \
                     the same counts (MPI does not check: its ranks would wait forever or cut \
                     the blocks in other places)",
                    all[r].1
                ),
            });
        }
        let all: Vec<Vec<T>> = all.into_iter().map(|(v, _)| v).collect();
        let mut folded = send.to_vec();
        self.fold_into(op, &mut folded, &all, reduction)?;
        let at: usize = counts[..self.rank].iter().sum();
        self.copy_in(
            op,
            "the reduced block",
            recv,
            &folded[at..at + counts[self.rank]],
        )
    }
}
