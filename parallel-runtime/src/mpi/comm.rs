//! [`Comm`], the communicator, and its object path (any serde type),
//! written once over the communicator's transport; the buffer path is in
//! `buffer.rs`.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::check::{beyond_counts, Checks};
use super::error::{decode, Error};
use super::matching::{Pending, Receiver, Sink};
use super::message::{Source, Status, Tag, TagMatch};
use super::request::Request;
use super::transport::backend::Backend;
use super::transport::Transport;
use super::wire::send_value;
use crate::codec;

#[cfg(doc)]
use super::message::{ANY_SOURCE, ANY_TAG};

/// A communicator: a group of ranks that exchange messages, as mpi4py's
/// `MPI.Comm`. `#[mpi_main]` hands `main` the world; [`Comm::split`] makes
/// sub-communicators.
///
/// Every method that communicates returns `Result<_, `[`Error`]`>`: misuse
/// that can be detected (a rank out of range, a root without a value, a
/// value that does not decode) is an error naming the rank, never a hang.
/// Collectives must be called by every rank of the communicator in the same
/// order, as in MPI.
pub struct Comm {
    /// The local world of threads or real MPI.
    pub(super) t: Backend,
    /// Receives posted and not yet completed, in the order posted (shared
    /// by the handles on this rank's end).
    pending: Arc<Pending>,
    /// Whether ranks of other programs share it ([`Comm::with_foreign_peers`]).
    pub(super) foreign_peers: bool,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comm")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .field("backend", &self.t.kind())
            .finish()
    }
}

/// The count `scatter`'s root sends, through the transport's way of
/// refusing, when it refuses its arguments: larger than any part (a real
/// refusal for size is a count past `i32::MAX`, far below it).
const SCATTER_REFUSED: u64 = i64::MAX as u64;

impl Comm {
    /// This rank's end of a communicator on transport `t`.
    pub(crate) fn new(t: Backend) -> Comm {
        Comm {
            t,
            pending: Arc::default(),
            foreign_peers: false,
        }
    }

    /// A communicator made from this one (a split, a grid): with the same
    /// peers.
    pub(super) fn derived(&self, t: Backend) -> Comm {
        Comm {
            foreign_peers: self.foreign_peers,
            ..Comm::new(t)
        }
    }

    /// Another handle on the same world communicator (no MPI call): for
    /// the map engine's lazily made duplicate.
    pub(crate) fn handle(&self) -> Comm {
        Comm {
            t: self.t.handle(),
            pending: Arc::clone(&self.pending),
            foreign_peers: self.foreign_peers,
        }
    }

