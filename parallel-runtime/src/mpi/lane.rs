//! A lane: the runtime's own messages between the ranks of a communicator
//! (a graph computed across ranks sends its values and failures on one),
//! at the latency of MPI's own small messages.
//!
//! The object path probes every message before it receives it, as it
//! cannot know its size before: on real MPI an `MPI_Improbe` each time a
//! receive is tested, then `MPI_Mrecv`, then a decoding of the message and
//! a copy of the bytes inside it. A lane knows which ranks will send to it
//! and how many messages each ([`Lane::expect`]), so it keeps a receive
//! *posted* for each such rank, into a buffer of [`SLOT`] bytes: on real
//! MPI an `MPI_Irecv` handed to the library before the message comes, all
//! of them tested by one `MPI_Testsome` (one turn of MPI's progress engine
//! however many ranks send), as a hand-written MPI program does. It never
//! posts more receives than messages it expects, so none is left posted to
//! take a message meant for a later receive.
//!
//! A frame longer than a slot goes as two messages: a notice of its length
//! on the lane's tag, then the frame on the next tag, received into a
//! buffer of that length (through the buffer path, so of any size). Frames
//! from one rank arrive in the order sent, except that a long one may come
//! after short ones sent after it.
//!
//! A frame is a `Vec<u8>` from [`Lane::frame`], whose first byte belongs to
//! the lane; the caller appends its bytes, and reads them back with
//! [`Lane::payload`]. Vectors come back to the lane ([`Lane::recycle`]) and
//! are reused, so that a message costs no allocation.
//!
//! In the local world of threads the same lane runs on the matched
//! receives of the buffer path, which behave the same.

use std::collections::VecDeque;

use super::check::Checks as _;
use super::comm::Comm;
use super::error::Error;
use super::message::Tag;
use super::request::BufRequest;
#[cfg(feature = "mpi")]
use super::transport::rsmpi::{SlotSend, SlotSet};

/// The bytes of a frame sent as one message: a larger one is sent as a
/// notice and a second message.
pub(crate) const SLOT: usize = 1024;

/// Receives kept posted for one rank at a time (at most as many as the
/// frames still expected from it): the next message from a rank finds a
/// receive posted while the frame before is handled.
const DEPTH: usize = 2;

/// Vectors kept for reuse, at most.
const SPARE: usize = 64;

/// The first byte of a frame sent whole.
const WHOLE: u8 = 0;
/// The first byte of a notice: the frame, of the length that follows (8
/// bytes), comes on the next tag.
const LONG: u8 = 1;

/// How a lane's receives are posted and tested.
enum How<'c> {
    /// Real MPI: every receive in one set, tested by one `MPI_Testsome`;
    /// the rank each slot receives from.
    #[cfg(feature = "mpi")]
    Posted { set: SlotSet, source: Vec<usize> },
    /// The buffer path's matched receives (the local world): each rank's,
    /// oldest first (MPI fills them in that order).
    Matched {
        per: Vec<VecDeque<BufRequest<'c, u8>>>,
    },
}

/// A send in flight.
enum Send<'c> {
    /// `MPI_Isend` of a frame of at most a slot, on real MPI.
    #[cfg(feature = "mpi")]
    Posted(SlotSend),
    /// The buffer path (the local world, and long frames).
    Buf(BufRequest<'c, u8>),
}

impl Send<'_> {
    /// The vector back, once the send completed.
    fn test(&mut self) -> Result<Option<Vec<u8>>, Error> {
        match self {
            #[cfg(feature = "mpi")]
            Send::Posted(s) => Ok(s.test()),
            Send::Buf(req) => Ok(req.test()?.map(|(v, _)| v)),
        }
    }

    fn wait(self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "mpi")]
            Send::Posted(s) => drop(s.wait()),
            Send::Buf(req) => drop(req.wait()?),
        }
        Ok(())
    }
}

/// Frames between the ranks of `comm` on one tag (and the next, for long
/// frames); see the module's doc.
pub(crate) struct Lane<'c> {
    comm: &'c Comm,
    tag: Tag,
    /// Frames still expected from each rank (a long frame counts at its
    /// notice).
    left: Vec<usize>,
    /// Receives posted for each rank.
    posted: Vec<usize>,
    how: How<'c>,
    /// Frames in and not yet handed out, in the order they came from each
    /// rank.
    ready: VecDeque<(usize, Vec<u8>)>,
    /// Scratch of a test: (slot or rank, vector, bytes).
    batch: Vec<(usize, Vec<u8>, usize)>,
    /// Long frames being received: the rank and the receive.
    longs: Vec<(usize, BufRequest<'c, u8>)>,
    sends: Vec<Send<'c>>,
    /// Vectors of a slot's size at least, for the next receives posted.
    slots: Vec<Vec<u8>>,
    /// Smaller vectors, for frames.
    spare: Vec<Vec<u8>>,
}

