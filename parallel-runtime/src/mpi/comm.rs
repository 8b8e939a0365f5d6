//! [`Comm`], the communicator: the object path (any serde type) and the
//! buffer path (slices of plain data) over one of two backends, real MPI
//! (rsmpi) or a local world of threads.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::Error;
use super::local::LocalComm;
use super::matching::Sink;
use super::op::{AnyBitPattern, Op, Operand, Scalar};
use super::request::{BufRequest, Request};
use super::wire::max_count;
use super::Tag;
use crate::codec;

/// Where a receive takes its message from (mpi4py's `source=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Any rank (`MPI.ANY_SOURCE`).
    Any,
    /// This rank.
    Rank(usize),
}

impl From<usize> for Source {
    fn from(rank: usize) -> Self {
        Source::Rank(rank)
    }
}

/// Which tags a receive accepts (mpi4py's `tag=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagMatch {
    /// Any tag (`MPI.ANY_TAG`).
    Any,
    /// This tag.
    Tag(Tag),
}

impl From<Tag> for TagMatch {
    fn from(tag: Tag) -> Self {
        TagMatch::Tag(tag)
    }
}

/// Receive from any rank (`MPI.ANY_SOURCE`).
pub const ANY_SOURCE: Source = Source::Any;
/// Receive with any tag (`MPI.ANY_TAG`).
pub const ANY_TAG: TagMatch = TagMatch::Any;

/// What a receive got: who sent it, with which tag, and how much (mpi4py's
/// `MPI.Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub(crate) source: usize,
    pub(crate) tag: Tag,
    pub(crate) count: usize,
}

impl Status {
    /// The rank that sent the message (`status.Get_source()`).
    pub fn source(&self) -> usize {
        self.source
    }
    /// Its tag (`status.Get_tag()`).
    pub fn tag(&self) -> Tag {
        self.tag
    }
    /// Elements received on the buffer path; bytes of the encoded value on
    /// the object path (`status.Get_count()`).
    pub fn count(&self) -> usize {
        self.count
    }
}

pub(crate) enum Inner {
    Local(LocalComm),
    #[cfg(feature = "mpi")]
    Mpi(super::real::MpiComm),
}

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
    pub(crate) inner: Inner,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.inner {
            Inner::Local(_) => "local",
            #[cfg(feature = "mpi")]
            Inner::Mpi(_) => "mpi",
        };
        f.debug_struct("Comm")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .field("backend", &kind)
            .finish()
    }
}

macro_rules! backend {
    ($self:ident, $c:ident => $e:expr) => {
        match &$self.inner {
            Inner::Local($c) => $e,
            #[cfg(feature = "mpi")]
            Inner::Mpi($c) => $e,
        }
    };
}

impl Comm {
    pub(crate) fn from_local(c: LocalComm) -> Comm {
        Comm {
            inner: Inner::Local(c),
        }
    }

    /// Another handle on the same world communicator (no MPI call): for
    /// the map engine's lazily made duplicate.
    pub(crate) fn handle(&self) -> Comm {
        match &self.inner {
            Inner::Local(c) => Comm::from_local(c.handle()),
            #[cfg(feature = "mpi")]
            Inner::Mpi(_) => Comm {
                inner: Inner::Mpi(super::real::MpiComm::new(
                    rsmpi::topology::SimpleCommunicator::world(),
                )),
            },
        }
    }

    /// A world of one rank, for a program started without `mpirun` (or
    /// built without the `mpi` feature).
    pub fn single() -> Comm {
        Comm::from_local(LocalComm::single())
    }

    /// This rank's number, `0..size()` (`comm.Get_rank()`).
    pub fn rank(&self) -> usize {
        backend!(self, c => c.rank())
    }

    /// The number of ranks (`comm.Get_size()`).
    pub fn size(&self) -> usize {
        backend!(self, c => c.size())
    }

    /// Whether this communicator runs on a real MPI library (as opposed to
    /// a world of one rank or a [`local`](super::local) world of threads).
    pub fn is_mpi(&self) -> bool {
        !matches!(self.inner, Inner::Local(_))
    }

