//! Issue 11's collectives of [`Comm`] without counts: `alltoall` (objects)
//! and `all_to_all_buf`, the scans (`scan`, `exscan`, on numbers, on
//! buffers and with a closure on any serde type) and the reduce-scatters.
//! The ones with counts and displacements are in `vector.rs`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::check::{beyond_counts, Checks};
use super::comm::Comm;
use super::error::{decode, Error};
use super::op::{AnyBitPattern, Reduction, Scalar};
use super::transport::collectives::Collectives;
use super::transport::Transport;
use crate::codec;

/// Offsets of consecutive blocks of `lens` elements.
fn offsets(lens: &[usize]) -> Vec<usize> {
    lens.iter()
        .scan(0, |at, &n| {
            let d = *at;
            *at += n;
            Some(d)
        })
        .collect()
}

/// The length a rank sends in `alltoall` to say it refused its arguments.
const REFUSED: u64 = u64::MAX;

impl Comm {
    /// Every rank learns whether every rank accepted its arguments: its
    /// own error on a rank that refused, [`Error::Argument`] naming the first
    /// such rank on the others. One allgather.
    fn agree(&self, op: &'static str, mine: Result<(), Error>) -> Result<(), Error> {
        let all = self.t.all_lens(usize::from(mine.is_err()), op)?;
        mine?;
        match all.iter().position(|&n| n != 0) {
            None => Ok(()),
            Some(r) => Err(self.refused(op, r)),
        }
    }

    /// The error of a rank that another rank's refusal stopped.
    pub(super) fn refused(&self, op: &'static str, r: usize) -> Error {
        self.argument(
            op,
            format!("rank {r} refused its arguments (its own error says why); no data moved"),
        )
    }

    /// `values[r]` to rank `r`, and rank `r`'s value for this rank at
    /// index `r` of the result (`comm.alltoall(list)`): every rank passes
    /// `size()` values of any serde type.
    ///
    /// An encoded value, or all that one rank sends or receives together,
    /// may not exceed `i32::MAX` bytes (MPI's counts): else an
    /// [`Error::TooLarge`] on every rank, before any value moves.
    pub fn alltoall<T: Serialize + DeserializeOwned>(
        &self,
        values: Vec<T>,
    ) -> Result<Vec<T>, Error> {
        const OP: &str = "alltoall";
        let _span = crate::trace::op_span(OP);
        let size = self.size();
        let parts = if values.len() == size {
            values
                .iter()
                .map(|v| codec::encode(v).map_err(Error::codec(self.rank(), OP)))
                .collect::<Result<Vec<_>, _>>()
        } else {
            Err(Error::Length {
                rank: self.rank(),
                op: OP,
                what: "the list",
                got: values.len(),
                expected: size,
            })
        };
        let outgoing: Vec<u64> = match &parts {
            Ok(p) => p.iter().map(|b| b.len() as u64).collect(),
            Err(_) => vec![REFUSED; size],
        };
        let mut incoming = vec![0u64; size];
        self.t.all_to_all_into(&outgoing, &mut incoming, OP)?;
        // A rank that refused sent `REFUSED`: `agree` names it.
        let refused = incoming.contains(&REFUSED);
        let (mine, parts) = match parts {
            Ok(p) => {
                let past = beyond_counts(&outgoing)
                    .or_else(|| (!refused).then(|| beyond_counts(&incoming)).flatten());
                match past {
                    Some(n) => (Err(self.t.too_large(OP, "a count or displacement", n)), p),
                    None => (Ok(()), p),
                }
            }
            Err(e) => (Err(e), Vec::new()),
        };
        self.agree(OP, mine)?;
        let sc: Vec<usize> = parts.iter().map(Vec::len).collect();
        let rc: Vec<usize> = incoming.iter().map(|&n| n as usize).collect();
        let (sd, rd) = (offsets(&sc), offsets(&rc));
        let mut flat = vec![0u8; rc.iter().sum()];
        self.t
            .all_to_allv_into((&parts.concat(), &sc, &sd), (&mut flat, &rc, &rd), OP)?;
        (0..size)
            .map(|r| decode(self.rank(), OP, r, &flat[rd[r]..rd[r] + rc[r]]))
            .collect()
    }

