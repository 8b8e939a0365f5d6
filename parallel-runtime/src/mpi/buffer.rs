//! The buffer path of [`Comm`] (mpi4py's uppercase methods): slices of
//! numbers and of `#[derive(Equivalence)]` structs, passed to the transport
//! without a copy; and the reductions of single numbers, which go through
//! it.

use super::check::Checks;
use super::comm::Comm;
use super::error::Error;
use super::limits::max_count;
use super::message::{Source, Status, Tag, TagMatch};
use super::op::{AnyBitPattern, Reduction, Scalar};
#[cfg(doc)]
use super::op::{Loc, Op};
use super::request::BufRequest;
use super::transport::Transport;
use super::wire::send_slice;

impl Comm {
    /// Combines every rank's number with `op`; the result at `root`
    /// (`comm.reduce(x, op=MPI.SUM, root=0)`). Numbers go through the
    /// buffer path, at the speed of the C library. `op` is an [`Op`] on
    /// numbers, or any other [`Reduction`]: `Op::LAnd`… and `Op::BAnd`… on
    /// integers, `Op::MaxLoc`/`Op::MinLoc` on [`Loc`] pairs.
    pub fn reduce<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        value: T,
        op: impl Reduction<T>,
    ) -> Result<Option<T>, Error> {
        let _span = crate::trace::op_span("reduce");
        let mut out = [value];
        let is_root = self.rank() == root;
        // One element of one type on every rank: nothing to compare.
        self.reduce_into(root, &[value], is_root.then_some(&mut out[..]), op, false)?;
        Ok(is_root.then_some(out[0]))
    }

    /// Combines every rank's number with `op`, result on every rank
    /// (`comm.allreduce(x, op=MPI.SUM)`).
    pub fn all_reduce<T: Scalar + AnyBitPattern>(
        &self,
        value: T,
        op: impl Reduction<T>,
    ) -> Result<T, Error> {
        let _span = crate::trace::op_span("all_reduce");
        let mut out = [value];
        self.all_reduce_into(&[value], &mut out, op, false)?;
        Ok(out[0])
    }

    /// Sends a slice without a copy (`comm.Send(buf, dest, tag)`), of any
    /// length (over `i32::MAX` elements, in pieces).
    pub fn send_buf<T: Scalar>(&self, buf: &[T], dest: usize, tag: Tag) -> Result<(), Error> {
        let _span = crate::trace::op_span("send_buf");
        self.t.check_rank("send_buf", dest)?;
        self.t.check_tag("send_buf", tag)?;
        if self.receiver().has_unmatched() {
            // Receives posted before it claim their messages while it
            // waits (see `Receiver::poll_send`).
            return self.isend_buf(buf.to_vec(), dest, tag)?.wait().map(drop);
        }
        send_slice(&self.t, buf, dest, tag);
        Ok(())
    }

    /// Receives into a slice (`comm.Recv(buf, source, tag)`); the message
    /// may be shorter than the slice: [`Status::count`] says how long.
    ///
    /// A message longer than the slice, or that holds no whole number of
    /// `T`, is an [`Error::Mismatch`] naming both ranks (the message is
    /// consumed), on every backend. `T` must accept any bit pattern
    /// ([`AnyBitPattern`](super::AnyBitPattern)): a `bool` buffer could
    /// otherwise receive invalid values.
    pub fn recv_buf<T: Scalar + AnyBitPattern>(
        &self,
        buf: &mut [T],
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<Status, Error> {
        let _span = crate::trace::op_span("recv_buf");
        let (source, tag) = (source.into(), tag.into());
        self.t.check_recv("recv_buf", source, tag)?;
        self.receiver().recv_ordered(source, tag, buf, "recv_buf")
    }

    /// Starts sending a vector without a copy (`comm.Isend(buf, dest, tag)`):
    /// the request owns it while MPI reads it and gives it back from
    /// [`BufRequest::wait`], to be reused.
    pub fn isend_buf<T: Scalar>(
        &self,
        buf: Vec<T>,
        dest: usize,
        tag: Tag,
    ) -> Result<BufRequest<'_, T>, Error> {
        let _span = crate::trace::op_span("isend_buf");
        self.t.check_rank("isend_buf", dest)?;
        self.t.check_tag("isend_buf", tag)?;
        let sending = self.t.isend(buf, dest, tag, max_count());
        Ok(BufRequest::sending(sending, self.receiver()))
    }

    /// Starts receiving into a vector (`comm.Irecv(buf, source, tag)`):
    /// [`BufRequest::wait`] gives it back filled, with the status (how many
    /// elements arrived; the message may be shorter than the vector).
    /// Receives match messages in the order they were posted, as in MPI.
    pub fn irecv_buf<T: Scalar + AnyBitPattern>(
        &self,
        buf: Vec<T>,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<BufRequest<'_, T>, Error> {
        let _span = crate::trace::op_span("irecv_buf");
        let (source, tag) = (source.into(), tag.into());
        self.t.check_recv("irecv_buf", source, tag)?;
        Ok(BufRequest::receiving(self.receiver(), buf, source, tag))
    }

    /// Sends `send` to `dest` and receives into `recv` from `source` at the
    /// same time (`comm.Sendrecv(…)`).
    pub fn sendrecv_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        dest: usize,
        send_tag: Tag,
        recv: &mut [T],
        source: impl Into<Source>,
        recv_tag: impl Into<TagMatch>,
    ) -> Result<Status, Error> {
        let _span = crate::trace::op_span("sendrecv_buf");
        let (source, recv_tag) = (source.into(), recv_tag.into());
        self.t.check_rank("sendrecv_buf", dest)?;
        self.t.check_tag("sendrecv_buf", send_tag)?;
        self.t.check_recv("sendrecv_buf", source, recv_tag)?;
        // Started, then the receive (checked against `recv`, in post
        // order), then the send completes.
        let req = self.isend_buf(send.to_vec(), dest, send_tag)?;
        let st = self
            .receiver()
            .recv_ordered(source, recv_tag, recv, "sendrecv_buf")?;
        req.wait()?;
        Ok(st)
    }

    /// The root's slice into every rank's `buf` (`comm.Bcast(buf, root)`);
    /// every rank passes a slice of the same length, of any length (over
    /// `i32::MAX` elements, in pieces).
    pub fn bcast_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        buf: &mut [T],
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("bcast_buf");
        self.t.check_rank("bcast_buf", root)?;
        self.check_lens_agree::<T>("bcast_buf", "buffer", buf.len())?;
        self.t.bcast_into(root, buf, "bcast_buf")
    }

    /// Consecutive blocks of `recv.len()` elements of the root's `send` to
    /// each rank in turn (`comm.Scatter(sendbuf, recvbuf, root)`); `send`
    /// is `Some` (of `size() * recv.len()` elements) on the root only.
    /// `size() * recv.len()` may not exceed `i32::MAX` (MPI's counts):
    /// else an [`Error::TooLarge`] on every rank.
    pub fn scatter_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<&[T]>,
        recv: &mut [T],
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("scatter_buf");
        self.t.check_rank("scatter_buf", root)?;
        let n = recv.len();
        self.t.check_blocks("scatter_buf", n)?;
        let is_root = self.rank() == root;
        if is_root {
            let len = send.map_or(0, <[T]>::len);
            if send.is_none() {
                return Err(Error::RootValueMissing {
                    rank: root,
                    op: "scatter_buf",
                    root,
                });
            }
            if len != n * self.size() {
                return Err(Error::Length {
                    rank: root,
                    op: "scatter_buf",
                    what: "the root's send buffer",
                    got: len,
                    expected: n * self.size(),
                });
            }
        }
        self.check_lens_agree::<T>("scatter_buf", "receive buffer", n)?;
        self.t
            .scatter_into(root, send.filter(|_| is_root), recv, "scatter_buf")
    }

    /// Every rank's `send` into the root's `recv`, in rank order
    /// (`comm.Gather(sendbuf, recvbuf, root)`); `recv` is `Some` (of
    /// `size() * send.len()` elements) on the root only. Sizes as for
    /// [`Comm::scatter_buf`].
    pub fn gather_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("gather_buf");
        self.t.check_rank("gather_buf", root)?;
        self.t.check_blocks("gather_buf", send.len())?;
        let expected = send.len() * self.size();
        let len = recv.as_ref().map(|r| r.len());
        let is_root = self.t.check_root_recv("gather_buf", root, len, expected)?;
        let recv = recv.filter(|_| is_root);
        self.check_lens_agree::<T>("gather_buf", "send buffer", send.len())?;
        self.t.gather_into(root, send, recv, "gather_buf")
    }

    /// Every rank's `send` into every rank's `recv`, in rank order
    /// (`comm.Allgather(sendbuf, recvbuf)`); `recv` holds `size() *
    /// send.len()` elements. Sizes as for [`Comm::scatter_buf`].
    pub fn all_gather_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("all_gather_buf");
        self.t.check_blocks("all_gather_buf", send.len())?;
        if recv.len() != send.len() * self.size() {
            return Err(Error::Length {
                rank: self.rank(),
                op: "all_gather_buf",
                what: "the receive buffer",
                got: recv.len(),
                expected: send.len() * self.size(),
            });
        }
        self.check_lens_agree::<T>("all_gather_buf", "send buffer", send.len())?;
        self.t.all_gather_into(send, recv, "all_gather_buf")
    }

    /// Element-wise `op` of every rank's `send` into the root's `recv`
    /// (`comm.Reduce(sendbuf, recvbuf, op, root)`); `recv` is `Some` on the
    /// root only. Of any length (over `i32::MAX` elements, in pieces).
    /// `op` as for [`Comm::reduce`].
    pub fn reduce_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: impl Reduction<T>,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("reduce_buf");
        self.reduce_into(root, send, recv, op, true)
    }

    /// `reduce_buf`, comparing the lengths of every rank first when
    /// `check`.
    fn reduce_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: impl Reduction<T>,
        check: bool,
    ) -> Result<(), Error> {
        self.t.check_rank("reduce_buf", root)?;
        let is_root = self.rank() == root;
        let recv = match recv {
            Some(r) if is_root => {
                if r.len() != send.len() {
                    return Err(Error::Length {
                        rank: root,
                        op: "reduce_buf",
                        what: "the receive buffer",
                        got: r.len(),
                        expected: send.len(),
                    });
                }
                Some(r)
            }
            None if is_root => {
                return Err(Error::RootValueMissing {
                    rank: root,
                    op: "reduce_buf",
                    root,
                })
            }
            _ => None,
        };
        if check {
            self.check_lens_agree::<T>("reduce_buf", "send buffer", send.len())?;
        }
        self.t.reduce_into(root, send, recv, op, "reduce_buf")
    }

    /// Element-wise `op` of every rank's `send` into every rank's `recv`
    /// (`comm.Allreduce(sendbuf, recvbuf, op)`), of any length (over
    /// `i32::MAX` elements, in pieces).
    pub fn all_reduce_buf<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: impl Reduction<T>,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("all_reduce_buf");
        self.all_reduce_into(send, recv, op, true)
    }

    /// `all_reduce_buf`, comparing the lengths of every rank first when
    /// `check`.
    fn all_reduce_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: impl Reduction<T>,
        check: bool,
    ) -> Result<(), Error> {
        if recv.len() != send.len() {
            return Err(Error::Length {
                rank: self.rank(),
                op: "all_reduce_buf",
                what: "the receive buffer",
                got: recv.len(),
                expected: send.len(),
            });
        }
        if check {
            self.check_lens_agree::<T>("all_reduce_buf", "send buffer", send.len())?;
        }
        self.t.all_reduce_into(send, recv, op, "all_reduce_buf")
    }
}
