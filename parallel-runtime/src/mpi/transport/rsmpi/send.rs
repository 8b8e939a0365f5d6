//! Nonblocking sends on real MPI: the `MPI_Isend`s of one vector, which
//! the request owns until they complete.

use rsmpi::request::StaticScope;
use rsmpi::traits::{Communicator, Destination};
use smallvec::SmallVec;

use super::Rsmpi;
use crate::mpi::limits::pieces_of;
use crate::mpi::message::Tag;
use crate::mpi::op::Scalar;
use crate::mpi::transport::InFlight;

/// The `MPI_Isend`s of a vector (one per piece) that the request owns
/// until they complete, then gives back.
pub(crate) struct SendRequest<T: Scalar> {
    /// Inline for a message of one piece (no allocation per send).
    reqs: SmallVec<[rsmpi::request::Request<'static, [T], StaticScope>; 1]>,
    /// The vector's parts while MPI reads its memory.
    buf: Option<(*mut T, usize, usize)>,
}

impl Rsmpi {
    /// Starts sending `buf` as one message in pieces of `piece` elements.
    pub(super) fn isend_pieces<T: Scalar>(
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
            // SAFETY: the parts came from a vector in `isend_pieces`, the
            // sends that read the memory have completed, and `take` rebuilds
            // the vector once.
            Some((ptr, len, cap)) => unsafe { Vec::from_raw_parts(ptr, len, cap) },
            None => Vec::new(),
        }
    }
}

impl<T: Scalar> InFlight<T> for SendRequest<T> {
    /// In flight until tested.
    fn is_done(&self) -> bool {
        false
    }

    fn test(&mut self) -> Option<Vec<T>> {
        let mut left = SmallVec::new();
        for req in self.reqs.drain(..) {
            if let Err(req) = req.test() {
                left.push(req);
            }
        }
        self.reqs = left;
        self.reqs.is_empty().then(|| self.take_buf())
    }

    fn wait(&mut self) -> Vec<T> {
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
