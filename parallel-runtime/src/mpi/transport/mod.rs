//! The transports a communicator runs on: the [`Transport`] trait says what
//! differs between them (point-to-point messages of typed elements, probes,
//! collectives on bytes and on buffers of numbers, split, abort, the tag
//! bound); `local.rs` implements it with a world of threads, `rsmpi.rs`
//! with real MPI (only with the `mpi` feature).
//!
//! A communicator holds a [`Backend`](backend::Backend), one of the two,
//! which implements the trait by delegating to it in `backend.rs`, in one
//! place: the only `match` on the backend. The trait has generic methods
//! (the element type of a buffer travels as a type, so that real MPI gets
//! its datatype and the local world can name it in errors), so it is
//! dispatched statically, which is also what the latency of small messages
//! wants.

pub(crate) mod backend;
pub(crate) mod collectives;
pub(crate) mod local;
pub(crate) mod nonblocking;
#[cfg(feature = "mpi")]
pub(crate) mod rsmpi;

use super::error::Error;
use super::message::{Source, Tag, TagMatch};
use super::op::{AnyBitPattern, Reduction, Scalar};

/// What differs between the local world of threads and real MPI. Every
/// method works on one rank's end of one communicator; the checks of
/// ranks, tags and lengths that are the same on both are made above, in
/// `Comm`.
pub(crate) trait Transport: Sized {
    /// A message matched by a probe, not yet received: no other receive
    /// can take it any more.
    type Matched: Matched;
    /// A send in flight, owning its vector.
    type Sending<T: Scalar>: InFlight<T>;

    /// This rank's number.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// The largest tag (`MPI_TAG_UB`).
    fn tag_ub(&self) -> Tag;
    /// Another handle on the same communicator (no communication).
    fn handle(&self) -> Self;
    /// The bytes per piece of an object-path message (see `wire.rs`).
    fn object_piece(&self) -> usize;

    // ----- point to point ------------------------------------------------

    /// Sends one piece (at most `max_count` elements) as one message.
    fn send<T: Scalar>(&self, piece: &[T], dest: usize, tag: Tag);
    /// [`Transport::send`] of a vector it may keep (no copy).
    fn send_owned<T: Scalar>(&self, piece: Vec<T>, dest: usize, tag: Tag) {
        self.send(&piece, dest, tag);
    }
    /// Starts sending `buf` as one message in pieces of `piece` elements;
    /// the send owns the vector until it completes.
    fn isend<T: Scalar>(
        &self,
        buf: Vec<T>,
        dest: usize,
        tag: Tag,
        piece: usize,
    ) -> Self::Sending<T>;
    /// The first message that matches, now matched to the caller; with
    /// `wait` false, `None` when none has arrived.
    fn probe(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
    ) -> Result<Option<Self::Matched>, Error>;
    /// Waits a little for a message that matches, for a receive behind
    /// others; an error where none can come.
    fn idle(&self, source: Source, tag: TagMatch) -> Result<(), Error>;

    // ----- collectives on the bytes of the object path ---------------------

