//! Nonblocking operations: [`Request`] (object path) and [`BufRequest`]
//! (buffer path).
//!
//! A receive is posted on its communicator when it starts and matches
//! messages in post order, as in MPI (see `matching.rs`): it takes its
//! message during any later receive, test or wait on that communicator.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::error::{decode, Error};
use super::matching::{RawSlice, Receiver, Sink, DROPPED};
use super::message::{Source, Status, TagMatch};
use super::op::{AnyBitPattern, Scalar};
use super::transport::backend::AnySending;
use super::transport::InFlight;

enum State<'c> {
    /// A send that completed (at once in the local world, or waited).
    Done,
    /// A receive that delivered its value to the rank given.
    Spent(usize),
    /// A send in flight, on the communicator whose posted receives
    /// progress while it waits.
    Sending(AnySending<u8>, Receiver<'c>),
    /// A receive posted on `comm` as `id`.
    Receiving { comm: Receiver<'c>, id: u64 },
}

/// A nonblocking send or receive in flight (mpi4py's `MPI.Request`, from
/// [`Comm::isend`](super::Comm::isend) and
/// [`Comm::irecv`](super::Comm::irecv)). `T` is `()` for a send and the
/// received type for a receive.
///
/// A send dropped before it completed waits for it: a send's buffer
/// outlives the send. A receive dropped before it completed is withdrawn
/// (a message it had already taken is lost).
#[must_use = "a request does nothing unless waited on or tested"]
pub struct Request<'c, T> {
    state: State<'c>,
    _value: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Request<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Done => "done",
            State::Spent(_) => "spent",
            State::Sending(s, _) if s.is_done() => "done",
            State::Sending(..) => "sending",
            State::Receiving { .. } => "receiving",
        };
        f.debug_struct("Request").field("state", &state).finish()
    }
}

impl<'c, T> Request<'c, T> {
    pub(crate) fn sending(req: AnySending<u8>, comm: Receiver<'c>) -> Self {
        Request {
            state: State::Sending(req, comm),
            _value: PhantomData,
        }
    }

    pub(crate) fn receiving(comm: Receiver<'c>, id: u64) -> Self {
        Request {
            state: State::Receiving { comm, id },
            _value: PhantomData,
        }
    }
}

impl<T> Drop for Request<'_, T> {
    fn drop(&mut self) {
        match &mut self.state {
            State::Receiving { comm, id } => comm.cancel_recv(*id),
            State::Sending(req, comm) if !std::thread::panicking() => {
                // Waits as `wait` does (see `CollRequest`'s drop).
                let _span = crate::trace::op_span(DROPPED);
                drop(comm.poll_send(req, true));
            }
            _ => {}
        }
    }
}

