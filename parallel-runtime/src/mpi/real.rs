//! The real MPI backend: rsmpi's safe traits on a `SimpleCommunicator`.

use rsmpi::datatype::{Partition, PartitionMut};
use rsmpi::point_to_point::{MatchedReceiveVec, Message};
use rsmpi::request::StaticScope;
use rsmpi::topology::{Color, SimpleCommunicator};
use rsmpi::traits::{Communicator, CommunicatorCollectives, Destination, Root};
use rsmpi::Count;

use super::comm::{Source, Status, TagMatch};
use super::op::{system_op, Op, Operand, Scalar};
use super::Tag;

pub(crate) struct MpiComm {
    pub(crate) comm: SimpleCommunicator,
    /// Asked once: every operation checks ranks against them.
    rank: usize,
    size: usize,
}

fn status(s: rsmpi::point_to_point::Status, count: usize) -> Status {
    Status {
        source: s.source_rank() as usize,
        tag: s.tag(),
        count,
    }
}

fn count(n: usize) -> Count {
    Count::try_from(n).unwrap_or_else(|_| {
        panic!("a message of {n} elements is larger than MPI's count type can describe")
    })
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
        MpiComm { comm, rank, size }
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    fn probe(
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

    pub(crate) fn send_bytes(&self, dest: usize, tag: Tag, bytes: &[u8]) {
        self.comm
            .process_at_rank(dest as i32)
            .send_with_tag(bytes, tag);
    }

    pub(crate) fn recv_bytes(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
    ) -> Option<(Vec<u8>, Status)> {
        let probed = self.probe(source, tag, wait)?;
        let (bytes, st): (Vec<u8>, _) = probed.matched_receive_vec();
        let n = bytes.len();
        Some((bytes, status(st, n)))
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
        root_proc.broadcast_into(&mut buf[..]);
        Some(buf)
    }

    pub(crate) fn gather_bytes(&self, root: usize, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
        let root_proc = self.comm.process_at_rank(root as i32);
        let len = count(bytes.len());
        if self.rank() == root {
            let mut counts = vec![0 as Count; self.size()];
            root_proc.gather_into_root(&len, &mut counts[..]);
            let total = counts.iter().map(|&c| c as usize).sum();
            let mut flat = vec![0u8; total];
            let d = displs(&counts);
            {
                let mut part = PartitionMut::new(&mut flat[..], &counts[..], &d[..]);
                root_proc.gather_varcount_into_root(bytes, &mut part);
            }
            Some(cut(&flat, &counts))
        } else {
            root_proc.gather_into(&len);
            root_proc.gather_varcount_into(bytes);
            None
        }
    }

    pub(crate) fn allgather_bytes(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let len = count(bytes.len());
        let mut counts = vec![0 as Count; self.size()];
        self.comm.all_gather_into(&len, &mut counts[..]);
        let total = counts.iter().map(|&c| c as usize).sum();
        let mut flat = vec![0u8; total];
        let d = displs(&counts);
        {
            let mut part = PartitionMut::new(&mut flat[..], &counts[..], &d[..]);
            self.comm.all_gather_varcount_into(bytes, &mut part);
        }
        cut(&flat, &counts)
    }

    pub(crate) fn scatter_bytes(&self, root: usize, parts: Option<Vec<Vec<u8>>>) -> Vec<u8> {
        let root_proc = self.comm.process_at_rank(root as i32);
        let mut len: Count = 0;
        match parts {
            Some(parts) if self.rank() == root => {
                let counts: Vec<Count> = parts.iter().map(|p| count(p.len())).collect();
                root_proc.scatter_into_root(&counts[..], &mut len);
                let flat = parts.concat();
                let d = displs(&counts);
                let mut mine = vec![0u8; len as usize];
                let part = Partition::new(&flat[..], &counts[..], &d[..]);
                root_proc.scatter_varcount_into_root(&part, &mut mine[..]);
                mine
            }
            _ => {
                root_proc.scatter_into(&mut len);
                let mut mine = vec![0u8; len as usize];
                root_proc.scatter_varcount_into(&mut mine[..]);
                mine
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

    pub(crate) fn recv_buf<T: Scalar>(
        &self,
        buf: &mut [T],
        source: Source,
        tag: TagMatch,
    ) -> Status {
        use rsmpi::traits::Source as _;
        let st = match (source, tag) {
            (Source::Any, TagMatch::Any) => self.comm.any_process().receive_into(buf),
            (Source::Any, TagMatch::Tag(t)) => {
                self.comm.any_process().receive_into_with_tag(buf, t)
            }
            (Source::Rank(r), TagMatch::Any) => {
                self.comm.process_at_rank(r as i32).receive_into(buf)
            }
            (Source::Rank(r), TagMatch::Tag(t)) => self
                .comm
                .process_at_rank(r as i32)
                .receive_into_with_tag(buf, t),
        };
        let n = st.count(T::equivalent_datatype()) as usize;
        status(st, n)
    }

    pub(crate) fn sendrecv_buf<T: Scalar>(
        &self,
        send: &[T],
        dest: usize,
        send_tag: Tag,
        recv: &mut [T],
        source: Source,
        recv_tag: TagMatch,
    ) -> Status {
        let d = self.comm.process_at_rank(dest as i32);
        let recv_tag = match recv_tag {
            // SAFETY: a constant of the C library that mpi-sys exposes as a
            // static; it is only read (rsmpi reads it the same way).
            TagMatch::Any => unsafe { rsmpi::ffi::RSMPI_ANY_TAG },
            TagMatch::Tag(t) => t,
        };
        let st = match source {
            Source::Any => rsmpi::point_to_point::send_receive_into_with_tags(
                send,
                &d,
                send_tag,
                recv,
                &self.comm.any_process(),
                recv_tag,
            ),
            Source::Rank(r) => rsmpi::point_to_point::send_receive_into_with_tags(
                send,
                &d,
                send_tag,
                recv,
                &self.comm.process_at_rank(r as i32),
                recv_tag,
            ),
        };
        let n = st.count(T::equivalent_datatype()) as usize;
        status(st, n)
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

/// An `MPI_Isend` or `MPI_Irecv` on a vector the request owns until the
/// operation completes, then gives back.
pub(crate) struct BufRequest<T: Scalar> {
    req: Option<rsmpi::request::Request<'static, [T], StaticScope>>,
    /// The vector's parts while MPI uses its memory.
    buf: Option<(*mut T, usize, usize)>,
    /// A receive, which is cancelled (not waited for) when dropped in flight.
    recv: bool,
}

impl MpiComm {
    pub(crate) fn isend_buf<T: Scalar>(&self, buf: Vec<T>, dest: usize, tag: Tag) -> BufRequest<T> {
        let mut buf = std::mem::ManuallyDrop::new(buf);
        let (ptr, len, cap) = (buf.as_mut_ptr(), buf.len(), buf.capacity());
        // SAFETY: the parts come from a live vector that nothing else owns
        // (it is in `ManuallyDrop` and only `BufRequest` can rebuild it, after
        // the send completed), so the memory outlives MPI's use of it.
        let shared: &'static [T] = unsafe { std::slice::from_raw_parts(ptr, len) };
        let req = self
            .comm
            .process_at_rank(dest as i32)
            .immediate_send_with_tag(StaticScope, shared, tag);
        BufRequest {
            req: Some(req),
            buf: Some((ptr, len, cap)),
            recv: false,
        }
    }

    pub(crate) fn irecv_buf<T: Scalar>(
        &self,
        buf: Vec<T>,
        source: Source,
        tag: TagMatch,
    ) -> BufRequest<T> {
        use rsmpi::traits::Source as _;
        let mut buf = std::mem::ManuallyDrop::new(buf);
        let (ptr, len, cap) = (buf.as_mut_ptr(), buf.len(), buf.capacity());
        // SAFETY: as in `isend_buf`; here MPI writes the memory, and no other
        // reference to it exists until the request gives the vector back.
        let slice: &'static mut [T] = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
        let req = match (source, tag) {
            (Source::Any, TagMatch::Any) => self
                .comm
                .any_process()
                .immediate_receive_into(StaticScope, slice),
            (Source::Any, TagMatch::Tag(t)) => self
                .comm
                .any_process()
                .immediate_receive_into_with_tag(StaticScope, slice, t),
            (Source::Rank(r), TagMatch::Any) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_receive_into(StaticScope, slice),
            (Source::Rank(r), TagMatch::Tag(t)) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_receive_into_with_tag(StaticScope, slice, t),
        };
        BufRequest {
            req: Some(req),
            buf: Some((ptr, len, cap)),
            recv: true,
        }
    }
}

impl<T: Scalar> BufRequest<T> {
    /// The vector back, once the operation completed.
    fn take_buf(&mut self) -> Vec<T> {
        match self.buf.take() {
            // SAFETY: the parts came from a vector in `isend_buf`/`irecv_buf`,
            // the operation that used the memory has completed, and `take`
            // rebuilds the vector once.
            Some((ptr, len, cap)) => unsafe { Vec::from_raw_parts(ptr, len, cap) },
            None => Vec::new(),
        }
    }

    /// The vector and the status, if it has completed.
    pub(crate) fn test(&mut self) -> Option<(Vec<T>, Status)> {
        let req = self.req.take()?;
        match req.test() {
            Ok(st) => {
                let n = st.count(T::equivalent_datatype()).max(0) as usize;
                Some((self.take_buf(), status(st, n)))
            }
            Err(req) => {
                self.req = Some(req);
                None
            }
        }
    }

    /// Waits until it completes: the vector and the status.
    pub(crate) fn wait(&mut self) -> (Vec<T>, Status) {
        let st = match self.req.take() {
            Some(req) => req.wait(),
            None => unreachable!("a buffer request is waited on once"),
        };
        let n = st.count(T::equivalent_datatype()).max(0) as usize;
        (self.take_buf(), status(st, n))
    }
}

impl<T: Scalar> Drop for BufRequest<T> {
    fn drop(&mut self) {
        // A request dropped in flight completes first, as MPI still uses
        // the memory: a send is waited for; a receive, which might never be
        // matched, is cancelled (MPI_Cancel), then waited for.
        if let Some(req) = self.req.take() {
            if self.recv {
                req.cancel();
            }
            req.wait_without_status();
        }
        drop(self.take_buf());
    }
}
