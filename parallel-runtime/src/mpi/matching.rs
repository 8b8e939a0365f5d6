//! MPI's matching order for receives that are posted before they complete
//! (`irecv`, `irecv_buf`), on both backends.
//!
//! MPI matches an incoming message to the *earliest posted* receive whose
//! source and tag fit, and messages from one sender in the order sent
//! (non-overtaking). A nonblocking receive here cannot be handed to MPI at
//! once (the object path does not know the size of the message yet), so
//! each communicator keeps the receives posted and not yet matched, in
//! post order. Every receive, test or wait on the communicator first lets
//! them claim messages in that order ([`Receiver::progress`]): each message
//! found goes to the earliest posted receive it fits. A claim receives
//! the whole message at once (all its pieces, see `wire.rs`), into the
//! receive's own buffer.
//!
//! Like MPI's, the queue is per communicator; a communicator is used by one
//! thread at a time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::error::Error;
use super::message::{Source, Status, TagMatch};
use super::op::{AnyBitPattern, Scalar};
use super::transport::backend::{AnyMatched, Backend};
use super::transport::local::lock;
use super::transport::nonblocking::{Extended, Peeked};
use super::transport::{InFlight, Matched, Transport};
use super::wire::{decode_object, fill, fill_object, Dst};

/// The operation the hang watchdog names while a send or nonblocking
/// collective dropped before it completed waits for it, as a drop does
/// (at most 16 bytes: the watchdog keeps no more).
pub(crate) const DROPPED: &str = "drop of request";

/// A communicator's posted receives, and how many of them wait for a
/// message (read without the lock: the fast path of every receive).
#[derive(Default)]
pub(crate) struct Pending {
    queue: Mutex<Queue>,
    open: AtomicUsize,
    /// How many nonblocking collectives were started on the communicator
    /// (the local world tags each with its number).
    collectives: AtomicU32,
}

/// The receives of one communicator posted and not yet completed.
#[derive(Default)]
pub(crate) struct Queue {
    next_id: u64,
    posted: VecDeque<Posted>,
}

struct Posted {
    id: u64,
    source: Source,
    tag: TagMatch,
    op: &'static str,
    sink: Sink,
    /// Set when a message was claimed: its status, or what went wrong.
    done: Option<Result<Status, Error>>,
}

impl Posted {
    fn fits(&self, source: usize, tag: i32) -> bool {
        self.done.is_none() && self.source.fits(source) && self.tag.fits(tag)
    }
}

/// Where a claimed message goes.
pub(crate) enum Sink {
    /// The object path: the encoded bytes, however many.
    Bytes(Vec<u8>),
    /// The buffer path: a receive buffer of some element type.
    Slice(Box<dyn SliceSink>),
}

/// A receive buffer of elements of a type known where it was posted.
pub(crate) trait SliceSink: Send {
    fn fill(&mut self, t: &Backend, m: AnyMatched, op: &'static str) -> Result<Status, Error>;
}

/// The memory of a vector owned by a pending [`BufRequest`], or of a slice
/// borrowed by a blocking receive for its duration.
///
/// [`BufRequest`]: super::request::BufRequest
pub(crate) struct RawSlice<T> {
    ptr: *mut T,
    len: usize,
}

impl<T> RawSlice<T> {
    /// # Safety
    ///
    /// The memory must stay valid, and be used by nothing else, until the
    /// receive it is posted for is completed or cancelled.
    pub(crate) unsafe fn new(ptr: *mut T, len: usize) -> Self {
        RawSlice { ptr, len }
    }
}

// SAFETY: the slice is written by the thread that uses the communicator,
// which alone holds it (see `RawSlice::new`); the elements are `Send`.
unsafe impl<T: Send> Send for RawSlice<T> {}

impl<T: Scalar + AnyBitPattern> SliceSink for RawSlice<T> {
    fn fill(&mut self, t: &Backend, m: AnyMatched, op: &'static str) -> Result<Status, Error> {
        // SAFETY: valid and unaliased until the receive completes or is
        // cancelled (`RawSlice::new`); this is that completion.
        let buf = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) };
        fill(t, m, Dst::Slice(buf), op)
    }
}

/// One communicator's receive side: its transport and the receives posted
/// on it (what a [`BufRequest`] or a [`Request`] in flight holds).
///
/// [`Request`]: super::request::Request
/// [`BufRequest`]: super::request::BufRequest
#[derive(Clone, Copy)]
pub(crate) struct Receiver<'c> {
    t: &'c Backend,
    pending: &'c Pending,
}

impl<'c> Receiver<'c> {
    pub(crate) fn new(t: &'c Backend, pending: &'c Pending) -> Self {
        Receiver { t, pending }
    }

    /// This rank's number.
    pub(crate) fn rank(&self) -> usize {
        self.t.rank()
    }