impl<T: DeserializeOwned> Request<'_, T> {
    /// One step: the value and status if it completed, else `None`.
    fn poll(&mut self, wait: bool) -> Result<Option<(T, Option<Status>)>, Error> {
        match &mut self.state {
            State::Done => unit().map(|v| Some((v, None))),
            State::Spent(rank) => Err(Error::RequestSpent {
                rank: *rank,
                op: "irecv",
            }),
            State::Sending(req, comm) => match comm.poll_send(req, wait)? {
                None => Ok(None),
                Some(_) => {
                    self.state = State::Done;
                    unit().map(|v| Some((v, None)))
                }
            },
            State::Receiving { comm, id } => {
                let (comm, id) = (*comm, *id);
                let got = comm.poll_recv(id, wait);
                let done = match got {
                    Ok(None) => return Ok(None),
                    Ok(Some(done)) => Ok(done),
                    Err(e) => Err(e),
                };
                // Completed, well or not: the receive left the queue.
                self.state = State::Spent(comm.rank());
                match done? {
                    (status, Sink::Bytes(bytes)) => {
                        let v = decode(comm.rank(), "irecv", status.source(), &bytes)?;
                        Ok(Some((v, Some(status))))
                    }
                    (_, Sink::Slice(_)) => unreachable!("an object receive posts bytes"),
                }
            }
        }
    }

    /// Waits until it completes; a receive returns the value
    /// (`req.wait()`).
    pub fn wait(mut self) -> Result<T, Error> {
        self.wait_status().map(|(v, _)| v)
    }

    /// [`Request::wait`], with the status of a receive (`None` for a send).
    pub fn wait_status(&mut self) -> Result<(T, Option<Status>), Error> {
        // Seen by the hang watchdog as a wait, like a blocking receive.
        let _span = crate::trace::op_span("wait");
        self.poll(true)
            .map(|v| v.unwrap_or_else(|| unreachable!("a blocking wait completes")))
    }

    /// The value if it has completed, `None` if not yet (`req.test()`).
    /// Once a receive returned `Some`, the request is spent: testing it
    /// again is an [`Error::RequestSpent`].
    pub fn test(&mut self) -> Result<Option<T>, Error> {
        self.poll(false).map(|v| v.map(|(v, _)| v))
    }

    /// Waits for all, returning their values in order (`MPI.Request.waitall`).
    pub fn wait_all(requests: Vec<Self>) -> Result<Vec<T>, Error> {
        requests.into_iter().map(Request::wait).collect()
    }

    /// Waits for the first to complete, removes it from `requests` and
    /// returns its index and value (`MPI.Request.waitany`); `None` when
    /// `requests` is empty. A request that fails (a message of another
    /// type…) is removed too, and its error returned, naming the sender:
    /// the others stay in `requests`, to be waited on again (as MPI sets a
    /// failed request to `MPI_REQUEST_NULL`).
    pub fn wait_any(requests: &mut Vec<Self>) -> Result<Option<(usize, T)>, Error> {
        if requests.is_empty() {
            return Ok(None);
        }
        let _span = crate::trace::op_span("wait_any");
        loop {
            for i in 0..requests.len() {
                match requests[i].test() {
                    Ok(None) => {}
                    Ok(Some(v)) => {
                        drop(requests.remove(i));
                        return Ok(Some((i, v)));
                    }
                    Err(e) => {
                        drop(requests.remove(i));
                        return Err(e);
                    }
                }
            }
            std::thread::yield_now();
        }
    }
}

/// The value a completed send gives: `()`, which `T` is for a send
/// request (decoded from its encoding, since `T` is only known to be
/// `DeserializeOwned` here).
fn unit<T: DeserializeOwned>() -> Result<T, Error> {
    use std::sync::OnceLock;
    static UNIT: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = UNIT.get_or_init(|| crate::codec::encode(&()).unwrap_or_default());
    crate::codec::decode(bytes).map_err(|source| Error::Codec {
        rank: 0,
        op: "isend",
        from: None,
        source,
    })
}

/// What a completed [`BufRequest`] gives back: the vector, and for a
/// receive its status (`None` for a send).
pub type BufDone<T> = (Vec<T>, Option<Status>);

/// A nonblocking send or receive of the buffer path (mpi4py's `Isend` and
/// `Irecv`), from [`Comm::isend_buf`](super::Comm::isend_buf) and
/// [`Comm::irecv_buf`](super::Comm::irecv_buf). The request
/// owns the vector while MPI uses it (no copy) and gives it back when it
/// completes: after a send, to be reused; after a receive, filled.
///
/// A send dropped before it completed waits for it; a receive dropped
/// before a message arrived is withdrawn.
#[must_use = "a request does nothing unless waited on or tested"]
pub struct BufRequest<'c, T: Scalar> {
    state: BufState<'c, T>,
}

enum BufState<'c, T: Scalar> {
    /// A send, holding the vector to give back (at once in the local
    /// world), on the sender's communicator.
    Sending {
        req: AnySending<T>,
        comm: Receiver<'c>,
    },
    /// Gave its vector back (the rank is the owner's; the operation that
    /// started it).
    Spent(usize, &'static str),
    /// A receive posted on `comm` as `id`, into the vector whose parts
    /// these are (rebuilt when it completes or is dropped).
    Receiving {
        comm: Receiver<'c>,
        id: u64,
        parts: (*mut T, usize, usize),
    },
}

