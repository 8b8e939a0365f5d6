//! The buffer path's collectives with counts and displacements (mpi4py's
//! `Scatterv`, `Gatherv`, `Allgatherv`, `Alltoallv`), each one MPI call
//! after the checks each rank can make alone: one count and displacement
//! per rank, every block inside its buffer and within MPI's counts, the
//! receive blocks apart.
//!
//! A buffer cut into blocks is written as mpi4py writes it,
//! `[buf, counts, displs]`: a tuple `(&buf, &counts, &displs)`, where block
//! `r` is `counts[r]` elements from `displs[r]`.
//!
//! As in MPI, what one rank sends another must be what that rank expects
//! (no hidden exchange of counts, so that these calls meet an mpi4py or C
//! rank's); the local world checks it and says which block differs.

use super::check::Checks;
use super::comm::Comm;
use super::error::Error;
use super::limits::max_count;
use super::op::{AnyBitPattern, Scalar};
use super::transport::collectives::Collectives;

impl Comm {
    /// An [`Error::Argument`] on this rank.
    pub(super) fn argument(&self, op: &'static str, detail: String) -> Error {
        Error::Argument {
            rank: self.rank(),
            op,
            detail,
        }
    }

    /// Checks the blocks of one buffer of `len` elements: one count and
    /// one displacement per rank, each block inside the buffer, the
    /// furthest end within MPI's counts, and (`apart`, for a receive) no
    /// two blocks overlapping.
    pub(super) fn check_layout(
        &self,
        op: &'static str,
        what: &'static str,
        len: usize,
        (counts, displs): (&[usize], &[usize]),
        apart: bool,
    ) -> Result<(), Error> {
        let size = self.size();
        for (list, name) in [(counts, "the counts"), (displs, "the displacements")] {
            if list.len() != size {
                return Err(Error::Length {
                    rank: self.rank(),
                    op,
                    what: name,
                    got: list.len(),
                    expected: size,
                });
            }
        }
        let mut furthest = 0;
        for (r, (&c, &d)) in counts.iter().zip(displs).enumerate() {
            let end = d.saturating_add(c);
            if end > len {
                return Err(self.argument(
                    op,
                    format!(
                        "the block for rank {r} of {what} (displacement {d}, count {c}) ends at \
                         element {end}, past its {len} elements"
                    ),
                ));
            }
            furthest = furthest.max(end);
        }
        if furthest > max_count() {
            return Err(self.t.too_large(op, "the end of a block", furthest as u64));
        }
        if apart {
            let mut spans: Vec<(usize, usize, usize)> = (0..size)
                .filter(|&r| counts[r] > 0)
                .map(|r| (displs[r], displs[r] + counts[r], r))
                .collect();
            spans.sort_unstable();
            for w in spans.windows(2) {
                if w[0].1 > w[1].0 {
                    return Err(self.argument(
                        op,
                        format!(
                            "the blocks for ranks {} and {} of {what} overlap (MPI writes each \
                             block once; give each its own elements)",
                            w[0].2, w[1].2
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The checks of a rooted collective: the root in range and, on the
    /// root, its buffer's blocks (`layout`: its length, counts and
    /// displacements, `None` where the root passed none).
    fn check_root_layout(
        &self,
        op: &'static str,
        root: usize,
        what: &'static str,
        layout: Option<(usize, &[usize], &[usize])>,
        apart: bool,
    ) -> Result<(), Error> {
        self.t.check_rank(op, root)?;
        if self.rank() != root {
            return Ok(());
        }
        match layout {
            None => Err(Error::RootValueMissing {
                rank: root,
                op,
                root,
            }),
            Some((len, counts, displs)) => {
                self.check_layout(op, what, len, (counts, displs), apart)
            }
        }
    }

    /// Block `r` of the root's `send` (`(buf, counts, displs)`, `Some` on
    /// the root only) into rank `r`'s `recv`, which holds `counts[r]`
    /// elements (`comm.Scatterv([sendbuf, counts, displs, T], recvbuf,
    /// root)`).
    ///
    /// The root checks its counts and displacements (one per rank, each
    /// block inside `buf`): [`Error::Length`], [`Error::Argument`]; a block
    /// ending past `i32::MAX` elements is an [`Error::TooLarge`].
    pub fn scatterv_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: &mut [T],
    ) -> Result<(), Error> {
        const OP: &str = "scatterv_buf";
        let _span = crate::trace::op_span(OP);
        let send = send.filter(|_| self.rank() == root);
        let layout = send.map(|(buf, c, d)| (buf.len(), c, d));
        self.check_root_layout(OP, root, "the send buffer", layout, false)?;
        let counts = send.map(|(_, c, _)| c);
        self.check_root_counts::<T>(OP, root, counts, recv.len(), "receives into")?;
        self.t.scatterv_into(root, send, recv, OP)
    }

    /// Every rank's `send` into its block of the root's `recv`
    /// (`(buf, counts, displs)`, `Some` on the root only), where rank `r`
    /// sends `counts[r]` elements (`comm.Gatherv(sendbuf, [recvbuf,
    /// counts, displs, T], root)`). The root checks its blocks as
    /// [`Comm::scatterv_buf`] does, and that they do not overlap.
    pub fn gatherv_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<(&mut [T], &[usize], &[usize])>,
    ) -> Result<(), Error> {
        const OP: &str = "gatherv_buf";
        let _span = crate::trace::op_span(OP);
        let recv = recv.filter(|_| self.rank() == root);
        let layout = recv.as_ref().map(|(buf, c, d)| (buf.len(), *c, *d));
        self.check_root_layout(OP, root, "the receive buffer", layout, true)?;
        let counts = recv.as_ref().map(|(_, c, _)| *c);
        self.check_root_counts::<T>(OP, root, counts, send.len(), "sends")?;
        self.t.gatherv_into(root, send, recv, OP)
    }

    /// Every rank's `send` into its block of every rank's `recv`
    /// (`(buf, counts, displs)`), where rank `r` sends `counts[r]`
    /// elements (`comm.Allgatherv(sendbuf, [recvbuf, counts, displs, T])`).
    /// Checked as [`Comm::gatherv_buf`] is, and `send` must hold this
    /// rank's count.
    pub fn all_gatherv_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: (&mut [T], &[usize], &[usize]),
    ) -> Result<(), Error> {
        const OP: &str = "all_gatherv_buf";
        let _span = crate::trace::op_span(OP);
        let (buf, counts, displs) = recv;
        self.check_layout(OP, "the receive buffer", buf.len(), (counts, displs), true)?;
        if send.len() != counts[self.rank()] {
            return Err(Error::Length {
                rank: self.rank(),
                op: OP,
                what: "the send buffer (this rank's count)",
                got: send.len(),
                expected: counts[self.rank()],
            });
        }
        self.check_gathered_counts::<T>(OP, counts)?;
        self.t.all_gatherv_into(send, (buf, counts, displs), OP)
    }

    /// Block `r` of `send` (`(buf, counts, displs)`) to rank `r`, and rank
    /// `r`'s block for this rank into block `r` of `recv`
    /// (`comm.Alltoallv([sendbuf, counts, displs, T], [recvbuf, counts,
    /// displs, T])`). Both layouts are checked as [`Comm::gatherv_buf`]'s
    /// is; what rank `i` sends rank `j` must be what `j` expects from `i`.
    pub fn all_to_allv_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: (&[T], &[usize], &[usize]),
        recv: (&mut [T], &[usize], &[usize]),
    ) -> Result<(), Error> {
        const OP: &str = "all_to_allv_buf";
        let _span = crate::trace::op_span(OP);
        let (sbuf, sc, sd) = send;
        let (rbuf, rc, rd) = recv;
        self.check_layout(OP, "the send buffer", sbuf.len(), (sc, sd), false)?;
        self.check_layout(OP, "the receive buffer", rbuf.len(), (rc, rd), true)?;
        self.check_pair_counts::<T>(OP, sc, rc)?;
        self.t.all_to_allv_into((sbuf, sc, sd), (rbuf, rc, rd), OP)
    }
}
