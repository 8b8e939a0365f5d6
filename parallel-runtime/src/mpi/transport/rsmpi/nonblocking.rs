//! Issue 11's operations on real MPI: nonblocking collectives whose
//! request owns its vectors (as `send.rs` does for `MPI_Isend`), probes
//! that leave the message (`MPI_Probe`/`MPI_Iprobe`), and
//! `MPI_Cart_create`.

use rsmpi::datatype::Equivalence as _;
use rsmpi::ffi;
use rsmpi::point_to_point::Status as MpiStatus;
use rsmpi::raw::traits::{AsRaw, FromRaw};
use rsmpi::request::StaticScope;
use rsmpi::topology::SimpleCommunicator;
use rsmpi::traits::{Communicator, CommunicatorCollectives, Root};

use super::receive::fit_status;
use super::Rsmpi;
use crate::mpi::error::Error;
use crate::mpi::message::{Source, TagMatch};
use crate::mpi::op::{system_op, zeroed, AnyBitPattern, Op, Operand, Scalar};
use crate::mpi::transport::nonblocking::{CollFlight, Extended, Peeked};

/// The parts of a vector whose memory MPI uses until the request completes.
type Parts<T> = (*mut T, usize, usize);

/// A nonblocking collective on MPI and the vectors it owns (up to two:
/// what it sends or broadcasts, and what it receives into).
struct RsmpiColl<T, R> {
    /// `None` once completed.
    req: Option<ffi::MPI_Request>,
    bufs: [Option<Parts<T>>; 2],
    /// What the completed collective gives back, from its two vectors.
    finish: fn(Vec<T>, Option<Vec<T>>) -> R,
}

/// Takes `v` apart: its memory stays allocated, owned by the request, and
/// a `'static` slice of it for MPI.
fn own<T>(v: Vec<T>) -> (Parts<T>, &'static mut [T]) {
    let mut v = std::mem::ManuallyDrop::new(v);
    let parts = (v.as_mut_ptr(), v.len(), v.capacity());
    // SAFETY: the parts come from a live vector that nothing else owns (it
    // is in `ManuallyDrop`, and only `RsmpiColl` rebuilds it, after MPI
    // completed, or never), so the memory outlives MPI's use of it.
    let slice = unsafe { std::slice::from_raw_parts_mut(parts.0, parts.1) };
    (parts, slice)
}

impl<T, R> RsmpiColl<T, R> {
    /// A request started by rsmpi (the vectors' memory is in `bufs`).
    fn new<D: ?Sized>(
        req: rsmpi::request::Request<'static, D, StaticScope>,
        bufs: [Option<Parts<T>>; 2],
        finish: fn(Vec<T>, Option<Vec<T>>) -> R,
    ) -> Self {
        // SAFETY: the request completes within `'static` (the buffers it
        // uses are owned by this value until it completed, and leaked if it
        // never does).
        let (raw, _, _) = unsafe { req.into_raw() };
        RsmpiColl {
            req: Some(raw),
            bufs,
            finish,
        }
    }

    /// The vectors back, after MPI completed.
    fn take(&mut self) -> (Vec<T>, Option<Vec<T>>) {
        // SAFETY: the parts came from vectors in `own`, the collective that
        // used their memory has completed, and `take` empties the slots, so
        // each is rebuilt once.
        let rebuild = |p: Option<Parts<T>>| {
            p.map(|(ptr, len, cap)| unsafe { Vec::from_raw_parts(ptr, len, cap) })
        };
        let first = rebuild(self.bufs[0].take()).unwrap_or_default();
        (first, rebuild(self.bufs[1].take()))
    }
}

impl<T, R> CollFlight<R> for RsmpiColl<T, R> {
    fn poll(&mut self, wait: bool) -> Result<Option<R>, Error> {
        let Some(mut req) = self.req else {
            unreachable!("a completed collective is not polled again")
        };
        let mut flag = 1;
        // SAFETY: `req` is the live request of this collective; the status
        // is ignored. MPI sets it to `MPI_REQUEST_NULL` once complete.
        unsafe {
            if wait {
                ffi::MPI_Wait(&mut req, ffi::RSMPI_STATUS_IGNORE);
            } else {
                ffi::MPI_Test(&mut req, &mut flag, ffi::RSMPI_STATUS_IGNORE);
            }
        }
        if flag == 0 {
            self.req = Some(req);
            return Ok(None);
        }
        self.req = None;
        let (a, b) = self.take();
        Ok(Some((self.finish)(a, b)))
    }
}

impl<T, R> Drop for RsmpiColl<T, R> {
    fn drop(&mut self) {
        let Some(mut req) = self.req.take() else {
            return;
        };
        if std::thread::panicking() {
            // The job is ending, and the other ranks may never join:
            // leave the vectors to MPI (leaked, never freed) rather than
            // wait.
            return;
        }
        // SAFETY: the live request of this collective; MPI may neither
        // cancel nor free it, and it may still write into the vectors, so
        // wait before they are freed.
        unsafe { ffi::MPI_Wait(&mut req, ffi::RSMPI_STATUS_IGNORE) };
        drop(self.take());
    }
}

