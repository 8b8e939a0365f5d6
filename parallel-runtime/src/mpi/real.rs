//! The real MPI backend: rsmpi's safe traits on a `SimpleCommunicator`.

use rsmpi::attribute::{AttributeKey, CommAttribute};
use rsmpi::datatype::{Partition, PartitionMut};
use rsmpi::point_to_point::Message;
use rsmpi::request::StaticScope;
use rsmpi::topology::{Color, SimpleCommunicator};
use rsmpi::traits::{AnyCommunicator, Communicator, CommunicatorCollectives, Destination, Root};
use rsmpi::Count;

use super::comm::{Source, TagMatch};
use super::matching::Pending;
use super::op::{system_op, AnyBitPattern, Op, Operand, Scalar};
use super::wire::pieces_of;
use super::Tag;

pub(crate) struct MpiComm {
    pub(crate) comm: SimpleCommunicator,
    /// Asked once: every operation checks ranks against them.
    rank: usize,
    size: usize,
    /// `MPI_TAG_UB`, asked once.
    tag_ub: Tag,
    /// Receives posted and not yet matched (`matching.rs`).
    pub(crate) pending: Pending,
}

/// The `MPI_TAG_UB` attribute: the largest tag (at least 32767).
#[repr(C)]
#[derive(Clone)]
struct TagUb(std::os::raw::c_int);

impl CommAttribute for TagUb {
    fn get_key() -> AttributeKey {
        // SAFETY: `MPI_TAG_UB` is a predefined keyval of every MPI library.
        unsafe { AttributeKey::new_unchecked(rsmpi::ffi::MPI_TAG_UB as i32) }
    }
}

/// What [`MpiComm::recv_direct`] got.
pub(crate) enum Direct {
    /// The message, whole.
    Received(super::comm::Status),
    /// A message longer than the buffer (consumed).
    Longer { from: usize },
    /// A message that is no whole number of elements (received).
    NotWhole { from: usize, bytes: usize },
    /// Any other error the library returned.
    Failed { from: usize, code: i32 },
}

/// Counts that the caller checked against `max_count` (so they fit).
fn count(n: usize) -> Count {
    Count::try_from(n).unwrap_or_else(|_| unreachable!("counts are checked before MPI calls"))
}

/// Displacements of consecutive blocks of `counts` elements.
fn displs(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0, |at, &c| {
            let d = *at;
            *at += c;
            Some(d)
        })
        .collect()
}

/// Cuts `flat` into blocks of `counts` bytes.
fn cut(flat: &[u8], counts: &[Count]) -> Vec<Vec<u8>> {
    // `at + c` stays within `flat`, whose length is the sum of `counts`.
    let mut at = 0;
    counts
        .iter()
        .map(|&c| {
            let c = c as usize;
            let part = flat[at..at + c].to_vec();
            at += c;
            part
        })
        .collect()
}

/// Bytes of a broadcast carried inside its first message: values that
/// encode to this or less take one `MPI_Bcast`, larger ones two.
const INLINE: usize = 56;

impl MpiComm {
    pub(crate) fn new(comm: SimpleCommunicator) -> MpiComm {
        let (rank, size) = (comm.rank() as usize, comm.size() as usize);
        // Set on the world; a library need not copy it to the
        // communicators made from it, whose tags have the same bound.
        let tag_ub = comm
            .get_attr::<TagUb>()
            .map(|t| t.0)
            .or_else(|| SimpleCommunicator::world().get_attr::<TagUb>().map(|t| t.0))
            .unwrap_or(32767);
        MpiComm {
            comm,
            rank,
            size,
            tag_ub,
            pending: Pending::default(),
        }
    }

