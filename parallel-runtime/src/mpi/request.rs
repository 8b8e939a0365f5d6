//! Nonblocking operations of the object path: [`Request`].

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::comm::{Comm, Source, Status, TagMatch};
use super::error::Error;

enum State<'c> {
    /// A send that completed (at once in the local world, or waited).
    Done,
    /// A receive that delivered its value to the rank given.
    Spent(usize),
    #[cfg(feature = "mpi")]
    Sending(super::real::SendRequest),
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
    pub(crate) fn sending(req: super::real::SendRequest) -> Self {
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
                if wait {
                    req.wait();
                    Some((Vec::new(), None))
                } else {
                    req.test().then(|| (Vec::new(), None))
                }
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