    /// The underlying rsmpi communicator, for anything this type does not
    /// wrap (`None` for a world of one rank or a local world). Only with the
    /// `mpi` feature.
    #[cfg(feature = "mpi")]
    pub fn raw(&self) -> Option<&rsmpi::topology::SimpleCommunicator> {
        match &self.inner {
            Inner::Mpi(c) => Some(&c.comm),
            Inner::Local(_) => None,
        }
    }

    fn check_rank(&self, op: &'static str, target: usize) -> Result<(), Error> {
        if target < self.size() {
            Ok(())
        } else {
            Err(Error::NoSuchRank {
                rank: self.rank(),
                op,
                target,
                size: self.size(),
            })
        }
    }

    fn check_source(&self, op: &'static str, source: Source) -> Result<(), Error> {
        match source {
            Source::Any => Ok(()),
            Source::Rank(r) => self.check_rank(op, r),
        }
    }

    /// The largest tag a message may have (`MPI_TAG_UB`; tags are
    /// `0..=tag_ub()`). On real MPI, the library's value (at least 32767;
    /// OpenMPI's is `i32::MAX`); in a world of one rank or a local world,
    /// `i32::MAX`, OpenMPI's. Any other tag is an [`Error::Tag`], on every
    /// backend.
    pub fn tag_ub(&self) -> Tag {
        match &self.inner {
            Inner::Local(_) => Tag::MAX,
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => c.tag_ub(),
        }
    }

    fn check_tag(&self, op: &'static str, tag: Tag) -> Result<(), Error> {
        let tag_ub = self.tag_ub();
        if (0..=tag_ub).contains(&tag) {
            Ok(())
        } else {
            Err(Error::Tag {
                rank: self.rank(),
                op,
                tag,
                tag_ub,
            })
        }
    }

    fn check_tag_match(&self, op: &'static str, tag: TagMatch) -> Result<(), Error> {
        match tag {
            TagMatch::Any => Ok(()),
            TagMatch::Tag(t) => self.check_tag(op, t),
        }
    }

    /// The checks of a receive's source and tag.
    fn check_recv(&self, op: &'static str, source: Source, tag: TagMatch) -> Result<(), Error> {
        self.check_source(op, source)?;
        self.check_tag_match(op, tag)
    }

    fn encode<T: Serialize + ?Sized>(&self, op: &'static str, v: &T) -> Result<Vec<u8>, Error> {
        codec::encode(v).map_err(Error::codec(self.rank(), op))
    }