    pub(crate) fn tag_ub(&self) -> Tag {
        self.tag_ub
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// `recv_buf`'s fast path: one `MPI_Recv` straight into `buf`, for a
    /// receive with none posted before it and a buffer shorter than a piece
    /// (so a message that fits is one message). A matched probe first, as
    /// the general path does, costs 1.5x the latency of `MPI_Recv`
    /// (`MPI_Mprobe` + `MPI_Mrecv`, measured with C on Open MPI 4.1); here
    /// the library's error handler is set to return for this one call, so
    /// that a message longer than the buffer comes back as an error (Open
    /// MPI consumes it), not as the end of the job.
    pub(crate) fn recv_direct<T: Scalar + AnyBitPattern>(
        &self,
        buf: &mut [T],
        source: Source,
        tag: TagMatch,
    ) -> Direct {
        use rsmpi::datatype::Equivalence as _;
        use rsmpi::ffi;
        use rsmpi::raw::AsRaw;
        // SAFETY: constants of the C library that mpi-sys exposes as
        // statics; they are only read.
        let (any_source, any_tag) = unsafe { (ffi::RSMPI_ANY_SOURCE, ffi::RSMPI_ANY_TAG) };
        let src = match source {
            Source::Any => any_source,
            Source::Rank(r) => r as i32,
        };
        let tg = match tag {
            TagMatch::Any => any_tag,
            TagMatch::Tag(t) => t,
        };
        let datatype = T::equivalent_datatype();
        let comm = self.comm.as_raw();
        let mut raw = std::mem::MaybeUninit::<ffi::MPI_Status>::zeroed();
        // SAFETY: `buf` is a live, exclusively borrowed slice of
        // `buf.len()` elements of `T`, described by `T`'s own datatype, and
        // `T: AnyBitPattern`, so whatever MPI writes there is a valid value;
        // `raw` is a status MPI fills. Only this thread calls MPI on this
        // communicator now (the thread level this crate asks for), and the
        // handler is restored before anything else runs on it.
        let rc = unsafe {
            ffi::MPI_Comm_set_errhandler(comm, ffi::RSMPI_ERRORS_RETURN);
            let rc = ffi::MPI_Recv(
                buf.as_mut_ptr().cast(),
                count(buf.len()),
                datatype.as_raw(),
                src,
                tg,
                comm,
                raw.as_mut_ptr(),
            );
            ffi::MPI_Comm_set_errhandler(comm, ffi::RSMPI_ERRORS_ARE_FATAL);
            rc
        };
        // SAFETY: MPI filled the status (zeroed before, so every field is
        // initialised whatever the library writes).
        let st = rsmpi::point_to_point::Status::from_raw(unsafe { raw.assume_init() });
        let from = st.source_rank().max(0) as usize;
        if rc != 0 {
            let mut class = 0;
            // SAFETY: translates an error code of this library into its class.
            unsafe { ffi::MPI_Error_class(rc, &mut class) };
            return if class == ffi::MPI_ERR_TRUNCATE as i32 {
                Direct::Longer { from }
            } else {
                Direct::Failed { from, code: rc }
            };
        }
        let n = st.count(datatype);
        if n < 0 {
            let bytes = st.count(u8::equivalent_datatype());
            return Direct::NotWhole {
                from,
                bytes: bytes.max(0) as usize,
            };
        }
        Direct::Received(super::comm::Status {
            source: from,
            tag: st.tag(),
            count: n as usize,
        })
    }

    pub(crate) fn probe(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
    ) -> Option<(Message, rsmpi::point_to_point::Status)> {
        use rsmpi::traits::Source as _;
        match (source, tag, wait) {
            (Source::Any, TagMatch::Any, true) => Some(self.comm.any_process().matched_probe()),
            (Source::Any, TagMatch::Tag(t), true) => {
                Some(self.comm.any_process().matched_probe_with_tag(t))
            }
            (Source::Rank(r), TagMatch::Any, true) => {
                Some(self.comm.process_at_rank(r as i32).matched_probe())
            }
            (Source::Rank(r), TagMatch::Tag(t), true) => Some(
                self.comm
                    .process_at_rank(r as i32)
                    .matched_probe_with_tag(t),
            ),
            (Source::Any, TagMatch::Any, false) => {
                self.comm.any_process().immediate_matched_probe()
            }
            (Source::Any, TagMatch::Tag(t), false) => {
                self.comm.any_process().immediate_matched_probe_with_tag(t)
            }
            (Source::Rank(r), TagMatch::Any, false) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_matched_probe(),
            (Source::Rank(r), TagMatch::Tag(t), false) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_matched_probe_with_tag(t),
        }
    }

    pub(crate) fn bcast_bytes(&self, root: usize, bytes: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let is_root = self.rank() == root;
        let root_proc = self.comm.process_at_rank(root as i32);
        let mut head = [0u8; 8 + INLINE];
        if is_root {
            let b = bytes.as_ref()?;
            head[..8].copy_from_slice(&(b.len() as u64).to_le_bytes());
            if b.len() <= INLINE {
                head[8..8 + b.len()].copy_from_slice(b);
            }
        }
        root_proc.broadcast_into(&mut head[..]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[..8]);
        let len = u64::from_le_bytes(len) as usize;
        if len <= INLINE {
            return Some(head[8..8 + len].to_vec());
        }
        let mut buf = match bytes {
            Some(b) if is_root => b,
            _ => vec![0u8; len],
        };
        // In pieces MPI's `int` count can describe; every rank knows `len`.
        for piece in buf.chunks_mut(super::wire::max_count()) {
            root_proc.broadcast_into(piece);
        }
        Some(buf)
    }

    /// Every rank's `n`, on every rank.
    pub(crate) fn all_lens(&self, n: usize) -> Vec<u64> {
        let mut all = vec![0u64; self.size()];
        self.comm.all_gather_into(&(n as u64), &mut all[..]);
        all
    }

    /// The blocks of every rank at the root; `lens` (from
    /// [`MpiComm::all_lens`]) were checked to fit MPI's counts.
    pub(crate) fn gather_bytes(
        &self,
        root: usize,
        bytes: &[u8],
        lens: &[u64],
    ) -> Option<Vec<Vec<u8>>> {
        let root_proc = self.comm.process_at_rank(root as i32);
        if self.rank() == root {
            let counts: Vec<Count> = lens.iter().map(|&c| count(c as usize)).collect();
            let total = counts.iter().map(|&c| c as usize).sum();
            let mut flat = vec![0u8; total];
            let d = displs(&counts);
            {
                let mut part = PartitionMut::new(&mut flat[..], &counts[..], &d[..]);
                root_proc.gather_varcount_into_root(bytes, &mut part);
            }
            Some(cut(&flat, &counts))
        } else {
            root_proc.gather_varcount_into(bytes);
            None
        }
    }

    /// Every rank's block on every rank; `lens` as for `gather_bytes`.
    pub(crate) fn allgather_bytes(&self, bytes: &[u8], lens: &[u64]) -> Vec<Vec<u8>> {
        let counts: Vec<Count> = lens.iter().map(|&c| count(c as usize)).collect();
        let total = counts.iter().map(|&c| c as usize).sum();
        let mut flat = vec![0u8; total];
        let d = displs(&counts);
        {
            let mut part = PartitionMut::new(&mut flat[..], &counts[..], &d[..]);
            self.comm.all_gather_varcount_into(bytes, &mut part);
        }
        cut(&flat, &counts)
    }

    /// The root's `parts[r]` to rank `r`. The root passes `Err(n)` instead
    /// when a count or displacement `n` is beyond MPI's counts; then every
    /// rank gets `Err(n)`.
    pub(crate) fn scatter_bytes(
        &self,
        root: usize,
        parts: Option<Result<Vec<Vec<u8>>, u64>>,
    ) -> Result<Vec<u8>, u64> {
        let root_proc = self.comm.process_at_rank(root as i32);
        let mut len: i64 = 0;
        match parts {
            Some(parts) if self.rank() == root => {
                let parts = match parts {
                    Ok(parts) => parts,
                    Err(n) => {
                        let refuse = vec![-(n as i64); self.size()];
                        root_proc.scatter_into_root(&refuse[..], &mut len);
                        return Err(n);
                    }
                };
                let lens: Vec<i64> = parts.iter().map(|p| p.len() as i64).collect();
                root_proc.scatter_into_root(&lens[..], &mut len);
                let counts: Vec<Count> = parts.iter().map(|p| count(p.len())).collect();
                let flat = parts.concat();
                let d = displs(&counts);
                let mut mine = vec![0u8; len as usize];
                let part = Partition::new(&flat[..], &counts[..], &d[..]);
                root_proc.scatter_varcount_into_root(&part, &mut mine[..]);
                Ok(mine)
            }
            _ => {
                root_proc.scatter_into(&mut len);
                if len < 0 {
                    return Err(len.unsigned_abs());
                }
                let mut mine = vec![0u8; len as usize];
                root_proc.scatter_varcount_into(&mut mine[..]);
                Ok(mine)
            }
        }
    }

    pub(crate) fn barrier(&self) {
        self.comm.barrier();
    }

    pub(crate) fn split(&self, color: Option<u32>, key: i32) -> Option<MpiComm> {
        let color = match color {
            Some(c) => Color::with_value(c as i32),
            None => Color::undefined(),
        };
        self.comm
            .split_by_color_with_key(color, key)
            .map(MpiComm::new)
    }

    pub(crate) fn abort(&self, code: i32) -> ! {
        self.comm.abort(code)
    }

    // ----- buffers ------------------------------------------------------

    pub(crate) fn send_buf<T: Scalar>(&self, buf: &[T], dest: usize, tag: Tag) {
        self.comm
            .process_at_rank(dest as i32)
            .send_with_tag(buf, tag);
    }

    pub(crate) fn bcast_buf<T: Scalar>(&self, root: usize, buf: &mut [T]) {
        self.comm.process_at_rank(root as i32).broadcast_into(buf);
    }

    pub(crate) fn scatter_buf<T: Scalar>(&self, root: usize, send: Option<&[T]>, recv: &mut [T]) {
        let root_proc = self.comm.process_at_rank(root as i32);
        match send {
            Some(send) => root_proc.scatter_into_root(send, recv),
            None => root_proc.scatter_into(recv),
        }
    }

    pub(crate) fn gather_buf<T: Scalar>(&self, root: usize, send: &[T], recv: Option<&mut [T]>) {
        let root_proc = self.comm.process_at_rank(root as i32);
        match recv {
            Some(recv) => root_proc.gather_into_root(send, recv),
            None => root_proc.gather_into(send),
        }
    }

    pub(crate) fn all_gather_buf<T: Scalar>(&self, send: &[T], recv: &mut [T]) {
        self.comm.all_gather_into(send, recv);
    }

    pub(crate) fn reduce_buf<T: Operand>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
    ) {
        let root_proc = self.comm.process_at_rank(root as i32);
        match recv {
            Some(recv) => root_proc.reduce_into_root(send, recv, system_op(op)),
            None => root_proc.reduce_into(send, system_op(op)),
        }
    }

