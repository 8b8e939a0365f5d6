//! A receive handed to MPI when it is posted (`MPI_Irecv`, no probe
//! first): for the runtime's own messages between ranks, whose largest
//! size the receiver knows (see `mpi/lane.rs`). The object path cannot
//! post its receives this way, as it learns a message's size only by
//! probing it.

use rsmpi::request::StaticScope;
use rsmpi::topology::SimpleCommunicator;
use rsmpi::traits::{Communicator, Destination as _, Equivalence, Source as _};

use crate::mpi::message::Tag;

/// An `MPI_Irecv` of at most `buf.len()` bytes from one rank with one
/// tag, into a vector it owns until it completes.
pub(crate) struct Slot {
    /// `None` once completed.
    req: Option<rsmpi::request::Request<'static, [u8], StaticScope>>,
    /// The vector, while MPI may write its memory.
    buf: Lent,
}

/// A vector taken apart while MPI uses its memory, rebuilt once after.
struct Lent((*mut u8, usize, usize));

impl Lent {
    /// Takes `v` apart: its memory stays allocated, and a `'static` slice
    /// of it is for MPI until [`Lent::take`].
    fn new(v: Vec<u8>) -> (Lent, &'static mut [u8]) {
        let mut v = std::mem::ManuallyDrop::new(v);
        let parts = (v.as_mut_ptr(), v.len(), v.capacity());
        // SAFETY: the parts come from a live vector that nothing else owns
        // (it is in `ManuallyDrop`, and only `Lent::take` rebuilds it, once
        // the request that uses the memory completed or was cancelled), so
        // the memory outlives MPI's use of it.
        let mem = unsafe { std::slice::from_raw_parts_mut(parts.0, parts.1) };
        (Lent(parts), mem)
    }

    /// The vector back (empty after the first time). The caller's request
    /// no longer uses the memory.
    fn take(&mut self) -> Vec<u8> {
        let (ptr, len, cap) = std::mem::replace(&mut self.0, (std::ptr::null_mut(), 0, 0));
        if ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the parts came from a vector in `Lent::new`, MPI no
        // longer uses the memory (the caller's request ended), and the
        // parts are replaced above, so this runs once.
        unsafe { Vec::from_raw_parts(ptr, len, cap) }
    }
}

impl Slot {
    /// Posts the receive of a message of at most `buf.len()` bytes from
    /// `source` with `tag`; a longer one is MPI's truncation error.
    pub(crate) fn post(comm: &SimpleCommunicator, buf: Vec<u8>, source: usize, tag: Tag) -> Slot {
        let (buf, mem) = Lent::new(buf);
        let req = comm
            .process_at_rank(source as i32)
            .immediate_receive_into_with_tag(StaticScope, mem, tag);
        Slot {
            req: Some(req),
            buf,
        }
    }

    /// The vector and how many bytes arrived, once the message is in.
    pub(crate) fn test(&mut self) -> Option<(Vec<u8>, usize)> {
        let req = self.req.take()?;
        match req.test() {
            Ok(status) => {
                let n = status.count(u8::equivalent_datatype()).max(0) as usize;
                Some((self.buf.take(), n))
            }
            Err(req) => {
                self.req = Some(req);
                None
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // A receive withdrawn before its message came: cancelled, then
        // completed (`MPI_Cancel` and `MPI_Wait`), as MPI may still write
        // the memory until then. A message it had already taken is lost,
        // as with any receive dropped in flight.
        if let Some(req) = self.req.take() {
            req.cancel();
            req.wait_without_status();
        }
        drop(self.buf.take());
    }
}

/// An `MPI_Isend` of a vector it owns until it completes: a lane's frame
/// of at most a slot, sent without the checks and the pieces of the
/// buffer path (the lane checked rank and tag, and a frame is one piece).
pub(crate) struct SlotSend {
    /// `None` once completed.
    req: Option<rsmpi::request::Request<'static, [u8], StaticScope>>,
    buf: Lent,
}

impl SlotSend {
    /// Starts sending `buf` to `dest` with `tag`.
    pub(crate) fn start(comm: &SimpleCommunicator, buf: Vec<u8>, dest: usize, tag: Tag) -> Self {
        let (buf, mem) = Lent::new(buf);
        let req =
            comm.process_at_rank(dest as i32)
                .immediate_send_with_tag(StaticScope, &*mem, tag);
        SlotSend {
            req: Some(req),
            buf,
        }
    }

    /// The vector back, once the send completed.
    pub(crate) fn test(&mut self) -> Option<Vec<u8>> {
        let req = self.req.take()?;
        match req.test() {
            Ok(_) => Some(self.buf.take()),
            Err(req) => {
                self.req = Some(req);
                None
            }
        }
    }

    /// Waits until the send completed: the vector back.
    pub(crate) fn wait(mut self) -> Vec<u8> {
        if let Some(req) = self.req.take() {
            req.wait_without_status();
        }
        self.buf.take()
    }
}

impl Drop for SlotSend {
    fn drop(&mut self) {
        // A send dropped in flight completes first: MPI still reads the
        // memory.
        if let Some(req) = self.req.take() {
            req.wait_without_status();
        }
        drop(self.buf.take());
    }
}