impl Extended for Rsmpi {
    fn ibarrier<'c>(&'c self, _seq: i32) -> Box<dyn CollFlight<()> + 'c> {
        let req = self.comm.immediate_barrier();
        Box::new(RsmpiColl::<u8, ()>::new(req, [None, None], |_, _| ()))
    }

    fn ibcast<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        buf: Vec<T>,
        _seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c> {
        let (parts, slice) = own(buf);
        let root = self.comm.process_at_rank(root as i32);
        let req = root.immediate_broadcast_into(StaticScope, slice);
        Box::new(RsmpiColl::new(req, [Some(parts), None], |buf, _| buf))
    }

    fn iall_reduce<'c, T: Operand>(
        &'c self,
        send: Vec<T>,
        reduction: Op,
        _seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c> {
        let recv = vec![zeroed::<T>(); send.len()];
        let (send_parts, send) = own(send);
        let (recv_parts, recv) = own(recv);
        let req =
            self.comm
                .immediate_all_reduce_into(StaticScope, &*send, recv, system_op(reduction));
        let bufs = [Some(send_parts), Some(recv_parts)];
        Box::new(RsmpiColl::new(req, bufs, |_, recv| {
            recv.unwrap_or_default()
        }))
    }

    fn igather<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        send: Vec<T>,
        recv: Option<Vec<T>>,
        _seq: i32,
    ) -> Box<dyn CollFlight<Option<Vec<T>>> + 'c> {
        let root_proc = self.comm.process_at_rank(root as i32);
        let (send_parts, send) = own(send);
        match recv {
            Some(recv) if self.rank == root => {
                let (recv_parts, recv) = own(recv);
                let req = root_proc.immediate_gather_into_root(StaticScope, &*send, recv);
                let bufs = [Some(send_parts), Some(recv_parts)];
                Box::new(RsmpiColl::new(req, bufs, |_, recv| recv))
            }
            _ => {
                let req = root_proc.immediate_gather_into(StaticScope, &*send);
                Box::new(RsmpiColl::new(req, [Some(send_parts), None], |_, _| None))
            }
        }
    }

    fn peek<T: Scalar>(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
        _op: &'static str,
    ) -> Result<Option<Peeked>, Error> {
        use rsmpi::traits::Source as _;
        if let Some(p) = self.early.peek::<T>(source, tag) {
            return Ok(Some(p));
        }
        let st: Option<MpiStatus> = match (source, tag, wait) {
            (Source::Any, TagMatch::Any, true) => Some(self.comm.any_process().probe()),
            (Source::Any, TagMatch::Tag(t), true) => {
                Some(self.comm.any_process().probe_with_tag(t))
            }
            (Source::Rank(r), TagMatch::Any, true) => {
                Some(self.comm.process_at_rank(r as i32).probe())
            }
            (Source::Rank(r), TagMatch::Tag(t), true) => {
                Some(self.comm.process_at_rank(r as i32).probe_with_tag(t))
            }
            (Source::Any, TagMatch::Any, false) => self.comm.any_process().immediate_probe(),
            (Source::Any, TagMatch::Tag(t), false) => {
                self.comm.any_process().immediate_probe_with_tag(t)
            }
            (Source::Rank(r), TagMatch::Any, false) => {
                self.comm.process_at_rank(r as i32).immediate_probe()
            }
            (Source::Rank(r), TagMatch::Tag(t), false) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_probe_with_tag(t),
        };
        Ok(st.map(|st| {
            let bytes = st.count(u8::equivalent_datatype());
            let bytes = if bytes >= 0 {
                bytes as usize
            } else {
                // Over 2 GiB in one piece: as 8-byte words.
                st.count(u64::equivalent_datatype()).max(0) as usize * 8
            };
            Peeked {
                source: st.source_rank() as usize,
                tag: st.tag(),
                bytes,
                fit: fit_status::<T>(&st),
            }
        }))
    }

    fn cart_create(&self, dims: &[usize], periods: &[bool], reorder: bool) -> Result<Rsmpi, Error> {
        let dims: Vec<i32> = dims.iter().map(|&d| d as i32).collect();
        let Some(cart) = self
            .comm
            .create_cartesian_communicator(&dims, periods, reorder)
        else {
            unreachable!("the product of the dims is the size, so every rank is in the grid")
        };
        let raw = cart.as_raw();
        std::mem::forget(cart);
        // SAFETY: `raw` is the live Cartesian communicator just made (an
        // intra-communicator, neither the world nor self); the value that
        // owned it was forgotten, so only the new one frees it.
        let comm = unsafe { SimpleCommunicator::from_raw(raw) };
        Ok(Rsmpi::new(comm))
    }
}