impl<T: Scalar> std::fmt::Debug for BufRequest<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            BufState::Sending { req, .. } if req.is_done() => "done",
            BufState::Spent(..) => "spent",
            BufState::Receiving { .. } => "receiving",
            BufState::Sending { .. } => "in flight",
        };
        f.debug_struct("BufRequest").field("state", &state).finish()
    }
}

impl<'c, T: Scalar> BufRequest<'c, T> {
    pub(crate) fn sending(req: AnySending<T>, comm: Receiver<'c>) -> Self {
        BufRequest {
            state: BufState::Sending { req, comm },
        }
    }

    pub(crate) fn receiving(comm: Receiver<'c>, buf: Vec<T>, source: Source, tag: TagMatch) -> Self
    where
        T: AnyBitPattern,
    {
        let mut buf = std::mem::ManuallyDrop::new(buf);
        let parts = (buf.as_mut_ptr(), buf.len(), buf.capacity());
        // SAFETY: the vector's memory is owned by this request alone (its
        // parts are in `ManuallyDrop`) until the receive completes or is
        // withdrawn (in `poll` or `drop`), and only then rebuilt.
        let raw = unsafe { RawSlice::new(parts.0, parts.1) };
        let id = comm.post_recv(source, tag, Sink::Slice(Box::new(raw)), "irecv_buf");
        BufRequest {
            state: BufState::Receiving { comm, id, parts },
        }
    }

    fn poll(&mut self, wait: bool) -> Result<Option<BufDone<T>>, Error> {
        let (done, rank) = match &mut self.state {
            BufState::Spent(rank, op) => return Err(Error::RequestSpent { rank: *rank, op }),
            BufState::Receiving { comm, id, parts } => {
                let (comm, id, parts) = (*comm, *id, *parts);
                let got = match comm.poll_recv(id, wait) {
                    Ok(None) => return Ok(None),
                    Ok(Some((status, _sink))) => Ok(status),
                    Err(e) => Err(e),
                };
                // SAFETY: the parts came from a vector in `receiving`, the
                // receive that wrote the memory has completed and left the
                // queue, and the state changes below so this runs once.
                let buf = unsafe { Vec::from_raw_parts(parts.0, parts.1, parts.2) };
                self.state = BufState::Spent(comm.rank(), "irecv_buf");
                return got.map(|st| Some((buf, Some(st))));
            }
            BufState::Sending { req, comm } => match comm.poll_send(req, wait) {
                Ok(None) => return Ok(None),
                Ok(Some(v)) => (Ok((v, None)), comm.rank()),
                Err(e) => return Err(e),
            },
        };
        self.state = BufState::Spent(rank, "isend_buf");
        done.map(Some)
    }

    /// Waits until it completes: the vector back (filled, for a receive) and,
    /// for a receive, the status with the number of elements that arrived.
    pub fn wait(mut self) -> Result<BufDone<T>, Error> {
        let _span = crate::trace::op_span("wait");
        self.poll(true)
            .map(|v| v.unwrap_or_else(|| unreachable!("a blocking wait completes")))
    }

    /// The vector and status if it has completed, `None` if not yet
    /// (`req.Test()`). Once it returned `Some`, the request is spent:
    /// testing it again is an [`Error::RequestSpent`].
    pub fn test(&mut self) -> Result<Option<BufDone<T>>, Error> {
        self.poll(false)
    }
}

impl<T: Scalar> Drop for BufRequest<'_, T> {
    fn drop(&mut self) {
        match &mut self.state {
            BufState::Receiving { comm, id, parts } => {
                let (id, parts) = (*id, *parts);
                comm.cancel_recv(id);
                // SAFETY: the receive was withdrawn, so nothing refers to
                // the memory any more; the parts came from a vector in
                // `receiving`.
                drop(unsafe { Vec::from_raw_parts(parts.0, parts.1, parts.2) });
            }
            BufState::Sending { req, comm } if !std::thread::panicking() => {
                // Waits as `wait` does (see `CollRequest`'s drop).
                let _span = crate::trace::op_span(DROPPED);
                drop(comm.poll_send(req, true));
            }
            _ => {}
        }
    }
}
