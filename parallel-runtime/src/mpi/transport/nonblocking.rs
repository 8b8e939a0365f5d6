//! What a transport adds for issue 11's operations: nonblocking
//! collectives that own their buffers, probes that leave the message where
//! it is, and Cartesian communicators. `local/nonblocking.rs` implements
//! it with the world of threads, `rsmpi/nonblocking.rs` with real MPI, and
//! `backend.rs` delegates to either.

use super::{Fit, Transport};
use crate::mpi::error::Error;
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Op, Operand, Scalar};

/// A nonblocking collective in flight, owning its buffers until it
/// completes, then giving back `R`.
///
/// Dropping one before it completed must leave no memory that the
/// transport may still write into: real MPI waits for it (MPI may neither
/// cancel nor free a nonblocking collective), or leaks its buffers while the
/// thread unwinds from a panic (the job is ending; waiting could hang it);
/// the local world's buffers are copies, so it just stops.
pub(crate) trait CollFlight<R> {
    /// One step: `Some(result)` once it completed (with `wait`, waits for
    /// that). Not called again after it returned `Some` or an error.
    fn poll(&mut self, wait: bool) -> Result<Option<R>, Error>;
}

/// What a probe saw of the message it left in place.
pub(crate) struct Peeked {
    /// The rank that sent it.
    pub(crate) source: usize,
    /// Its tag.
    pub(crate) tag: Tag,
    /// Its size in bytes (of its first piece, for a message in pieces).
    pub(crate) bytes: usize,
    /// How it fits a receive of the element type asked for.
    pub(crate) fit: Fit,
}

/// Issue 11's operations on one rank's end of a communicator.
pub(crate) trait Extended: Transport {
    /// Starts a barrier (`MPI_Ibarrier`). `seq` numbers the nonblocking
    /// collectives started on this communicator (the same on every rank,
    /// as they start them in the same order).
    fn ibarrier<'c>(&'c self, seq: i32) -> Box<dyn CollFlight<()> + 'c>;
    /// Starts broadcasting the root's `buf` into every rank's
    /// (`MPI_Ibcast`); gives `buf` back.
    fn ibcast<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        buf: Vec<T>,
        seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c>;
    /// Starts an element-wise `reduction` of every rank's `send`
    /// (`MPI_Iallreduce`); gives the result back.
    fn iall_reduce<'c, T: Operand>(
        &'c self,
        send: Vec<T>,
        reduction: Op,
        seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c>;
    /// Starts gathering every rank's `send` into the root's `recv` (`Some`,
    /// of `size() * send.len()` elements, on the root only) (`MPI_Igather`);
    /// gives `recv` back.
    fn igather<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        send: Vec<T>,
        recv: Option<Vec<T>>,
        seq: i32,
    ) -> Box<dyn CollFlight<Option<Vec<T>>> + 'c>;
    /// The first message that matches, left in place (`MPI_Probe`; with
    /// `wait` false, `MPI_Iprobe`, `None` when none has arrived); its fit
    /// to `T` (`op` names the probe, for the text).
    fn peek<T: Scalar>(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
        op: &'static str,
    ) -> Result<Option<Peeked>, Error>;
    /// The same ranks as a Cartesian communicator of `dims` (their product
    /// is the size, checked above) (`MPI_Cart_create`). The local world
    /// keeps the ranks in order whatever `reorder` says.
    fn cart_create(&self, dims: &[usize], periods: &[bool], reorder: bool) -> Result<Self, Error>;
}