    pub(crate) fn all_reduce_buf<T: Operand>(&self, send: &[T], recv: &mut [T], op: Op) {
        self.comm.all_reduce_into(send, recv, system_op(op));
    }
}

/// The `MPI_Isend`s of a vector (one per piece) that the request owns
/// until they complete, then gives back.
pub(crate) struct SendRequest<T: Scalar> {
    reqs: Vec<rsmpi::request::Request<'static, [T], StaticScope>>,
    /// The vector's parts while MPI reads its memory.
    buf: Option<(*mut T, usize, usize)>,
}

impl MpiComm {
    pub(crate) fn isend_buf<T: Scalar>(
        &self,
        buf: Vec<T>,
        dest: usize,
        tag: Tag,
    ) -> SendRequest<T> {
        self.isend_pieces(buf, dest, tag, super::wire::max_count())
    }

    /// [`MpiComm::isend_buf`] in pieces of `piece` elements.
    pub(crate) fn isend_pieces<T: Scalar>(
        &self,
        buf: Vec<T>,
        dest: usize,
        tag: Tag,
        piece: usize,
    ) -> SendRequest<T> {
        let mut buf = std::mem::ManuallyDrop::new(buf);
        let (ptr, len, cap) = (buf.as_mut_ptr(), buf.len(), buf.capacity());
        // SAFETY: the parts come from a live vector that nothing else owns
        // (it is in `ManuallyDrop` and only `SendRequest` can rebuild it,
        // after every send completed), so the memory outlives MPI's use.
        let shared: &'static [T] = unsafe { std::slice::from_raw_parts(ptr, len) };
        let dest = self.comm.process_at_rank(dest as i32);
        let reqs = pieces_of(shared, piece)
            .map(|piece| dest.immediate_send_with_tag(StaticScope, piece, tag))
            .collect();
        SendRequest {
            reqs,
            buf: Some((ptr, len, cap)),
        }
    }
}