impl<'c> Lane<'c> {
    /// A lane on `tag` and `tag + 1` of `comm`, which nothing else may
    /// receive on while it lives; no frame expected yet.
    pub(crate) fn new(comm: &'c Comm, tag: Tag) -> Result<Self, Error> {
        comm.t.check_tag("lane", tag.saturating_add(1))?;
        let size = comm.size();
        let matched = || How::Matched {
            per: (0..size).map(|_| VecDeque::new()).collect(),
        };
        #[cfg(feature = "mpi")]
        let how = match comm.t.raw() {
            Some(_) => How::Posted {
                set: SlotSet::default(),
                source: Vec::new(),
            },
            None => matched(),
        };
        #[cfg(not(feature = "mpi"))]
        let how = matched();
        Ok(Lane {
            comm,
            tag,
            left: vec![0; size],
            posted: vec![0; size],
            how,
            ready: VecDeque::new(),
            batch: Vec::new(),
            longs: Vec::new(),
            sends: Vec::new(),
            slots: Vec::new(),
            spare: Vec::new(),
        })
    }

    /// Expects `n` more frames from rank `from`: receives are posted for
    /// them, at most [`DEPTH`] at a time.
    pub(crate) fn expect(&mut self, from: usize, n: usize) -> Result<(), Error> {
        self.comm.t.check_rank("lane", from)?;
        self.left[from] += n;
        self.fill(from)
    }

    /// This rank.
    pub(crate) fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub(crate) fn size(&self) -> usize {
        self.left.len()
    }

    /// The error for a frame from `from` that its reader could not read.
    pub(crate) fn garbled(&self, from: usize, detail: String) -> Error {
        Error::Mismatch {
            rank: self.comm.rank(),
            op: "lane",
            from,
            detail,
        }
    }

    /// Frames still expected from any rank.
    pub(crate) fn expected(&self) -> usize {
        self.left.iter().sum::<usize>() + self.longs.len() + self.ready.len()
    }

    /// An empty frame to append bytes to (a vector reused when one is
    /// spare).
    pub(crate) fn frame(&mut self) -> Vec<u8> {
        let mut v = self
            .spare
            .pop()
            .or_else(|| self.slots.pop())
            .unwrap_or_default();
        v.clear();
        v.push(WHOLE);
        v
    }