    /// Which communicator this is: the same for every [`Comm::handle`] of
    /// it (they share its posted receives), different for a duplicate.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.pending) as *const () as usize
    }

    /// The receive side: the transport and the receives posted on it.
    pub(super) fn receiver(&self) -> Receiver<'_> {
        Receiver::new(&self.t, &self.pending)
    }

    /// A world of one rank, for a program started without `mpirun` (or
    /// built without the `mpi` feature).
    pub fn single() -> Comm {
        Comm::new(Backend::single())
    }

    /// This rank's number, `0..size()` (`comm.Get_rank()`).
    pub fn rank(&self) -> usize {
        self.t.rank()
    }

    /// The number of ranks (`comm.Get_size()`).
    pub fn size(&self) -> usize {
        self.t.size()
    }

    /// Whether this communicator runs on a real MPI library (as opposed to
    /// a world of one rank or a [`local`](super::local) world of threads).
    pub fn is_mpi(&self) -> bool {
        self.t.is_mpi()
    }

    /// The underlying rsmpi communicator, for anything this type does not
    /// wrap (`None` for a world of one rank or a local world). Only with the
    /// `mpi` feature.
    #[cfg(feature = "mpi")]
    pub fn raw(&self) -> Option<&rsmpi::topology::SimpleCommunicator> {
        self.t.raw()
    }

    /// The largest tag a message may have (`MPI_TAG_UB`; tags are
    /// `0..=tag_ub()`). On real MPI, the library's value (at least 32767;
    /// OpenMPI's is `i32::MAX`); in a world of one rank or a local world,
    /// `i32::MAX`, OpenMPI's. Any other tag is an [`Error::Tag`], on every
    /// backend.
    pub fn tag_ub(&self) -> Tag {
        self.t.tag_ub()
    }

    fn encode<T: Serialize + ?Sized>(&self, op: &'static str, v: &T) -> Result<Vec<u8>, Error> {
        codec::encode(v).map_err(Error::codec(self.rank(), op))
    }

    /// Decodes a value that rank `from` sent.
    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        op: &'static str,
        from: usize,
        b: &[u8],
    ) -> Result<T, Error> {
        decode(self.rank(), op, from, b)
    }

    // ----- the object path: bytes on the wire ---------------------------

    fn gather_bytes(
        &self,
        root: usize,
        bytes: Vec<u8>,
        op: &'static str,
    ) -> Result<Option<Vec<Vec<u8>>>, Error> {
        // Every rank learns every length, so that all refuse together.
        let lens = self.t.all_lens(bytes.len(), op)?;
        self.t.check_varcount(op, &lens)?;
        self.t.gather_bytes(root, bytes, &lens, op)
    }

    /// Every rank's bytes on every rank, in rank order.
    pub(crate) fn allgather_bytes(
        &self,
        bytes: Vec<u8>,
        op: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let lens = self.t.all_lens(bytes.len(), op)?;
        self.t.check_varcount(op, &lens)?;
        self.t.allgather_bytes(bytes, &lens, op)
    }

    // ----- the object path ----------------------------------------------

    /// Sends `value` to rank `dest` with `tag` (`comm.send(obj, dest, tag)`).
    ///
    /// Small messages return at once; a large one may wait until the
    /// receiver posts its receive, as in MPI (use [`Comm::isend`] or
    /// [`Comm::sendrecv`] for exchanges). Values of any size go (over
    /// 2 GiB, in pieces, as mpi4py's `pkl5`). The message names the type of
    /// `value`: a receive of another type is an [`Error::WrongType`].
    pub fn send<T: Serialize + ?Sized>(
        &self,
        value: &T,
        dest: usize,
        tag: Tag,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("send");
        self.t.check_rank("send", dest)?;
        self.t.check_tag("send", tag)?;
        if self.receiver().has_unmatched() {
            // Receives posted before it claim their messages while it
            // waits (see `Receiver::poll_send`).
            let bytes = self.encode("send", value)?;
            let sending = self.t.isend(bytes, dest, tag, self.t.object_piece());
            return Request::<()>::sending(sending, self.receiver()).wait();
        }
        send_value(&self.t, value, dest, tag).map_err(Error::codec(self.rank(), "send"))
    }

    /// Receives a value from `source` (a rank or [`ANY_SOURCE`]) with `tag`
    /// (a tag or [`ANY_TAG`]) (`comm.recv(source=…, tag=…)`).
    ///
    /// A message of another type than `T` is an [`Error::WrongType`] naming
    /// both (serde-compatible types match: `&str` sent, `String` received;
    /// `&[T]` or `Vec<T>`; `&T`, `Box<T>` or `T`); the message is consumed.
    /// Receives match messages in the order they were posted, as in MPI:
    /// an earlier [`Comm::irecv`] that fits takes its message first.
    pub fn recv<T: DeserializeOwned>(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<T, Error> {
        let _span = crate::trace::op_span("recv");
        self.recv_status(source, tag).map(|(v, _)| v)
    }

    /// [`Comm::recv`], with the [`Status`]: who sent it, with which tag
    /// (`comm.recv(…, status=st)`).
    pub fn recv_status<T: DeserializeOwned>(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<(T, Status), Error> {
        let _span = crate::trace::op_span("recv_status");
        let (source, tag) = (source.into(), tag.into());
        self.t.check_recv("recv", source, tag)?;
        if let Some(got) = self.receiver().recv_value_now(source, tag, "recv") {
            return got;
        }
        let (bytes, status) = self.receiver().recv_bytes_ordered(source, tag, "recv")?;
        Ok((self.decode("recv", status.source, &bytes)?, status))
    }

    /// Sends `value` to `dest` and receives from `source` at the same time,
    /// without deadlock when two ranks exchange (`comm.sendrecv(obj, dest,
    /// sendtag, None, source, recvtag)`).
    pub fn sendrecv<S: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        value: &S,
        dest: usize,
        send_tag: Tag,
        source: impl Into<Source>,
        recv_tag: impl Into<TagMatch>,
    ) -> Result<R, Error> {
        let _span = crate::trace::op_span("sendrecv");
        let (source, recv_tag) = (source.into(), recv_tag.into());
        self.t.check_recv("sendrecv", source, recv_tag)?;
        let req = self.isend(value, dest, send_tag)?;
        let got = self.recv(source, recv_tag)?;
        req.wait()?;
        Ok(got)
    }

    /// Starts sending `value`; the returned request completes when the send
    /// has (`comm.isend(obj, dest, tag)`). The value is encoded now, so it
    /// may be changed or dropped at once.
    pub fn isend<T: Serialize + ?Sized>(
        &self,
        value: &T,
        dest: usize,
        tag: Tag,
    ) -> Result<Request<'_, ()>, Error> {
        let _span = crate::trace::op_span("isend");
        self.t.check_rank("isend", dest)?;
        self.t.check_tag("isend", tag)?;
        let bytes = self.encode("isend", value)?;
        let piece = self.t.object_piece();
        let sending = self.t.isend(bytes, dest, tag, piece);
        Ok(Request::sending(sending, self.receiver()))
    }

    /// Starts receiving a value; [`Request::wait`] returns it
    /// (`comm.irecv(source=…, tag=…)`).
    ///
    /// As in MPI, receives match messages in the order they were posted:
    /// two `irecv`s that fit the same messages get them in the order sent,
    /// whichever is waited on first, and a later [`Comm::recv`] gets the
    /// message after the one this request takes.
    pub fn irecv<T: DeserializeOwned>(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<Request<'_, T>, Error> {
        let _span = crate::trace::op_span("irecv");
        let (source, tag) = (source.into(), tag.into());
        self.t.check_recv("irecv", source, tag)?;
        let receiver = self.receiver();
        let id = receiver.post_recv(source, tag, Sink::Bytes(Vec::new()), "irecv");
        Ok(Request::receiving(receiver, id))
    }

    /// `root`'s value on every rank (`comm.bcast(obj, root)`): the root
    /// passes `Some(value)`, the others `None`. Values of any size go (over
    /// 2 GiB, in pieces).
    ///
    /// ```no_run
    /// # let world = parallel_runtime::mpi::Comm::single();
    /// let data = (world.rank() == 0).then(|| vec![1.0, 2.0]);
    /// let data: Vec<f64> = world.bcast(0, data)?;
    /// # Ok::<(), parallel_runtime::mpi::Error>(())
    /// ```
    pub fn bcast<T: Serialize + DeserializeOwned>(
        &self,
        root: usize,
        value: Option<T>,
    ) -> Result<T, Error> {
        let _span = crate::trace::op_span("bcast");
        self.t.check_rank("bcast", root)?;
        if self.rank() == root {
            let bytes = match value.as_ref() {
                None => Err(Error::RootValueMissing {
                    rank: self.rank(),
                    op: "bcast",
                    root,
                }),
                Some(v) => self.encode("bcast", v),
            };
            // A root that refuses sends no bytes, which no value encodes to
            // (every encoding starts with its type's header): the others
            // return an error naming the root instead of waiting for it.
            let (bytes, mine) = match bytes {
                Ok(b) => (b, Ok(())),
                Err(e) => (Vec::new(), Err(e)),
            };
            self.t.bcast_bytes(root, Some(bytes), "bcast")?;
            mine?;
            Ok(value.unwrap_or_else(|| unreachable!("a root without a value refused")))
        } else {
            let bytes = self.t.bcast_bytes(root, None, "bcast")?;
            if bytes.is_empty() {
                return Err(self.refused("bcast", root));
            }
            self.decode("bcast", root, &bytes)
        }
    }

    /// `values[r]` of the root to rank `r` (`comm.scatter(list, root)`):
    /// the root passes `Some` list of `size()` values, the others `None`.
    /// An encoded value, or all of them together, may not exceed
    /// `i32::MAX` bytes (MPI's counts): else an [`Error::TooLarge`] on
    /// every rank.
    pub fn scatter<T: Serialize + DeserializeOwned>(
        &self,
        root: usize,
        values: Option<Vec<T>>,
    ) -> Result<T, Error> {
        let _span = crate::trace::op_span("scatter");
        self.t.check_rank("scatter", root)?;
        let mut parts = None;
        let mut mine = Ok(());
        if self.rank() == root {
            let encoded = self.scatter_parts(root, values);
            parts = Some(match encoded {
                Ok(encoded) => {
                    let lens: Vec<u64> = encoded.iter().map(|p| p.len() as u64).collect();
                    match beyond_counts(&lens) {
                        None => Ok(encoded),
                        Some(n) => Err(n),
                    }
                }
                // The others learn of the refusal through the transport's
                // way of refusing (a count no part can have).
                Err(e) => {
                    mine = Err(e);
                    Err(SCATTER_REFUSED)
                }
            });
        }
        let got = self.t.scatter_bytes(root, parts, "scatter")?;
        mine?;
        match got {
            Ok(bytes) => self.decode("scatter", root, &bytes),
            Err(SCATTER_REFUSED) => Err(self.refused("scatter", root)),
            Err(n) => Err(self.t.too_large("scatter", "a count or displacement", n)),
        }
    }

    /// The root's list of `scatter`, checked and encoded.
    fn scatter_parts<T: Serialize>(
        &self,
        root: usize,
        values: Option<Vec<T>>,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let values = values.ok_or(Error::RootValueMissing {
            rank: self.rank(),
            op: "scatter",
            root,
        })?;
        if values.len() != self.size() {
            return Err(Error::Length {
                rank: self.rank(),
                op: "scatter",
                what: "the root's list",
                got: values.len(),
                expected: self.size(),
            });
        }
        values.iter().map(|v| self.encode("scatter", v)).collect()
    }

    /// Every rank's value at `root`, in rank order: `Some` there, `None`
    /// elsewhere (`comm.gather(obj, root)`). An encoded value, or all of
    /// them together, may not exceed `i32::MAX` bytes (MPI's counts): else
    /// an [`Error::TooLarge`] on every rank.
    pub fn gather<T: Serialize + DeserializeOwned>(
        &self,
        root: usize,
        value: &T,
    ) -> Result<Option<Vec<T>>, Error> {
        let _span = crate::trace::op_span("gather");
        self.gather_as("gather", root, value)
    }

    /// [`Comm::gather`], its errors naming `op` (`reduce_with` gathers).
    pub(super) fn gather_as<T: Serialize + DeserializeOwned>(
        &self,
        op: &'static str,
        root: usize,
        value: &T,
    ) -> Result<Option<Vec<T>>, Error> {
        self.t.check_rank(op, root)?;
        let bytes = self.encode(op, value)?;
        match self.gather_bytes(root, bytes, op)? {
            None => Ok(None),
            Some(all) => all
                .iter()
                .enumerate()
                .map(|(r, b)| self.decode(op, r, b))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    /// Every rank's value on every rank, in rank order
    /// (`comm.allgather(obj)`); sizes as for [`Comm::gather`].
    pub fn allgather<T: Serialize + DeserializeOwned>(&self, value: &T) -> Result<Vec<T>, Error> {
        let _span = crate::trace::op_span("allgather");
        let bytes = self.encode("allgather", value)?;
        self.allgather_bytes(bytes, "allgather")?
            .iter()
            .enumerate()
            .map(|(r, b)| self.decode("allgather", r, b))
            .collect()
    }

    /// Waits until every rank has reached it (`comm.barrier()`). While it
    /// waits, the receives this rank posted ([`Comm::irecv`],
    /// [`Comm::irecv_buf`]) take their messages, as in MPI.
    pub fn barrier(&self) -> Result<(), Error> {
        let _span = crate::trace::op_span("barrier");
        if self.t.is_mpi() {
            return self.barrier_progressing();
        }
        self.t.barrier()
    }

    /// Splits into sub-communicators: ranks that pass the same `color` form
    /// one, ordered by `key` then by rank; `None` for a rank that joins
    /// none (`comm.Split(color, key)`; `None` is `MPI.UNDEFINED`).
    ///
    /// A color is MPI's non-negative `int`: one past `i32::MAX` is an
    /// [`Error::Argument`], on every backend.
    pub fn split(&self, color: Option<u32>, key: i32) -> Result<Option<Comm>, Error> {
        let _span = crate::trace::op_span("split");
        if let Some(c) = color.filter(|&c| c > i32::MAX as u32) {
            return Err(self.argument(
                "split",
                format!("color {c} is past {}, the largest MPI accepts", i32::MAX),
            ));
        }
        Ok(self.t.split(color, key)?.map(|t| self.derived(t)))
    }

    /// A communicator with the same ranks whose messages never mix with
    /// this one's (`comm.Dup()`): for a library that communicates on its own.
    pub fn dup(&self) -> Result<Comm, Error> {
        let _span = crate::trace::op_span("dup");
        self.split(Some(0), self.rank() as i32)
            .map(|c| c.unwrap_or_else(|| unreachable!("every rank passed a color")))
    }

    /// Ends the whole job at once with `code` (`comm.Abort(code)`): every
    /// rank stops, and `mpirun` exits non-zero. In a world of one rank or a
    /// local world, exits this process.
    pub fn abort(&self, code: i32) -> ! {
        self.t.abort(code)
    }
}
