//! The buffer path's collectives with counts and displacements (mpi4py's
//! `Scatterv`, `Gatherv`, `Allgatherv`, `Alltoallv`), and the checks that
//! every rank passes the same verdict on before any data moves: blocks
//! within the buffers and MPI's counts, receive blocks apart, counts that
//! match between ranks.
//!
//! A buffer cut into blocks is written as mpi4py writes it,
//! `[buf, counts, displs]`: a tuple `(&buf, &counts, &displs)`, where block
//! `r` is `counts[r]` elements from `displs[r]`.

use super::check::Checks;
use super::comm::Comm;
use super::error::Error;
use super::limits::max_count;
use super::op::{AnyBitPattern, Scalar};
use super::transport::collectives::Collectives;
use super::transport::Transport;

/// A value a rank sends to say it refused its arguments.
const REFUSED: u64 = u64::MAX;

impl Comm {
    /// Every rank's `mine` (a count, a fingerprint…) on every rank, or an
    /// error on every rank when one of them refused its arguments: its own
    /// error there, [`Error::Argument`] naming it elsewhere. One allgather.
    pub(super) fn share(
        &self,
        op: &'static str,
        mine: Result<u64, Error>,
    ) -> Result<Vec<u64>, Error> {
        let n = match &mine {
            Ok(n) => (*n).min(REFUSED - 1),
            Err(_) => REFUSED,
        };
        let all = self.t.all_lens(n as usize, op)?;
        mine?;
        match all.iter().position(|&n| n == REFUSED) {
            None => Ok(all),
            Some(r) => Err(self.refused(op, r)),
        }
    }

    /// Every rank learns whether every rank accepted its arguments.
    pub(super) fn agree(&self, op: &'static str, mine: Result<(), Error>) -> Result<(), Error> {
        self.share(op, mine.map(|()| 0)).map(drop)
    }

    fn refused(&self, op: &'static str, r: usize) -> Error {
        self.argument(
            op,
            format!("rank {r} refused its arguments (its own error says why); no data moved"),
        )
    }

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

    /// The root's counts on every rank (the root passes `Ok(counts)` or
    /// its refusal); an error on every rank where the root refused.
    fn root_counts(
        &self,
        op: &'static str,
        root: usize,
        mine: Option<Result<&[usize], Error>>,
    ) -> Result<Vec<usize>, Error> {
        let mut buf = vec![0u64; self.size() + 1];
        let mut refusal = None;
        match mine {
            Some(Ok(counts)) => {
                buf[0] = 1;
                for (b, &c) in buf[1..].iter_mut().zip(counts) {
                    *b = c as u64;
                }
            }
            Some(Err(e)) => refusal = Some(e),
            None => {}
        }
        self.t.bcast_into(root, &mut buf, op)?;
        if let Some(e) = refusal {
            return Err(e);
        }
        if buf[0] == 0 {
            return Err(self.refused(op, root));
        }
        Ok(buf[1..].iter().map(|&c| c as usize).collect())
    }

    /// An error unless this rank's buffer holds the root's count for it.
    fn check_count(
        &self,
        op: &'static str,
        what: &'static str,
        len: usize,
        counts: &[usize],
    ) -> Result<(), Error> {
        let expected = counts[self.rank()];
        if len == expected {
            return Ok(());
        }
        Err(Error::Length {
            rank: self.rank(),
            op,
            what,
            got: len,
            expected,
        })
    }

