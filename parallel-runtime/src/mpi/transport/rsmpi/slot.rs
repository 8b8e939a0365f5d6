//! A receive handed to MPI when it is posted (`MPI_Irecv`, no probe
//! first): for the runtime's own messages between ranks, whose largest
//! size the receiver knows (see `mpi/lane.rs`). The object path cannot
//! post its receives this way, as it learns a message's size only by
//! probing it.

use std::os::raw::c_int;

use rsmpi::ffi;
use rsmpi::raw::traits::AsRaw;
use rsmpi::request::StaticScope;
use rsmpi::topology::SimpleCommunicator;
use rsmpi::traits::{Communicator, Destination as _};

use crate::mpi::message::Tag;

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

/// The receives a lane keeps posted: each an `MPI_Irecv` of at most its
/// vector's length from one rank with one tag, into a vector the set owns
/// until it completes; all of them tested by one `MPI_Testsome`, so that a
/// test costs one turn of MPI's progress engine however many ranks send
/// (testing each receive alone runs the engine once per receive).
#[derive(Default)]
pub(crate) struct SlotSet {
    /// One per slot, `MPI_REQUEST_NULL` where the slot is free.
    reqs: Vec<ffi::MPI_Request>,
    /// The vector of each slot in use, and when it was posted.
    held: Vec<Option<(Lent, u64)>>,
    free: Vec<usize>,
    posted: u64,
    /// Scratch of `MPI_Testsome`.
    done: Vec<c_int>,
    statuses: Vec<ffi::MPI_Status>,
}

impl SlotSet {
    /// Posts the receive of a message of at most `buf.len()` bytes (a
    /// longer one is MPI's truncation error) from `source` with `tag`:
    /// its slot.
    pub(crate) fn post(
        &mut self,
        comm: &SimpleCommunicator,
        buf: Vec<u8>,
        source: usize,
        tag: Tag,
    ) -> usize {
        let k = self.free.pop().unwrap_or_else(|| {
            // SAFETY: reading an MPI constant.
            self.reqs.push(unsafe { ffi::RSMPI_REQUEST_NULL });
            self.held.push(None);
            self.reqs.len() - 1
        });
        let (lent, mem) = Lent::new(buf);
        let len = c_int::try_from(mem.len())
            .unwrap_or_else(|_| unreachable!("a slot holds less than MPI's count limit"));
        // SAFETY: `mem` stays allocated, owned by this set, until the
        // receive completed or was cancelled; the request is stored in the
        // set's array, where MPI writes it.
        unsafe {
            ffi::MPI_Irecv(
                mem.as_mut_ptr().cast(),
                len,
                ffi::RSMPI_UINT8_T,
                source as c_int,
                tag,
                comm.as_raw(),
                &mut self.reqs[k],
            );
        }
        self.held[k] = Some((lent, self.posted));
        self.posted += 1;
        k
    }

    /// Appends every receive that completed to `out` as (its slot, its
    /// vector, the bytes that arrived), in the order they were posted.
    pub(crate) fn test_some(&mut self, out: &mut Vec<(usize, Vec<u8>, usize)>) {
        let n = self.reqs.len();
        if self.free.len() == n {
            return;
        }
        self.done.resize(n, 0);
        // SAFETY: `MPI_Status` is a plain C struct, which MPI fills.
        self.statuses.resize(n, unsafe { std::mem::zeroed() });
        let mut count: c_int = 0;
        // SAFETY: the arrays hold `n` entries each; null requests are
        // skipped by MPI, completed ones set to null.
        unsafe {
            ffi::MPI_Testsome(
                n as c_int,
                self.reqs.as_mut_ptr(),
                &mut count,
                self.done.as_mut_ptr(),
                self.statuses.as_mut_ptr(),
            );
        }
        let Ok(count) = usize::try_from(count) else {
            return; // MPI_UNDEFINED: no active request.
        };
        let mut batch: Vec<(u64, usize, Vec<u8>, usize)> = Vec::with_capacity(count);
        for j in 0..count {
            let k = self.done[j] as usize;
            let mut got: c_int = 0;
            // SAFETY: the status of a completed receive, filled by MPI.
            unsafe { ffi::MPI_Get_count(&self.statuses[j], ffi::RSMPI_UINT8_T, &mut got) };
            let Some((mut lent, seq)) = self.held[k].take() else {
                unreachable!("a completed slot holds its vector")
            };
            self.free.push(k);
            batch.push((seq, k, lent.take(), got.max(0) as usize));
        }
        // Two receives from one rank that completed in the same call come
        // out in the order posted, which is the order MPI matched them.
        batch.sort_unstable_by_key(|b| b.0);
        out.extend(batch.into_iter().map(|(_, k, v, len)| (k, v, len)));
    }
}

impl Drop for SlotSet {
    fn drop(&mut self) {
        // Receives withdrawn before their message came: cancelled, then
        // completed (`MPI_Cancel` and `MPI_Wait`), as MPI may still write
        // the memory until then. A message one had already taken is lost,
        // as with any receive dropped in flight.
        for (k, req) in self.reqs.iter_mut().enumerate() {
            if let Some((mut lent, _)) = self.held[k].take() {
                // SAFETY: a live request of this set, waited on before its
                // vector is freed.
                unsafe {
                    ffi::MPI_Cancel(req);
                    ffi::MPI_Wait(req, ffi::RSMPI_STATUS_IGNORE);
                }
                drop(lent.take());
            }
        }
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