    /// Block `r` of `send` (`send.len() / size()` elements) to rank `r`,
    /// and rank `r`'s block for this rank into block `r` of `recv`
    /// (`comm.Alltoall(sendbuf, recvbuf)`). `send.len()` is a multiple of
    /// `size()` and `recv` as long; every rank sends blocks of the same
    /// length, as in MPI. `send.len()` may not exceed `i32::MAX` (MPI's counts): else
    /// an [`Error::TooLarge`] on every rank.
    pub fn all_to_all_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
    ) -> Result<(), Error> {
        const OP: &str = "all_to_all_buf";
        let _span = crate::trace::op_span(OP);
        let size = self.size();
        let n = send.len() / size;
        if !send.len().is_multiple_of(size) {
            return Err(self.argument(
                OP,
                format!(
                    "the send buffer has {} elements, not a multiple of the {size} ranks",
                    send.len()
                ),
            ));
        }
        self.check_same_len(OP, send.len(), recv.len())?;
        self.t.check_blocks(OP, n)?;
        self.check_lens_agree::<T>(OP, "send buffer", send.len())?;
        self.t.all_to_all_into(send, recv, OP)
    }

    /// The element-wise `op` of the `send` of ranks `0..=rank()` into
    /// `recv` (`comm.Scan(sendbuf, recvbuf, op)`), of any length (over
    /// `i32::MAX` elements, in pieces). `op` is an [`Op`](super::Op) on
    /// numbers or any other [`Reduction`] (logical and bitwise on integers,
    /// `MaxLoc`/`MinLoc` on [`Loc`](super::Loc) pairs).
    pub fn scan_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: impl Reduction<T>,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("scan_buf");
        self.check_same_len("scan_buf", send.len(), recv.len())?;
        self.check_lens_agree::<T>("scan_buf", "send buffer", send.len())?;
        self.t.scan_into(send, recv, op, false, "scan_buf")
    }

    /// The element-wise `op` of the `send` of ranks `0..rank()` into
    /// `recv` (`comm.Exscan(sendbuf, recvbuf, op)`); rank 0's `recv` is
    /// left as it was (MPI leaves it undefined). Sizes as for
    /// [`Comm::scan_buf`].
    pub fn exscan_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: impl Reduction<T>,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("exscan_buf");
        self.check_same_len("exscan_buf", send.len(), recv.len())?;
        self.check_lens_agree::<T>("exscan_buf", "send buffer", send.len())?;
        self.t.scan_into(send, recv, op, true, "exscan_buf")
    }

    fn check_same_len(&self, op: &'static str, send: usize, recv: usize) -> Result<(), Error> {
        if send == recv {
            return Ok(());
        }
        Err(Error::Length {
            rank: self.rank(),
            op,
            what: "the receive buffer",
            got: recv,
            expected: send,
        })
    }

    /// Combines the numbers of ranks `0..=rank()` with `op`
    /// (`comm.scan(x, op=MPI.SUM)`), through the buffer path.
    pub fn scan<T: Scalar + AnyBitPattern>(
        &self,
        value: T,
        op: impl Reduction<T>,
    ) -> Result<T, Error> {
        let _span = crate::trace::op_span("scan");
        let mut out = [value];
        // One element of one type on every rank: nothing to compare.
        self.t.scan_into(&[value], &mut out, op, false, "scan")?;
        Ok(out[0])
    }

    /// Combines the numbers of ranks `0..rank()` with `op`; `None` on rank
    /// 0 (`comm.exscan(x, op=MPI.SUM)`, which returns `None` there).
    pub fn exscan<T: Scalar + AnyBitPattern>(
        &self,
        value: T,
        op: impl Reduction<T>,
    ) -> Result<Option<T>, Error> {
        let _span = crate::trace::op_span("exscan");
        let mut out = [value];
        self.t.scan_into(&[value], &mut out, op, true, "exscan")?;
        Ok((self.rank() > 0).then_some(out[0]))
    }

    /// Folds the values of ranks `0..=rank()` with `f` in rank order,
    /// `f(f(v0, v1), v2)…` (`comm.scan(obj, op=my_function)`). Any serde
    /// type; `f` need not commute. Every value travels to every rank (one
    /// allgather), which suits small values; sizes as for
    /// [`Comm::allgather`].
    pub fn scan_with<T, F>(&self, value: T, f: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        let _span = crate::trace::op_span("scan_with");
        let folded = self.fold_below("scan_with", &value, f)?;
        Ok(match folded {
            Some((below, mut f)) => f(below, value),
            None => value,
        })
    }

    /// Folds the values of ranks `0..rank()` with `f` in rank order;
    /// `None` on rank 0 (`comm.exscan(obj, op=my_function)`).
    pub fn exscan_with<T, F>(&self, value: T, f: F) -> Result<Option<T>, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        let _span = crate::trace::op_span("exscan_with");
        Ok(self
            .fold_below("exscan_with", &value, f)?
            .map(|(below, _)| below))
    }

    /// The values of the ranks below this one folded with `f` (`None` on
    /// rank 0), and `f` back.
    fn fold_below<T, F>(
        &self,
        op: &'static str,
        value: &T,
        mut f: F,
    ) -> Result<Option<(T, F)>, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        let bytes = codec::encode(value).map_err(Error::codec(self.rank(), op))?;
        let all = self.allgather_bytes(bytes, op)?;
        let mut below: Option<T> = None;
        for (r, b) in all.iter().enumerate().take(self.rank()) {
            let v = decode(self.rank(), op, r, b)?;
            below = Some(match below {
                None => v,
                Some(acc) => f(acc, v),
            });
        }
        Ok(below.map(|b| (b, f)))
    }

    /// The element-wise `op` of every rank's `send`, cut into blocks of
    /// `recv.len()` elements: block `r` into rank `r`'s `recv`
    /// (`comm.Reduce_scatter_block(sendbuf, recvbuf, op)`). `send` holds
    /// `size() * recv.len()` elements, at most `i32::MAX` (MPI's counts):
    /// else an [`Error::TooLarge`].
    pub fn reduce_scatter_block_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: impl Reduction<T>,
    ) -> Result<(), Error> {
        const OP: &str = "reduce_scatter_block_buf";
        let _span = crate::trace::op_span(OP);
        let n = recv.len();
        self.t.check_blocks(OP, n)?;
        if send.len() != n * self.size() {
            return Err(Error::Length {
                rank: self.rank(),
                op: OP,
                what: "the send buffer",
                got: send.len(),
                expected: n * self.size(),
            });
        }
        self.check_lens_agree::<T>(OP, "receive buffer", n)?;
        self.t
            .reduce_scatter_into(send, recv, &vec![n; self.size()], op, OP)
    }

    /// The element-wise `op` of every rank's `send`, cut into consecutive
    /// blocks of `counts[r]` elements: block `r` into rank `r`'s `recv`
    /// (`comm.Reduce_scatter(sendbuf, recvbuf, counts, op)`).
    ///
    /// `counts` has one count per rank and sums to `send.len()`, and
    /// `recv` holds this rank's count (checked); every rank passes the same
    /// `counts`, as in MPI. A count or the offset of a block past
    /// `i32::MAX` is an [`Error::TooLarge`].
    pub fn reduce_scatter_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
        op: impl Reduction<T>,
    ) -> Result<(), Error> {
        const OP: &str = "reduce_scatter_buf";
        let _span = crate::trace::op_span(OP);
        self.check_reduce_counts(OP, send.len(), recv.len(), counts)?;
        self.check_counts_agree::<T>(OP, counts)?;
        self.t.reduce_scatter_into(send, recv, counts, op, OP)
    }

    /// The checks of `reduce_scatter_buf` on this rank.
    fn check_reduce_counts(
        &self,
        op: &'static str,
        send: usize,
        recv: usize,
        counts: &[usize],
    ) -> Result<(), Error> {
        if counts.len() != self.size() {
            return Err(Error::Length {
                rank: self.rank(),
                op,
                what: "the counts",
                got: counts.len(),
                expected: self.size(),
            });
        }
        let sum = counts.iter().fold(0usize, |a, &c| a.saturating_add(c));
        if sum != send {
            return Err(self.argument(
                op,
                format!("the counts sum to {sum}, but the send buffer has {send} elements"),
            ));
        }
        self.check_same_len(op, counts[self.rank()], recv)?;
        let lens: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
        self.t.check_varcount(op, &lens)
    }
}
