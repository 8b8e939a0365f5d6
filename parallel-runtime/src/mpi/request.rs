//! Nonblocking operations of the object path: [`Request`].

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::comm::{Comm, Source, Status, TagMatch};
use super::error::Error;
use super::op::Scalar;

enum State<'c> {
    /// A send that completed (at once in the local world, or waited).
    Done,
    /// A receive that delivered its value to the rank given.
    Spent(usize),
    #[cfg(feature = "mpi")]
    Sending(super::real::BufRequest<u8>),
    Receiving {
        comm: &'c Comm,
        source: Source,
        tag: TagMatch,
    },
}

/// A nonblocking send or receive in flight (mpi4py's `MPI.Request`, from
/// [`Comm::isend`] and [`Comm::irecv`]). `T` is `()` for a send and the
/// received type for a receive.
///
/// A request dropped before it completed waits for it: a send's buffer
/// outlives the send.
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
            #[cfg(feature = "mpi")]
            State::Sending(_) => "sending",
            State::Receiving { .. } => "receiving",
        };
        f.debug_struct("Request").field("state", &state).finish()
    }
}

impl<'c, T> Request<'c, T> {
    pub(crate) fn done() -> Self {
        Request {
            state: State::Done,
            _value: PhantomData,
        }
    }

    #[cfg(feature = "mpi")]
    pub(crate) fn sending(req: super::real::BufRequest<u8>) -> Self {
        Request {
            state: State::Sending(req),
            _value: PhantomData,
        }
    }

    pub(crate) fn receiving(comm: &'c Comm, source: Source, tag: TagMatch) -> Self {
        Request {
            state: State::Receiving { comm, source, tag },
            _value: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Request<'_, T> {
    /// One step: the value and status if it completed, else `None`.
    fn poll(&mut self, wait: bool) -> Result<Option<(T, Option<Status>)>, Error> {
        let done: Option<(Vec<u8>, Option<Status>)> = match &mut self.state {
            State::Done => Some((Vec::new(), None)),
            State::Spent(rank) => return Err(Error::RequestSpent { rank: *rank }),
            #[cfg(feature = "mpi")]
            State::Sending(req) => {
                let sent = if wait { Some(req.wait()) } else { req.test() };
                sent.map(|_| (Vec::new(), None))
            }
            State::Receiving { comm, source, tag } => comm
                .recv_bytes(*source, *tag, wait, "irecv")?
                .map(|(b, s)| (b, Some(s))),
        };
        match done {
            None => Ok(None),
            Some((bytes, status)) => {
                // Sends complete with `()`, which decodes from no bytes.
                let receiver = match &self.state {
                    State::Receiving { comm, .. } => Some(comm.rank()),
                    _ => None,
                };
                let value = crate::codec::decode(&bytes).map_err(|source| Error::Codec {
                    rank: receiver.unwrap_or(0),
                    op: "irecv",
                    source,
                })?;
                self.state = receiver.map_or(State::Done, State::Spent);
                Ok(Some((value, status)))
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
    /// `requests` is empty.
    pub fn wait_any(requests: &mut Vec<Self>) -> Result<Option<(usize, T)>, Error> {
        if requests.is_empty() {
            return Ok(None);
        }
        loop {
            for i in 0..requests.len() {
                if let Some(v) = requests[i].test()? {
                    drop(requests.remove(i));
                    return Ok(Some((i, v)));
                }
            }
            std::thread::yield_now();
        }
    }
}

/// What a completed [`BufRequest`] gives back: the vector, and for a
/// receive its status (`None` for a send).
pub type BufDone<T> = (Vec<T>, Option<Status>);

/// A nonblocking send or receive of the buffer path (mpi4py's `Isend` and
/// `Irecv`), from [`Comm::isend_buf`] and [`Comm::irecv_buf`]. The request
/// owns the vector while MPI uses it (no copy) and gives it back when it
/// completes: after a send, to be reused; after a receive, filled.
///
/// A send dropped before it completed waits for it; a receive dropped
/// before a message arrived is cancelled.
#[must_use = "a request does nothing unless waited on or tested"]
pub struct BufRequest<'c, T: Scalar> {
    state: BufState<'c, T>,
}

enum BufState<'c, T: Scalar> {
    /// A send in the local world: done at once, holding the vector to give
    /// back; the rank is the sender's.
    Ready(Vec<T>, usize),
    /// Gave its vector back (the rank is the owner's).
    Spent(usize),
    /// A receive in the local world, done when a message is there.
    LocalRecv {
        comm: &'c Comm,
        buf: Vec<T>,
        source: Source,
        tag: TagMatch,
    },
    #[cfg(feature = "mpi")]
    Mpi {
        req: super::real::BufRequest<T>,
        rank: usize,
        recv: bool,
    },
}

impl<T: Scalar> std::fmt::Debug for BufRequest<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            BufState::Ready(..) => "done",
            BufState::Spent(_) => "spent",
            BufState::LocalRecv { .. } => "receiving",
            #[cfg(feature = "mpi")]
            BufState::Mpi { .. } => "in flight",
        };
        f.debug_struct("BufRequest").field("state", &state).finish()
    }
}

impl<'c, T: Scalar> BufRequest<'c, T> {
    pub(crate) fn ready(buf: Vec<T>, rank: usize) -> Self {
        BufRequest {
            state: BufState::Ready(buf, rank),
        }
    }

    pub(crate) fn local_recv(comm: &'c Comm, buf: Vec<T>, source: Source, tag: TagMatch) -> Self {
        BufRequest {
            state: BufState::LocalRecv {
                comm,
                buf,
                source,
                tag,
            },
        }
    }

    #[cfg(feature = "mpi")]
    pub(crate) fn mpi(req: super::real::BufRequest<T>, rank: usize, recv: bool) -> Self {
        BufRequest {
            state: BufState::Mpi { req, rank, recv },
        }
    }

    fn poll(&mut self, wait: bool) -> Result<Option<BufDone<T>>, Error> {
        let (done, rank) = match &mut self.state {
            BufState::Spent(rank) => return Err(Error::RequestSpent { rank: *rank }),
            BufState::Ready(buf, rank) => (Some((std::mem::take(buf), None)), *rank),
            BufState::LocalRecv {
                comm,
                buf,
                source,
                tag,
            } => {
                let got = comm.recv_buf_local(buf, *source, *tag, wait, "irecv_buf")?;
                (got.map(|st| (std::mem::take(buf), Some(st))), comm.rank())
            }
            #[cfg(feature = "mpi")]
            BufState::Mpi { req, rank, recv } => {
                let got = if wait { Some(req.wait()) } else { req.test() };
                // A send's status says nothing: only receives report one.
                let recv = *recv;
                (got.map(|(v, st)| (v, recv.then_some(st))), *rank)
            }
        };
        if done.is_some() {
            self.state = BufState::Spent(rank);
        }
        Ok(done)
    }

    /// Waits until it completes: the vector back (filled, for a receive) and,
    /// for a receive, the status with the number of elements that arrived.
    pub fn wait(mut self) -> Result<BufDone<T>, Error> {
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