    /// Block `r` of the root's `send` (`(buf, counts, displs)`, `Some` on
    /// the root only) into rank `r`'s `recv`, which holds `counts[r]`
    /// elements (`comm.Scatterv([sendbuf, counts, displs, T], recvbuf,
    /// root)`).
    ///
    /// Checked on every rank before any data moves, with the same verdict
    /// everywhere: counts and displacements, one per rank; each block
    /// inside the send buffer; each rank's `recv` of its count. Blocks
    /// ending past `i32::MAX` elements are an [`Error::TooLarge`].
    pub fn scatterv_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: &mut [T],
    ) -> Result<(), Error> {
        const OP: &str = "scatterv_buf";
        let _span = crate::trace::op_span(OP);
        self.t.check_rank(OP, root)?;
        let is_root = self.rank() == root;
        let mine = is_root.then(|| match send {
            None => Err(Error::RootValueMissing {
                rank: root,
                op: OP,
                root,
            }),
            Some((buf, c, d)) => self
                .check_layout(OP, "the send buffer", buf.len(), (c, d), false)
                .map(|()| c),
        });
        let counts = self.root_counts(OP, root, mine)?;
        self.agree(
            OP,
            self.check_count(OP, "the receive buffer", recv.len(), &counts),
        )?;
        self.t
            .scatterv_into(root, send.filter(|_| is_root), recv, OP)
    }

    /// Every rank's `send` into its block of the root's `recv`
    /// (`(buf, counts, displs)`, `Some` on the root only), where rank `r`
    /// sends `counts[r]` elements (`comm.Gatherv(sendbuf, [recvbuf,
    /// counts, displs, T], root)`). Checked as [`Comm::scatterv_buf`] is;
    /// the receive blocks may not overlap.
    pub fn gatherv_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<(&mut [T], &[usize], &[usize])>,
    ) -> Result<(), Error> {
        const OP: &str = "gatherv_buf";
        let _span = crate::trace::op_span(OP);
        self.t.check_rank(OP, root)?;
        let is_root = self.rank() == root;
        let recv = recv.filter(|_| is_root);
        let mine = is_root.then(|| match &recv {
            None => Err(Error::RootValueMissing {
                rank: root,
                op: OP,
                root,
            }),
            Some((buf, c, d)) => self
                .check_layout(OP, "the receive buffer", buf.len(), (c, d), true)
                .map(|()| *c),
        });
        let counts = self.root_counts(OP, root, mine)?;
        self.agree(
            OP,
            self.check_count(OP, "the send buffer", send.len(), &counts),
        )?;
        self.t.gatherv_into(root, send, recv, OP)
    }

    /// Every rank's `send` into its block of every rank's `recv`
    /// (`(buf, counts, displs)`), where rank `r` sends `counts[r]`
    /// elements (`comm.Allgatherv(sendbuf, [recvbuf, counts, displs,
    /// T])`). Every rank's counts must match what the ranks send (checked,
    /// with one allgather of the lengths); the receive blocks may not
    /// overlap.
    pub fn all_gatherv_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: (&mut [T], &[usize], &[usize]),
    ) -> Result<(), Error> {
        const OP: &str = "all_gatherv_buf";
        let _span = crate::trace::op_span(OP);
        let (buf, counts, displs) = recv;
        let mine = self.check_layout(OP, "the receive buffer", buf.len(), (counts, displs), true);
        let lens = self.t.all_lens(send.len(), OP)?;
        let mine =
            mine.and_then(
                |()| match (0..self.size()).find(|&r| counts[r] as u64 != lens[r]) {
                    None => Ok(()),
                    Some(r) => Err(self.argument(
                        OP,
                        format!(
                            "counts[{r}] is {}, but rank {r} sends {} elements",
                            counts[r], lens[r]
                        ),
                    )),
                },
            );
        self.agree(OP, mine)?;
        self.t.all_gatherv_into(send, (buf, counts, displs), OP)
    }

    /// Block `r` of `send` (`(buf, counts, displs)`) to rank `r`, and rank
    /// `r`'s block for this rank into block `r` of `recv`
    /// (`comm.Alltoallv([sendbuf, counts, displs, T], [recvbuf, counts,
    /// displs, T])`). What rank `i` sends to rank `j` must be what `j`
    /// receives from `i` (checked, with one all-to-all of the counts); the
    /// receive blocks may not overlap.
    pub fn all_to_allv_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: (&[T], &[usize], &[usize]),
        recv: (&mut [T], &[usize], &[usize]),
    ) -> Result<(), Error> {
        const OP: &str = "all_to_allv_buf";
        let _span = crate::trace::op_span(OP);
        let (sbuf, sc, sd) = send;
        let (rbuf, rc, rd) = recv;
        let mine = self
            .check_layout(OP, "the send buffer", sbuf.len(), (sc, sd), false)
            .and_then(|()| self.check_layout(OP, "the receive buffer", rbuf.len(), (rc, rd), true));
        let outgoing: Vec<u64> = match mine {
            Ok(()) => sc.iter().map(|&c| c as u64).collect(),
            Err(_) => vec![REFUSED; self.size()],
        };
        let mut incoming = vec![0u64; self.size()];
        self.t.all_to_all_into(&outgoing, &mut incoming, OP)?;
        let mine = mine.and_then(|()| {
            let differs =
                (0..self.size()).find(|&r| incoming[r] != REFUSED && incoming[r] != rc[r] as u64);
            match differs {
                None => Ok(()),
                Some(r) => Err(self.argument(
                    OP,
                    format!(
                        "rank {r} sends {} elements to this rank, but the receive counts say {}",
                        incoming[r], rc[r]
                    ),
                )),
            }
        });
        self.agree(OP, mine)?;
        self.t.all_to_allv_into((sbuf, sc, sd), (rbuf, rc, rd), OP)
    }
}