impl<T: Scalar> SendRequest<T> {
    /// The vector back, once every send completed.
    fn take_buf(&mut self) -> Vec<T> {
        match self.buf.take() {
            // SAFETY: the parts came from a vector in `isend_buf`, the sends
            // that read the memory have completed, and `take` rebuilds the
            // vector once.
            Some((ptr, len, cap)) => unsafe { Vec::from_raw_parts(ptr, len, cap) },
            None => Vec::new(),
        }
    }

    /// The vector, if every send has completed.
    pub(crate) fn test(&mut self) -> Option<Vec<T>> {
        let mut left = Vec::new();
        for req in self.reqs.drain(..) {
            if let Err(req) = req.test() {
                left.push(req);
            }
        }
        self.reqs = left;
        self.reqs.is_empty().then(|| self.take_buf())
    }

    /// Waits until every send completed: the vector back.
    pub(crate) fn wait(&mut self) -> Vec<T> {
        for req in self.reqs.drain(..) {
            req.wait_without_status();
        }
        self.take_buf()
    }
}

impl<T: Scalar> Drop for SendRequest<T> {
    fn drop(&mut self) {
        // A request dropped in flight completes first, as MPI still reads
        // the memory.
        for req in self.reqs.drain(..) {
            req.wait_without_status();
        }
        drop(self.take_buf());
    }
}
