//! The messages of the local world: an [`Envelope`] per message, in one
//! mailbox per rank.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Scalar};
use crate::mpi::transport::{Fit, Matched};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves the data consistent
    // (every critical section is a push, a scan or a store).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which traffic a message belongs to: the user's point-to-point messages
/// and the messages of collectives never match each other (MPI's contexts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ctx {
    User,
    Coll,
    /// Nonblocking collectives, tagged with their number on the
    /// communicator (`local/nonblocking.rs`).
    Nb,
}

pub(crate) struct Envelope {
    pub(crate) src: usize,
    pub(crate) tag: i32,
    pub(super) ctx: Ctx,
    pub(super) payload: Box<dyn Any + Send>,
    /// For a vector of elements: their type's name and size, and how many.
    pub(crate) elems: Option<Elems>,
}

/// What a message of the buffer path holds, for the errors of a receive
/// into another element type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Elems {
    pub(crate) name: &'static str,
    pub(crate) size: usize,
    pub(crate) len: usize,
}

impl Envelope {
    /// Whether the payload is a `P`.
    pub(crate) fn holds<P: 'static>(&self) -> bool {
        self.payload.is::<P>()
    }

    /// The elements, when the payload is a `Vec<T>`.
    pub(crate) fn into_vec<T: 'static>(self) -> Result<Vec<T>, Envelope> {
        let Envelope {
            src,
            tag,
            ctx,
            payload,
            elems,
        } = self;
        payload
            .downcast::<Vec<T>>()
            .map(|b| *b)
            .map_err(|payload| Envelope {
                src,
                tag,
                ctx,
                payload,
                elems,
            })
    }
}

impl Matched for Envelope {
    fn source(&self) -> usize {
        self.src
    }

    fn tag(&self) -> Tag {
        self.tag
    }

    fn fit<T: Scalar>(&self, op: &'static str) -> Fit {
        let tname = std::any::type_name::<T>();
        let tsize = std::mem::size_of::<T>();
        match self.elems {
            Some(e) if self.holds::<Vec<T>>() => Fit::Whole(e.len),
            Some(e) if (e.len * e.size) % tsize.max(1) != 0 => Fit::NotWhole(e.len * e.size),
            Some(e) => Fit::Other(format!(
                "{} elements of `{}` sent; this rank receives `{tname}` (the ranks call \
                 `{op}` with different element types)",
                e.len, e.name
            )),
            None => Fit::Other("not a message of the buffer path".into()),
        }
    }

    fn receive_into<T: Scalar + AnyBitPattern>(self, dst: &mut [T]) {
        match self.into_vec::<T>() {
            Ok(v) => dst.copy_from_slice(&v),
            Err(_) => unreachable!("`fit` checked the element type"),
        }
    }

    fn receive_into_uninit<T: Scalar + AnyBitPattern>(self, dst: &mut [std::mem::MaybeUninit<T>]) {
        match self.into_vec::<T>() {
            Ok(v) => {
                // `fit` said how many elements it holds: `dst` is that long.
                for (d, &s) in dst.iter_mut().zip(&v) {
                    d.write(s);
                }
            }
            Err(_) => unreachable!("`fit` checked the element type"),
        }
    }

    fn discard(self) {}
}

#[derive(Default)]
pub(crate) struct Mailbox {
    pub(super) queue: Mutex<VecDeque<Envelope>>,
    pub(super) ready: Condvar,
}

/// The first envelope in `queue` that matches.
pub(super) fn find(
    queue: &VecDeque<Envelope>,
    source: Source,
    tag: TagMatch,
    ctx: Ctx,
) -> Option<usize> {
    queue
        .iter()
        .position(|e| e.ctx == ctx && source.fits(e.src) && tag.fits(e.tag))
}