    fn queue(&self) -> &'c Mutex<Queue> {
        &self.pending.queue
    }

    /// Records that a posted receive claimed its message.
    fn claimed(&self, p: &mut Posted, out: Result<Status, Error>) {
        p.done = Some(out);
        self.pending.open.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether a receive posted now must wait for earlier ones: some
    /// posted receive has not claimed its message yet.
    pub(crate) fn has_unmatched(&self) -> bool {
        self.pending.open.load(Ordering::Acquire) > 0
    }

    /// Posts a receive; it completes through [`Receiver::poll_recv`].
    pub(crate) fn post_recv(
        &self,
        source: Source,
        tag: TagMatch,
        sink: Sink,
        op: &'static str,
    ) -> u64 {
        let mut q = lock(self.queue());
        let id = q.next_id;
        q.next_id += 1;
        q.posted.push_back(Posted {
            id,
            source,
            tag,
            op,
            sink,
            done: None,
        });
        self.pending.open.fetch_add(1, Ordering::AcqRel);
        id
    }

    /// Forgets a posted receive (a request dropped before it completed).
    pub(crate) fn cancel_recv(&self, id: u64) {
        let mut q = lock(self.queue());
        if let Some(i) = q.posted.iter().position(|p| p.id == id) {
            if q.posted.remove(i).is_some_and(|p| p.done.is_none()) {
                self.pending.open.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Lets the posted receives claim the messages that have arrived, each
    /// message going to the earliest posted receive it fits.
    fn progress(&self, q: &mut Queue) -> Result<(), Error> {
        let mut i = 0;
        while i < q.posted.len() {
            if q.posted[i].done.is_some() {
                i += 1;
                continue;
            }
            let (source, tag) = (q.posted[i].source, q.posted[i].tag);
            let Some(m) = self.t.probe(source, tag, false)? else {
                i += 1;
                continue;
            };
            // It may have arrived after an earlier receive looked: the
            // earliest one it fits takes it. Then look again for this one.
            let (src, t) = (m.source(), m.tag());
            let j = q.posted.iter().position(|p| p.fits(src, t)).unwrap_or(i);
            let p = &mut q.posted[j];
            let out = match &mut p.sink {
                Sink::Bytes(bytes) => fill_object(self.t, m, bytes, p.op),
                Sink::Slice(s) => s.fill(self.t, m, p.op),
            };
            self.claimed(p, out);
        }
        Ok(())
    }

    /// A send of this rank (`req`): the vector once it completed (with
    /// `wait`, waits for that). While it waits, the receives posted before
    /// it claim their messages, as MPI progresses a posted `MPI_Irecv`
    /// during any wait: two ranks that each posted a receive from the other
    /// and then wait for a send past the eager limit (which completes only
    /// when its receiver takes it) would otherwise wait for each other.
    pub(crate) fn poll_send<T>(
        &self,
        req: &mut impl InFlight<T>,
        wait: bool,
    ) -> Result<Option<Vec<T>>, Error> {
        loop {
            if wait && !self.has_unmatched() {
                return Ok(Some(req.wait()));
            }
            if let Some(v) = req.test() {
                return Ok(Some(v));
            }
            if self.has_unmatched() {
                self.progress(&mut lock(self.queue()))?;
            }
            if !wait {
                return Ok(None);
            }
            std::thread::yield_now();
        }
    }

    /// The posted receive `id`, once it has completed (with `wait`, waits
    /// for that): its status and its sink. Earlier posted receives claim
    /// their messages first.
    pub(crate) fn poll_recv(&self, id: u64, wait: bool) -> Result<Option<(Status, Sink)>, Error> {
        loop {
            let (source, tag, first) = {
                let mut q = lock(self.queue());
                self.progress(&mut q)?;
                let Some(i) = q.posted.iter().position(|p| p.id == id) else {
                    unreachable!("a posted receive stays queued until it completes")
                };
                if q.posted[i].done.is_some() {
                    let Some(p) = q.posted.remove(i) else {
                        unreachable!("the index was just found")
                    };
                    return match p.done {
                        Some(Ok(status)) => Ok(Some((status, p.sink))),
                        Some(Err(e)) => Err(e),
                        None => unreachable!("checked above"),
                    };
                }
                let first = q.posted.iter().position(|p| p.done.is_none()) == Some(i);
                (q.posted[i].source, q.posted[i].tag, first)
            };
            if !wait {
                return Ok(None);
            }
            if first {
                // No earlier receive is waiting: the next message that fits
                // is this one's. Block for it.
                let m = self.t.probe(source, tag, true)?;
                let Some(m) = m else {
                    unreachable!("a blocking probe returns a message or an error")
                };
                let mut q = lock(self.queue());
                let Some(p) = q.posted.iter_mut().find(|p| p.id == id) else {
                    unreachable!("a posted receive stays queued until it completes")
                };
                let out = match &mut p.sink {
                    Sink::Bytes(bytes) => fill_object(self.t, m, bytes, p.op),
                    Sink::Slice(s) => s.fill(self.t, m, p.op),
                };
                self.claimed(p, out);
            } else {
                self.t.idle(source, tag)?;
            }
        }
    }

    /// A blocking receive into `buf` that respects the receives posted
    /// before it: at once when none waits, else queued behind them.
    pub(crate) fn recv_ordered<T: Scalar + AnyBitPattern>(
        &self,
        source: Source,
        tag: TagMatch,
        buf: &mut [T],
        op: &'static str,
    ) -> Result<Status, Error> {
        if !self.has_unmatched() {
            let Some(m) = self.t.probe(source, tag, true)? else {
                unreachable!("a blocking probe returns a message or an error")
            };
            return fill(self.t, m, Dst::Slice(buf), op);
        }
        // SAFETY: `buf` is borrowed for this call, and the guard below
        // removes the receive before the call returns.
        let raw = unsafe { RawSlice::new(buf.as_mut_ptr(), buf.len()) };
        let id = self.post_recv(source, tag, Sink::Slice(Box::new(raw)), op);
        let _cancel = Cancel(*self, id);
        let done = self.poll_recv(id, true)?;
        Ok(done.map_or_else(
            || unreachable!("a blocking receive completes"),
            |(st, _)| st,
        ))
    }

    /// The object path's blocking receive where values may have
    /// out-of-band pieces (real MPI), with no receive posted before it: the
    /// message matched first (as every receive is: see `recv_ordered`), its
    /// inline bytes received and decoded, and its pieces received straight
    /// into the vectors that hold them, without a copy. `None` where the
    /// general path runs (receives posted before this one, or a transport
    /// that moves encoded values whole).
    pub(crate) fn recv_value_now<T: serde::de::DeserializeOwned>(
        &self,
        source: Source,
        tag: TagMatch,
        op: &'static str,
    ) -> Option<Result<(T, Status), Error>> {
        if self.t.out_of_band().is_none() || self.has_unmatched() {
            return None;
        }
        let got = self.t.probe(source, tag, true).and_then(|m| {
            let m = m.unwrap_or_else(|| unreachable!("a blocking probe returns a message"));
            let mut inline = Vec::new();
            let st = fill(self.t, m, Dst::Grow(&mut inline), op)?;
            decode_object(self.t, &inline, st, op)
        });
        Some(got)
    }

    /// The object path's blocking receive: the bytes of one message, after
    /// the receives posted before it.
    pub(crate) fn recv_bytes_ordered(
        &self,
        source: Source,
        tag: TagMatch,
        op: &'static str,
    ) -> Result<(Vec<u8>, Status), Error> {
        if !self.has_unmatched() {
            let Some(m) = self.t.probe(source, tag, true)? else {
                unreachable!("a blocking probe returns a message or an error")
            };
            let mut bytes = Vec::new();
            let st = fill_object(self.t, m, &mut bytes, op)?;
            return Ok((bytes, st));
        }
        let id = self.post_recv(source, tag, Sink::Bytes(Vec::new()), op);
        let _cancel = Cancel(*self, id);
        match self.poll_recv(id, true)? {
            Some((st, Sink::Bytes(b))) => Ok((b, st)),
            _ => unreachable!("a blocking receive of bytes returns bytes"),
        }
    }
}

impl Receiver<'_> {
    /// Lets the posted receives claim the messages that have arrived, if
    /// any waits: one step of a wait that is not a receive's own (a
    /// nonblocking collective's, see `CollRequest`).
    pub(crate) fn progress_posted(&self) -> Result<(), Error> {
        if self.has_unmatched() {
            self.progress(&mut lock(self.queue()))?;
        }
        Ok(())
    }

    /// The number of the next nonblocking collective on the communicator.
    pub(crate) fn next_collective(&self) -> i32 {
        self.pending.collectives.fetch_add(1, Ordering::Relaxed) as i32
    }

    /// A probe that respects the receives posted before it: the message it
    /// reports is one that none of them fits, left in place, so it is what
    /// the next receive that matches it gets (as `MPI_Probe` promises).
    /// With `wait` false, `None` when no such message has arrived.
    pub(crate) fn probe_ordered<T: Scalar>(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
        op: &'static str,
    ) -> Result<Option<Peeked>, Error> {
        loop {
            if !self.has_unmatched() {
                return self.t.peek::<T>(source, tag, wait, op);
            }
            {
                let mut q = lock(self.queue());
                // Posted receives claim what has arrived for them; a
                // message that came after that, and that one of them fits,
                // is theirs: let them claim it, and look again.
                self.progress(&mut q)?;
                match self.t.peek::<T>(source, tag, false, op)? {
                    Some(p) if !q.posted.iter().any(|r| r.fits(p.source, p.tag)) => {
                        return Ok(Some(p))
                    }
                    Some(_) => continue,
                    None if !wait => return Ok(None),
                    None => {}
                }
            }
            self.t.idle(source, tag)?;
        }
    }
}

/// Removes a posted receive when dropped (whatever the way out of a
/// blocking receive, the borrowed buffer is no longer referenced).
struct Cancel<'c>(Receiver<'c>, u64);

impl Drop for Cancel<'_> {
    fn drop(&mut self) {
        self.0.cancel_recv(self.1);
    }
}