    /// The root's bytes on every rank (`bytes` is `Some` on the root).
    fn bcast_bytes(
        &self,
        root: usize,
        bytes: Option<Vec<u8>>,
        op: &'static str,
    ) -> Result<Vec<u8>, Error>;
    /// Every rank's `n`, on every rank.
    fn all_lens(&self, n: usize, op: &'static str) -> Result<Vec<u64>, Error>;
    /// Every rank's bytes at the root; `lens` (from
    /// [`Transport::all_lens`]) were checked to fit MPI's counts.
    fn gather_bytes(
        &self,
        root: usize,
        bytes: Vec<u8>,
        lens: &[u64],
        op: &'static str,
    ) -> Result<Option<Vec<Vec<u8>>>, Error>;
    /// Every rank's bytes on every rank; `lens` as for `gather_bytes`.
    fn allgather_bytes(
        &self,
        bytes: Vec<u8>,
        lens: &[u64],
        op: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error>;
    /// The root's `parts[r]` to rank `r`. The root passes `Err(n)` instead
    /// when a count or displacement `n` is beyond MPI's counts; then every
    /// rank gets `Err(n)`.
    fn scatter_bytes(
        &self,
        root: usize,
        parts: Option<Result<Vec<Vec<u8>>, u64>>,
        op: &'static str,
    ) -> Result<Result<Vec<u8>, u64>, Error>;

    // ----- collectives on buffers (checked by `Comm`) -----------------------

    /// The root's `buf` into every rank's, of any length.
    fn bcast_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        buf: &mut [T],
        op: &'static str,
    ) -> Result<(), Error>;
    /// Blocks of `recv.len()` elements of the root's `send` (`Some` on the
    /// root only) to each rank in turn.
    fn scatter_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<&[T]>,
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error>;
    /// Every rank's `send` into the root's `recv` (`Some` on the root only).
    fn gather_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: &'static str,
    ) -> Result<(), Error>;
    /// Every rank's `send` into every rank's `recv`.
    fn all_gather_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error>;
    /// Element-wise `reduction` into the root's `recv` (`Some` on the root
    /// only), of any length.
    fn reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error>;
    /// Element-wise `reduction` into every rank's `recv`, of any length.
    fn all_reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error>;

    // ----- the communicator ----------------------------------------------------

    /// Waits until every rank has reached it.
    fn barrier(&self) -> Result<(), Error>;
    /// Ranks of the same color form a new communicator, ordered by
    /// `(key, rank)`; `None` for a rank without a color.
    fn split(&self, color: Option<u32>, key: i32) -> Result<Option<Self>, Error>;
    /// Ends the whole job with `code`.
    fn abort(&self, code: i32) -> !;

    // ----- issue 11, object path at buffer speed: out-of-band pieces --------

    /// The least bytes of a sequence of raw numbers that a blocking send of
    /// the object path sends as a piece of its own, straight from the
    /// value's memory (see `codec/oob.rs` and `wire.rs`); `None` where
    /// whole messages move anyway (the local world).
    fn out_of_band(&self) -> Option<usize> {
        None
    }
    /// The bytes of the whole object-path message from `source` with `tag`
    /// (its value's plain size), whose first transport message, just
    /// probed, holds `first` bytes; the message stays for its receive.
    fn whole_bytes(&self, source: usize, tag: Tag, first: usize) -> usize {
        let _ = (source, tag);
        first
    }
}

/// A message matched by a probe, not yet received.
pub(crate) trait Matched {
    /// The rank that sent it.
    fn source(&self) -> usize;
    /// Its tag.
    fn tag(&self) -> Tag;
    /// How many `T` it holds, or why it holds no whole number of them
    /// (`op` names the receive, for the text).
    fn fit<T: Scalar>(&self, op: &'static str) -> Fit;
    /// Receives it, of exactly `dst.len()` elements (as `fit` said).
    fn receive_into<T: Scalar + AnyBitPattern>(self, dst: &mut [T]);
    /// Receives it, of exactly `dst.len()` elements (as `fit` said), into
    /// memory not initialised before, writing every element (the
    /// out-of-band pieces of the object path, see `wire.rs`).
    fn receive_into_uninit<T: Scalar + AnyBitPattern>(self, dst: &mut [std::mem::MaybeUninit<T>]);
    /// Receives it and drops it (a receive that failed still consumes its
    /// message, as MPI's would).
    fn discard(self);
}

/// How a matched message fits a receive of some element type.
pub(crate) enum Fit {
    /// It holds this many elements.
    Whole(usize),
    /// It holds this many bytes, no whole number of elements.
    NotWhole(usize),
    /// Another mismatch, said in these words.
    Other(String),
}

/// A send started by [`Transport::isend`], owning its vector until it
/// completes.
pub(crate) trait InFlight<T> {
    /// Whether it completed when it started.
    fn is_done(&self) -> bool;
    /// The vector, if every send has completed.
    fn test(&mut self) -> Option<Vec<T>>;
    /// Waits until every send completed: the vector back.
    fn wait(&mut self) -> Vec<T>;
}
