//! Nonblocking collectives of [`Comm`] (mpi4py's `comm.Ibarrier()`,
//! `comm.Ibcast`, `comm.Iallreduce`, `comm.Igather`) and their
//! [`CollRequest`], which owns the buffers as
//! [`BufRequest`](super::BufRequest) does.
//!
//! # Why the request owns the vectors
//!
//! MPI writes into (and reads from) the buffers of a nonblocking collective
//! until it completes. Each method here takes its vectors by value, and
//! the request keeps their memory until MPI is done with it, then gives
//! them back from [`CollRequest::wait`] or [`CollRequest::test`]. No
//! borrow can end early, so no code outside this crate can free or touch
//! that memory while MPI uses it.
//!
//! Dropping a request that has not completed waits for it on real MPI: MPI
//! may neither cancel nor free a nonblocking collective, and its buffers
//! must outlive it. (While the thread unwinds from a panic, it leaks the
//! buffers instead of waiting: the job is ending, and the other ranks may
//! never join.) `std::mem::forget` on a request leaks its buffers, which
//! is sound too: MPI then writes into memory that is never freed. In the
//! local world of threads, every rank's part is a copy, so a dropped
//! request simply stops.

use super::check::Checks;
use super::comm::Comm;
use super::error::Error;
use super::limits::max_count;
use super::matching::{Receiver, DROPPED};
use super::op::{AnyBitPattern, Op, Operand, Scalar};
use super::transport::nonblocking::{CollFlight, Extended};

/// A nonblocking collective in flight (mpi4py's `MPI.Request` from
/// `comm.Ibarrier()`, `comm.Ibcast`, …): it owns its buffers until it
/// completes, then gives back `R` (the broadcast vector, the reduced one,
/// the root's gathered one, or `()` for a barrier).
///
/// Every rank must start the same collectives in the same order, as in
/// MPI; they may complete in any order. Dropping one before it completed
/// waits for it on real MPI, which may neither cancel nor free a
/// nonblocking collective whose buffers must outlive it (while unwinding
/// from a panic it leaks them instead; `mem::forget` leaks them too).
#[must_use = "a request does nothing unless waited on or tested"]
pub struct CollRequest<'c, R> {
    flight: Option<Box<dyn CollFlight<R> + 'c>>,
    /// The collective, for errors.
    op: &'static str,
    /// The communicator's receive side: its posted receives claim their
    /// messages while this waits.
    posted: Receiver<'c>,
}

impl<R> std::fmt::Debug for CollRequest<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.flight.is_some() {
            "in flight"
        } else {
            "spent"
        };
        f.debug_struct("CollRequest")
            .field("state", &state)
            .finish()
    }
}

impl<'c, R> CollRequest<'c, R> {
    fn new(op: &'static str, flight: Box<dyn CollFlight<R> + 'c>, posted: Receiver<'c>) -> Self {
        CollRequest {
            flight: Some(flight),
            op,
            posted,
        }
    }

    /// One step, or (with `wait`) every step until it completes. While it
    /// waits, the receives posted on the communicator claim their messages,
    /// as MPI progresses a posted `MPI_Irecv` during any wait: a rank that
    /// sends one of them more than the eager limit completes its send only
    /// then, and may have to before it joins this collective.
    fn poll(&mut self, wait: bool) -> Result<Option<R>, Error> {
        let Some(flight) = self.flight.as_mut() else {
            return Err(Error::RequestSpent {
                rank: self.posted.rank(),
                op: self.op,
            });
        };
        let got = loop {
            if wait && !self.posted.has_unmatched() {
                break flight.poll(true);
            }
            match flight.poll(false) {
                Ok(None) if wait => {}
                got => break got,
            }
            if let Err(e) = self.posted.progress_posted() {
                break Err(e);
            }
            std::thread::yield_now();
        };
        if !matches!(got, Ok(None)) {
            // Completed, well or not.
            self.flight = None;
        }
        got
    }

    /// Waits until it completes and gives back its result
    /// (`req.Wait()`).
    pub fn wait(mut self) -> Result<R, Error> {
        // Seen by the hang watchdog as a wait, like a blocking collective.
        let _span = crate::trace::op_span("wait");
        self.poll(true)
            .map(|v| v.unwrap_or_else(|| unreachable!("a blocking wait completes")))
    }

    /// The result if it has completed, `None` if not yet (`req.Test()`).
    /// Once it returned `Some`, the request is spent: testing it again is
    /// an [`Error::RequestSpent`].
    pub fn test(&mut self) -> Result<Option<R>, Error> {
        self.poll(false)
    }
}

impl<R> Drop for CollRequest<'_, R> {
    fn drop(&mut self) {
        // Dropped in flight: wait as `wait` does, progressing the posted
        // receives and seen by the hang watchdog (the transport's own drop
        // then finds it complete; left to it, its `MPI_Wait` progressed
        // neither, and a rank whose partner waited for a posted receive to
        // take its message hung without a report).
        if self.flight.is_some() && !std::thread::panicking() {
            let _span = crate::trace::op_span(DROPPED);
            drop(self.poll(true));
        }
    }
}