    /// Decodes a value that rank `from` sent.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        op: &'static str,
        from: usize,
        b: &[u8],
    ) -> Result<T, Error> {
        codec::decode(b).map_err(|e| Error::decoding(self.rank(), op, from, e))
    }

    /// An error when a count or displacement of a collective (`lens`, one
    /// per rank, of elements) is beyond one MPI call.
    fn check_varcount(&self, op: &'static str, lens: &[u64]) -> Result<(), Error> {
        match beyond_counts(lens) {
            None => Ok(()),
            Some(got) => Err(self.too_large(op, "a count or displacement", got)),
        }
    }

    fn too_large(&self, op: &'static str, what: &'static str, got: u64) -> Error {
        Error::TooLarge {
            rank: self.rank(),
            op,
            what,
            got,
            max: max_count(),
        }
    }

    /// An error when a collective of `n` elements per rank (so `n *
    /// size()` in all) is beyond one MPI call.
    fn check_blocks(&self, op: &'static str, n: usize) -> Result<(), Error> {
        let all = (n as u64).saturating_mul(self.size() as u64);
        if all > max_count() as u64 {
            return Err(self.too_large(op, "the blocks of all ranks", all));
        }
        Ok(())
    }

    // ----- the object path: bytes on the wire ---------------------------

    fn bcast_bytes(&self, root: usize, bytes: Option<Vec<u8>>) -> Result<Vec<u8>, Error> {
        match &self.inner {
            Inner::Local(c) => c.bcast(root, bytes, "bcast"),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => c.bcast_bytes(root, bytes).ok_or(Error::RootValueMissing {
                rank: c.rank(),
                op: "bcast",
                root,
            }),
        }
    }

    /// Every rank's `n`, on every rank.
    fn all_lens(&self, n: usize, op: &'static str) -> Result<Vec<u64>, Error> {
        match &self.inner {
            Inner::Local(c) => c.allgather(n as u64, op),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => Ok(c.all_lens(n)),
        }
    }

    fn gather_bytes(
        &self,
        root: usize,
        bytes: Vec<u8>,
        op: &'static str,
    ) -> Result<Option<Vec<Vec<u8>>>, Error> {
        // Every rank learns every length, so that all refuse together.
        let lens = self.all_lens(bytes.len(), op)?;
        self.check_varcount(op, &lens)?;
        match &self.inner {
            Inner::Local(c) => c.gather(root, bytes, op),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => Ok(c.gather_bytes(root, &bytes, &lens)),
        }
    }

    pub(crate) fn allgather_bytes(
        &self,
        bytes: Vec<u8>,
        op: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let lens = self.all_lens(bytes.len(), op)?;
        self.check_varcount(op, &lens)?;
        match &self.inner {
            Inner::Local(c) => c.allgather(bytes, op),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => Ok(c.allgather_bytes(&bytes, &lens)),
        }
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
        self.check_rank("send", dest)?;
        self.check_tag("send", tag)?;
        let bytes = self.encode("send", value)?;
        self.send_object(bytes, dest, tag);
        Ok(())
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
        self.check_recv("recv", source, tag)?;
        #[cfg(feature = "mpi")]
        if let Some(got) = self.recv_object_direct(source, tag, "recv") {
            let (value, status) = got?;
            return Ok((value, status));
        }
        let (bytes, status) = self.recv_bytes_ordered(source, tag, "recv")?;
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
        self.check_recv("sendrecv", source, recv_tag)?;
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
        self.check_rank("isend", dest)?;
        self.check_tag("isend", tag)?;
        let bytes = self.encode("isend", value)?;
        match &self.inner {
            Inner::Local(_) => {
                self.send_object(bytes, dest, tag);
                Ok(Request::done())
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => Ok(Request::sending(c.isend_pieces(
                bytes,
                dest,
                tag,
                super::wire::object_piece(),
            ))),
        }
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
        self.check_recv("irecv", source, tag)?;
        let id = self.post_recv(source, tag, Sink::Bytes(Vec::new()), "irecv");
        Ok(Request::receiving(self, id))
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
        self.check_rank("bcast", root)?;
        if self.rank() == root {
            let Some(value) = value else {
                return Err(Error::RootValueMissing {
                    rank: self.rank(),
                    op: "bcast",
                    root,
                });
            };
            let bytes = self.encode("bcast", &value)?;
            self.bcast_bytes(root, Some(bytes))?;
            Ok(value)
        } else {
            let bytes = self.bcast_bytes(root, None)?;
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
        self.check_rank("scatter", root)?;
        let mut parts = None;
        if self.rank() == root {
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
            let encoded = values
                .iter()
                .map(|v| self.encode("scatter", v))
                .collect::<Result<Vec<_>, _>>()?;
            let lens: Vec<u64> = encoded.iter().map(|p| p.len() as u64).collect();
            parts = Some(match beyond_counts(&lens) {
                None => Ok(encoded),
                Some(n) => Err(n),
            });
        }
        let mine = match &self.inner {
            Inner::Local(c) => {
                let parts = parts.map(|p| match p {
                    Ok(parts) => parts.into_iter().map(Ok).collect(),
                    Err(n) => vec![Err(n); self.size()],
                });
                c.scatter(root, parts, "scatter")?
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => c.scatter_bytes(root, parts),
        };
        match mine {
            Ok(bytes) => self.decode("scatter", root, &bytes),
            Err(n) => Err(self.too_large("scatter", "a count or displacement", n)),
        }
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
        self.check_rank("gather", root)?;
        let bytes = self.encode("gather", value)?;
        match self.gather_bytes(root, bytes, "gather")? {
            None => Ok(None),
            Some(all) => all
                .iter()
                .enumerate()
                .map(|(r, b)| self.decode("gather", r, b))
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

    /// Combines every rank's number with `op`; the result at `root`
    /// (`comm.reduce(x, op=MPI.SUM, root=0)`). Numbers go through the
    /// buffer path, at the speed of the C library.
    pub fn reduce<T: Operand>(&self, root: usize, value: T, op: Op) -> Result<Option<T>, Error> {
        let _span = crate::trace::op_span("reduce");
        let mut out = [value];
        let is_root = self.rank() == root;
        self.reduce_buf(root, &[value], is_root.then_some(&mut out[..]), op)?;
        Ok(is_root.then_some(out[0]))
    }

    /// Combines every rank's number with `op`, result on every rank
    /// (`comm.allreduce(x, op=MPI.SUM)`).
    pub fn all_reduce<T: Operand>(&self, value: T, op: Op) -> Result<T, Error> {
        let _span = crate::trace::op_span("all_reduce");
        let mut out = [value];
        self.all_reduce_buf(&[value], &mut out, op)?;
        Ok(out[0])
    }

    /// Folds every rank's value with `f` in rank order,
    /// `f(f(v0, v1), v2)…`; the result at `root` (`comm.reduce(obj,
    /// op=my_function)`). Any serde type; `f` need not commute.
    pub fn reduce_with<T, F>(&self, root: usize, value: T, f: F) -> Result<Option<T>, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        let _span = crate::trace::op_span("reduce_with");
        Ok(self
            .gather(root, &value)?
            .and_then(|all| all.into_iter().reduce(f)))
    }

    /// [`Comm::reduce_with`] with the result on every rank
    /// (`comm.allreduce(obj, op=my_function)`).
    pub fn all_reduce_with<T, F>(&self, value: T, f: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(T, T) -> T,
    {
        let _span = crate::trace::op_span("all_reduce_with");
        let folded = self.reduce_with(0, value, f)?;
        self.bcast(0, folded)
    }

    /// Waits until every rank has reached it (`comm.barrier()`).
    pub fn barrier(&self) -> Result<(), Error> {
        let _span = crate::trace::op_span("barrier");
        match &self.inner {
            Inner::Local(c) => c.barrier(),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                c.barrier();
                Ok(())
            }
        }
    }

    /// Splits into sub-communicators: ranks that pass the same `color` form
    /// one, ordered by `key` then by rank; `None` for a rank that joins
    /// none (`comm.Split(color, key)`; `None` is `MPI.UNDEFINED`).
    pub fn split(&self, color: Option<u32>, key: i32) -> Result<Option<Comm>, Error> {
        let _span = crate::trace::op_span("split");
        Ok(match &self.inner {
            Inner::Local(c) => c.split(color, key)?.map(Comm::from_local),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => c.split(color, key).map(|c| Comm {
                inner: Inner::Mpi(c),
            }),
        })
    }

    /// A communicator with the same ranks whose messages never mix with
    /// this one's (`comm.Dup()`): for a library that communicates on its own.
    pub fn dup(&self) -> Result<Comm, Error> {
        self.split(Some(0), self.rank() as i32)
            .map(|c| c.unwrap_or_else(|| unreachable!("every rank passed a color")))
    }

    // ----- the buffer path ----------------------------------------------

    /// Sends a slice without a copy (`comm.Send(buf, dest, tag)`), of any
    /// length (over `i32::MAX` elements, in pieces).
    pub fn send_buf<T: Scalar>(&self, buf: &[T], dest: usize, tag: Tag) -> Result<(), Error> {
        let _span = crate::trace::op_span("send_buf");
        self.check_rank("send_buf", dest)?;
        self.check_tag("send_buf", tag)?;
        self.send_slice(buf, dest, tag);
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
        self.check_recv("recv_buf", source, tag)?;
        self.recv_ordered(source, tag, buf, "recv_buf")
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
        self.check_rank("isend_buf", dest)?;
        self.check_tag("isend_buf", tag)?;
        match &self.inner {
            Inner::Local(_) => {
                self.send_slice(&buf, dest, tag);
                Ok(BufRequest::ready(buf, self.rank()))
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => Ok(BufRequest::mpi(c.isend_buf(buf, dest, tag), c.rank())),
        }
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
        self.check_recv("irecv_buf", source, tag)?;
        Ok(BufRequest::receiving(self, buf, source, tag))
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
        self.check_rank("sendrecv_buf", dest)?;
        self.check_tag("sendrecv_buf", send_tag)?;
        self.check_recv("sendrecv_buf", source, recv_tag)?;
        match &self.inner {
            Inner::Local(_) => {
                self.send_slice(send, dest, send_tag);
                self.recv_ordered(source, recv_tag, recv, "sendrecv_buf")
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(_) => {
                // Started, then the receive (checked against `recv`, in
                // post order), then the send completes.
                let req = self.isend_buf(send.to_vec(), dest, send_tag)?;
                let st = self.recv_ordered(source, recv_tag, recv, "sendrecv_buf")?;
                req.wait()?;
                Ok(st)
            }
        }
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
        self.check_rank("bcast_buf", root)?;
        match &self.inner {
            Inner::Local(c) => {
                let got = c.bcast(root, (c.rank() == root).then(|| buf.to_vec()), "bcast_buf")?;
                self.copy_in("bcast_buf", "the root's buffer", buf, &got)
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                for piece in buf.chunks_mut(max_count()) {
                    c.bcast_buf(root, piece);
                }
                Ok(())
            }
        }
    }

    fn copy_in<T: Copy>(
        &self,
        op: &'static str,
        what: &'static str,
        dst: &mut [T],
        src: &[T],
    ) -> Result<(), Error> {
        if dst.len() != src.len() {
            return Err(Error::Length {
                rank: self.rank(),
                op,
                what,
                got: src.len(),
                expected: dst.len(),
            });
        }
        dst.copy_from_slice(src);
        Ok(())
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
        self.check_rank("scatter_buf", root)?;
        let n = recv.len();
        self.check_blocks("scatter_buf", n)?;
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
        match &self.inner {
            Inner::Local(c) => {
                let parts = send
                    .filter(|_| is_root)
                    .map(|s| s.chunks(n.max(1)).map(<[T]>::to_vec).collect::<Vec<_>>());
                let parts = parts.map(|mut p| {
                    p.resize_with(self.size(), Vec::new);
                    p
                });
                let got = c.scatter(root, parts, "scatter_buf")?;
                self.copy_in("scatter_buf", "the block sent", recv, &got)
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                c.scatter_buf(root, send.filter(|_| is_root), recv);
                Ok(())
            }
        }
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
        self.check_rank("gather_buf", root)?;
        self.check_blocks("gather_buf", send.len())?;
        let is_root = self.rank() == root;
        let recv = if is_root {
            let Some(recv) = recv else {
                return Err(Error::RootValueMissing {
                    rank: root,
                    op: "gather_buf",
                    root,
                });
            };
            if recv.len() != send.len() * self.size() {
                return Err(Error::Length {
                    rank: root,
                    op: "gather_buf",
                    what: "the root's receive buffer",
                    got: recv.len(),
                    expected: send.len() * self.size(),
                });
            }
            Some(recv)
        } else {
            None
        };
        match &self.inner {
            Inner::Local(c) => {
                if let (Some(all), Some(recv)) =
                    (c.gather(root, send.to_vec(), "gather_buf")?, recv)
                {
                    let flat: Vec<T> = all.concat();
                    self.copy_in("gather_buf", "the blocks gathered", recv, &flat)?;
                }
                Ok(())
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                c.gather_buf(root, send, recv);
                Ok(())
            }
        }
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
        self.check_blocks("all_gather_buf", send.len())?;
        if recv.len() != send.len() * self.size() {
            return Err(Error::Length {
                rank: self.rank(),
                op: "all_gather_buf",
                what: "the receive buffer",
                got: recv.len(),
                expected: send.len() * self.size(),
            });
        }
        match &self.inner {
            Inner::Local(c) => {
                let all = c.allgather(send.to_vec(), "all_gather_buf")?;
                self.copy_in("all_gather_buf", "the blocks gathered", recv, &all.concat())
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                c.all_gather_buf(send, recv);
                Ok(())
            }
        }
    }

    /// Element-wise `op` of every rank's `send` into the root's `recv`
    /// (`comm.Reduce(sendbuf, recvbuf, op, root)`); `recv` is `Some` on the
    /// root only. Of any length (over `i32::MAX` elements, in pieces).
    pub fn reduce_buf<T: Operand>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("reduce_buf");
        self.check_rank("reduce_buf", root)?;
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
        match &self.inner {
            Inner::Local(c) => {
                if let (Some(all), Some(recv)) =
                    (c.gather(root, send.to_vec(), "reduce_buf")?, recv)
                {
                    fold_into(self, "reduce_buf", recv, &all, op)?;
                }
                Ok(())
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                let p = max_count();
                match recv {
                    Some(recv) => {
                        for (s, r) in send.chunks(p).zip(recv.chunks_mut(p)) {
                            c.reduce_buf(root, s, Some(r), op);
                        }
                    }
                    None => {
                        for s in send.chunks(p) {
                            c.reduce_buf(root, s, None, op);
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Element-wise `op` of every rank's `send` into every rank's `recv`
    /// (`comm.Allreduce(sendbuf, recvbuf, op)`), of any length (over
    /// `i32::MAX` elements, in pieces).
    pub fn all_reduce_buf<T: Operand>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: Op,
    ) -> Result<(), Error> {
        let _span = crate::trace::op_span("all_reduce_buf");
        if recv.len() != send.len() {
            return Err(Error::Length {
                rank: self.rank(),
                op: "all_reduce_buf",
                what: "the receive buffer",
                got: recv.len(),
                expected: send.len(),
            });
        }
        match &self.inner {
            Inner::Local(c) => {
                let all = c.allgather(send.to_vec(), "all_reduce_buf")?;
                fold_into(self, "all_reduce_buf", recv, &all, op)
            }
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                let p = max_count();
                for (s, r) in send.chunks(p).zip(recv.chunks_mut(p)) {
                    c.all_reduce_buf(s, r, op);
                }
                Ok(())
            }
        }
    }

    /// Ends the whole job at once with `code` (`comm.Abort(code)`): every
    /// rank stops, and `mpirun` exits non-zero. In a world of one rank or a
    /// local world, exits this process.
    pub fn abort(&self, code: i32) -> ! {
        match &self.inner {
            Inner::Local(_) => std::process::exit(code),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => c.abort(code),
        }
    }
}

/// The first count or displacement of consecutive blocks of `lens`
/// elements that one MPI call cannot describe.
fn beyond_counts(lens: &[u64]) -> Option<u64> {
    let max = max_count() as u64;
    let mut at = 0u64;
    for &n in lens {
        if n > max {
            return Some(n);
        }
        if at > max {
            return Some(at);
        }
        at = at.saturating_add(n);
    }
    None
}

/// `recv[i] = op(all[0][i], all[1][i], …)`, in rank order.
fn fold_into<T: Operand>(
    comm: &Comm,
    what: &'static str,
    recv: &mut [T],
    all: &[Vec<T>],
    op: Op,
) -> Result<(), Error> {
    for (r, part) in all.iter().enumerate() {
        if part.len() != recv.len() {
            return Err(Error::Length {
                rank: comm.rank(),
                op: what,
                what: "a rank's send buffer",
                got: part.len(),
                expected: recv.len(),
            });
        }
        if r == 0 {
            recv.copy_from_slice(part);
        } else {
            for (a, b) in recv.iter_mut().zip(part) {
                *a = T::apply(op, *a, *b);
            }
        }
    }
    Ok(())
}