    /// An empty frame in a new vector, for a thread without the lane.
    pub(crate) fn blank() -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.push(WHOLE);
        v
    }

    /// The caller's bytes of a received frame.
    pub(crate) fn payload(frame: &[u8]) -> &[u8] {
        frame.get(1..).unwrap_or_default()
    }

    /// Gives a frame's vector back, to be reused.
    pub(crate) fn recycle(&mut self, v: Vec<u8>) {
        let pool = if v.capacity() >= SLOT {
            &mut self.slots
        } else {
            &mut self.spare
        };
        if pool.len() < SPARE && v.capacity() <= 4 * SLOT {
            pool.push(v);
        }
    }

    /// Starts sending `frame` (from [`Lane::frame`]) to rank `to`.
    pub(crate) fn send(&mut self, to: usize, frame: Vec<u8>) -> Result<(), Error> {
        debug_assert_eq!(
            frame.first(),
            Some(&WHOLE),
            "a frame comes from `Lane::frame`"
        );
        if frame.len() <= SLOT {
            return self.send_short(to, frame);
        }
        let mut notice = self.frame();
        notice[0] = LONG;
        notice.extend_from_slice(&(frame.len() as u64).to_le_bytes());
        self.send_short(to, notice)?;
        let req = self.comm.isend_buf(frame, to, self.tag + 1)?;
        self.sends.push(Send::Buf(req));
        Ok(())
    }

    /// Sends a frame of at most a slot on the lane's tag.
    fn send_short(&mut self, to: usize, frame: Vec<u8>) -> Result<(), Error> {
        #[cfg(feature = "mpi")]
        if let Some(raw) = self.comm.t.raw() {
            self.comm.t.check_rank("lane", to)?;
            self.sends
                .push(Send::Posted(SlotSend::start(raw, frame, to, self.tag)));
            return Ok(());
        }
        let req = self.comm.isend_buf(frame, to, self.tag)?;
        self.sends.push(Send::Buf(req));
        Ok(())
    }

    /// The next frame that came, with the rank that sent it; `None` when
    /// none has come yet. Also completes the sends that have completed.
    pub(crate) fn poll(&mut self) -> Result<Option<(usize, Vec<u8>)>, Error> {
        self.reap()?;
        if let Some(got) = self.poll_longs()? {
            return Ok(Some(got));
        }
        while let Some((from, v)) = self.poll_posted()? {
            if v.first() != Some(&LONG) {
                return Ok(Some((from, v)));
            }
            let long = self.long(from, &v)?;
            self.recycle(v);
            self.longs.push((from, long));
        }
        Ok(None)
    }

    /// The next frame in of the receives posted: one test of them all
    /// when none is waiting.
    fn poll_posted(&mut self) -> Result<Option<(usize, Vec<u8>)>, Error> {
        if self.ready.is_empty() {
            self.test_posted()?;
        }
        Ok(self.ready.pop_front())
    }

    /// Moves every frame that came to `ready`, and posts the receives
    /// that replace them.
    fn test_posted(&mut self) -> Result<(), Error> {
        let mut batch = std::mem::take(&mut self.batch);
        match &mut self.how {
            #[cfg(feature = "mpi")]
            How::Posted { set, source } => {
                set.test_some(&mut batch);
                for b in &mut batch {
                    b.0 = source[b.0];
                }
            }
            How::Matched { per } => {
                for (from, queue) in per.iter_mut().enumerate() {
                    while let Some(head) = queue.front_mut() {
                        let Some((v, st)) = head.test()? else {
                            break;
                        };
                        drop(queue.pop_front());
                        batch.push((from, v, st.map_or(0, |s| s.count())));
                    }
                }
            }
        }
        for (from, mut v, len) in batch.drain(..) {
            self.posted[from] -= 1;
            self.left[from] -= 1;
            v.truncate(len);
            self.ready.push_back((from, v));
            self.fill(from)?;
        }
        self.batch = batch;
        Ok(())
    }

    /// Waits until every send completed (the receives are left as they
    /// are).
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        for send in self.sends.drain(..) {
            send.wait()?;
        }
        Ok(())
    }

    /// The receive of the long frame a notice from `from` announced.
    fn long(&mut self, from: usize, notice: &[u8]) -> Result<BufRequest<'c, u8>, Error> {
        let len = notice
            .get(1..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::Mismatch {
                rank: self.comm.rank(),
                op: "lane",
                from,
                detail: format!("a notice of a long frame of {} bytes, not 9", notice.len()),
            })?;
        self.comm.irecv_buf(vec![0u8; len], from, self.tag + 1)
    }

    fn poll_longs(&mut self) -> Result<Option<(usize, Vec<u8>)>, Error> {
        for k in 0..self.longs.len() {
            if let Some((v, _)) = self.longs[k].1.test()? {
                let (from, _) = self.longs.swap_remove(k);
                return Ok(Some((from, v)));
            }
        }
        Ok(None)
    }

    /// Completes the sends that have completed, keeping their vectors.
    fn reap(&mut self) -> Result<(), Error> {
        let mut k = 0;
        while k < self.sends.len() {
            match self.sends[k].test()? {
                Some(v) => {
                    drop(self.sends.swap_remove(k));
                    self.recycle(v);
                }
                None => k += 1,
            }
        }
        Ok(())
    }

    /// Posts receives for rank `from` up to [`DEPTH`], or as many as its
    /// frames still expected.
    fn fill(&mut self, from: usize) -> Result<(), Error> {
        let want = self.left[from].min(DEPTH);
        while self.posted[from] < want {
            let mut v = self.slots.pop().unwrap_or_default();
            v.clear();
            v.resize(SLOT, 0);
            self.post(v, from)?;
            self.posted[from] += 1;
        }
        Ok(())
    }

    fn post(&mut self, v: Vec<u8>, from: usize) -> Result<(), Error> {
        match &mut self.how {
            #[cfg(feature = "mpi")]
            How::Posted { set, source } => {
                let Some(raw) = self.comm.t.raw() else {
                    unreachable!("a lane posts to MPI only on MPI")
                };
                let k = set.post(raw, v, from, self.tag);
                if source.len() <= k {
                    source.resize(k + 1, 0);
                }
                source[k] = from;
            }
            How::Matched { per } => per[from].push_back(self.comm.irecv_buf(v, from, self.tag)?),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