impl Comm {
    /// An error when a buffer of `n` elements is beyond one MPI call.
    fn check_count(&self, op: &'static str, n: usize) -> Result<(), Error> {
        if n > max_count() {
            return Err(self.t.too_large(op, "the buffer", n as u64));
        }
        Ok(())
    }

    /// [`Comm::barrier`] on real MPI: `MPI_Ibarrier` on every rank (so the
    /// ranks call the same collective, whatever each has posted), waited
    /// for while the posted receives claim their messages. A rank that
    /// sends one of them past the eager limit completes its send, and
    /// reaches the barrier, only then (mpi4py's
    /// `r = Irecv(…); Barrier(); r.Wait()`).
    pub(super) fn barrier_progressing(&self) -> Result<(), Error> {
        let seq = self.receiver().next_collective();
        let mut req = CollRequest::new("barrier", self.t.ibarrier(seq), self.receiver());
        req.poll(true).map(|_| ())
    }

    /// Starts a barrier (`comm.Ibarrier()`; mpi4py's lowercase
    /// `comm.ibarrier()` is the same call): the request completes once
    /// every rank has started it. In between, this rank can go on working.
    ///
    /// ```no_run
    /// # let world = parallel_runtime::mpi::Comm::single();
    /// let mut done = world.ibarrier()?;
    /// while done.test()?.is_none() {
    ///     // work while the others catch up
    /// }
    /// # Ok::<(), parallel_runtime::mpi::Error>(())
    /// ```
    pub fn ibarrier(&self) -> Result<CollRequest<'_, ()>, Error> {
        let _span = crate::trace::op_span("ibarrier");
        let seq = self.receiver().next_collective();
        Ok(CollRequest::new(
            "ibarrier",
            self.t.ibarrier(seq),
            self.receiver(),
        ))
    }

    /// Starts broadcasting the root's `buf` into every rank's
    /// (`comm.Ibcast(buf, root)`): every rank passes a vector of the same
    /// length and gets it back from the request (filled with the root's
    /// values; the root's unchanged). At most `i32::MAX` elements (MPI's
    /// counts), else an [`Error::TooLarge`].
    ///
    /// ```no_run
    /// # let world = parallel_runtime::mpi::Comm::single();
    /// let buf = if world.rank() == 0 { vec![1.0, 2.0] } else { vec![0.0; 2] };
    /// let req = world.ibcast_buf(0, buf)?;
    /// // … work that does not need the values …
    /// let buf: Vec<f64> = req.wait()?;
    /// # Ok::<(), parallel_runtime::mpi::Error>(())
    /// ```
    pub fn ibcast_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        buf: Vec<T>,
    ) -> Result<CollRequest<'_, Vec<T>>, Error> {
        const OP: &str = "ibcast_buf";
        let _span = crate::trace::op_span(OP);
        self.t.check_rank(OP, root)?;
        self.check_count(OP, buf.len())?;
        let seq = self.receiver().next_collective();
        Ok(CollRequest::new(
            OP,
            self.t.ibcast(root, buf, seq),
            self.receiver(),
        ))
    }

    /// Starts the element-wise `op` of every rank's `send`, the result on
    /// every rank (`comm.Iallreduce(sendbuf, recvbuf, op)`): the request
    /// gives back the result, a vector as long as `send`. Every rank passes
    /// the same length, at most `i32::MAX` elements.
    pub fn iall_reduce_buf<T: Operand>(
        &self,
        send: Vec<T>,
        op: Op,
    ) -> Result<CollRequest<'_, Vec<T>>, Error> {
        const OP: &str = "iall_reduce_buf";
        let _span = crate::trace::op_span(OP);
        self.check_count(OP, send.len())?;
        let seq = self.receiver().next_collective();
        Ok(CollRequest::new(
            OP,
            self.t.iall_reduce(send, op, seq),
            self.receiver(),
        ))
    }

    /// Starts gathering every rank's `send` into the root's `recv`, in
    /// rank order (`comm.Igather(sendbuf, recvbuf, root)`): `recv` is
    /// `Some` (of `size() * send.len()` elements) on the root only, and the
    /// request gives it back filled (`None` elsewhere). Sizes as for
    /// [`Comm::gather_buf`].
    pub fn igather_buf<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Vec<T>,
        recv: Option<Vec<T>>,
    ) -> Result<CollRequest<'_, Option<Vec<T>>>, Error> {
        const OP: &str = "igather_buf";
        let _span = crate::trace::op_span(OP);
        self.t.check_rank(OP, root)?;
        self.t.check_blocks(OP, send.len())?;
        let expected = send.len() * self.size();
        let len = recv.as_ref().map(Vec::len);
        let is_root = self.t.check_root_recv(OP, root, len, expected)?;
        let recv = recv.filter(|_| is_root);
        let seq = self.receiver().next_collective();
        Ok(CollRequest::new(
            OP,
            self.t.igather(root, send, recv, seq),
            self.receiver(),
        ))
    }
}
