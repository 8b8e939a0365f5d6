//! Receives on real MPI: matched probes and the message they match.
//!
//! Every receive matches its message first (`MPI_Mprobe`) and then
//! receives exactly that message's size into memory that holds it, never
//! handing MPI a buffer that might be shorter than the message: Open MPI
//! 4.1's shared-memory transport writes a message longer than the receive
//! buffer past the buffer's end (its single-copy path reads the whole
//! message) before it reports the truncation, so a plain `MPI_Recv` into a
//! short slice corrupts the memory after it. A matched probe costs about
//! 0.1 to 0.3 µs more than `MPI_Recv` a message (docs/performance.md).

use std::ffi::c_void;
use std::mem::MaybeUninit;

use rsmpi::datatype::{AsDatatype, BufferMut, Collection, Equivalence, Pointer, PointerMut};
use rsmpi::point_to_point::{Message, Status as MpiStatus};
use rsmpi::traits::Communicator;
use rsmpi::Count;

use super::early::Early;
use super::{count, Rsmpi};
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Scalar};
use crate::mpi::transport::{Fit, Matched};

/// A message matched by `MPI_Mprobe`, and its status, or one received
/// early (`early.rs`).
pub(crate) enum Probed {
    Mpi(Message, MpiStatus),
    Early(Early),
}

impl Rsmpi {
    /// The first message that matches (`MPI_Mprobe`); with `wait` false
    /// (`MPI_Improbe`), `None` when none has arrived.
    pub(super) fn matched_probe(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
    ) -> Option<Probed> {
        use rsmpi::traits::Source as _;
        if let Some(e) = self.early.take(source, tag) {
            return Some(Probed::Early(e));
        }
        let got = match (source, tag, wait) {
            (Source::Any, TagMatch::Any, true) => Some(self.comm.any_process().matched_probe()),
            (Source::Any, TagMatch::Tag(t), true) => {
                Some(self.comm.any_process().matched_probe_with_tag(t))
            }
            (Source::Rank(r), TagMatch::Any, true) => {
                Some(self.comm.process_at_rank(r as i32).matched_probe())
            }
            (Source::Rank(r), TagMatch::Tag(t), true) => Some(
                self.comm
                    .process_at_rank(r as i32)
                    .matched_probe_with_tag(t),
            ),
            (Source::Any, TagMatch::Any, false) => {
                self.comm.any_process().immediate_matched_probe()
            }
            (Source::Any, TagMatch::Tag(t), false) => {
                self.comm.any_process().immediate_matched_probe_with_tag(t)
            }
            (Source::Rank(r), TagMatch::Any, false) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_matched_probe(),
            (Source::Rank(r), TagMatch::Tag(t), false) => self
                .comm
                .process_at_rank(r as i32)
                .immediate_matched_probe_with_tag(t),
        };
        got.map(|(m, s)| Probed::Mpi(m, s))
    }
}

/// Elements not initialised yet, as a receive buffer of `T`'s datatype
/// that MPI writes (and never reads).
struct Uninit<'a, T>(&'a mut [MaybeUninit<T>]);

// SAFETY: the count and the pointer describe exactly the borrowed slice,
// exclusively borrowed for the receive.
unsafe impl<T> Collection for Uninit<'_, T> {
    fn count(&self) -> Count {
        count(self.0.len())
    }
}

// SAFETY: as above.
unsafe impl<T> Pointer for Uninit<'_, T> {
    fn pointer(&self) -> *const c_void {
        self.0.as_ptr().cast()
    }
}

// SAFETY: as above; MPI only writes there.
unsafe impl<T> PointerMut for Uninit<'_, T> {
    fn pointer_mut(&mut self) -> *mut c_void {
        self.0.as_mut_ptr().cast()
    }
}

// SAFETY: elements of `T`, described by `T`'s own datatype.
unsafe impl<T: Scalar> AsDatatype for Uninit<'_, T> {
    type Out = <T as Equivalence>::Out;
    fn as_datatype(&self) -> Self::Out {
        T::equivalent_datatype()
    }
}

// SAFETY: every impl above describes the one slice.
unsafe impl<T: Scalar> BufferMut for Uninit<'_, T> {}

/// How the message that `st` describes fits a receive of `T`.
pub(super) fn fit_status<T: Scalar>(st: &MpiStatus) -> Fit {
    let n = st.count(T::equivalent_datatype());
    if n >= 0 {
        return Fit::Whole(n as usize);
    }
    let bytes = st.count(u8::equivalent_datatype());
    if bytes >= 0 {
        Fit::NotWhole(bytes as usize)
    } else {
        Fit::Other(format!(
            "more than {} bytes sent, not a whole number of `{}` elements ({} bytes each)",
            i32::MAX,
            std::any::type_name::<T>(),
            std::mem::size_of::<T>()
        ))
    }
}

impl Matched for Probed {
    #[inline]
    fn source(&self) -> usize {
        match self {
            Probed::Mpi(_, st) => st.source_rank() as usize,
            Probed::Early(e) => e.source,
        }
    }

    #[inline]
    fn tag(&self) -> Tag {
        match self {
            Probed::Mpi(_, st) => st.tag(),
            Probed::Early(e) => e.tag,
        }
    }

    fn fit<T: Scalar>(&self, _op: &'static str) -> Fit {
        match self {
            Probed::Mpi(_, st) => fit_status::<T>(st),
            Probed::Early(e) => e.fit::<T>(),
        }
    }

    fn receive_into<T: Scalar + AnyBitPattern>(self, dst: &mut [T]) {
        match self {
            Probed::Mpi(msg, _) => {
                msg.matched_receive_into(dst);
            }
            Probed::Early(e) => {
                // SAFETY: `T: AnyBitPattern` is a plain number type: its
                // slice is `size_of_val(dst)` bytes that any bytes make
                // valid, borrowed exclusively here.
                let out = unsafe {
                    std::slice::from_raw_parts_mut(
                        dst.as_mut_ptr().cast::<u8>(),
                        std::mem::size_of_val(dst),
                    )
                };
                // `fit` said how many elements it holds: `dst` is that long.
                out.copy_from_slice(&e.bytes[..out.len()]);
            }
        }
    }

    fn receive_into_uninit<T: Scalar + AnyBitPattern>(self, dst: &mut [MaybeUninit<T>]) {
        match self {
            Probed::Mpi(msg, _) => {
                msg.matched_receive_into(&mut Uninit(dst));
            }
            Probed::Early(e) => {
                let bytes = std::mem::size_of_val(dst);
                // SAFETY: `fit` said how many elements it holds: `dst` is
                // that long, `bytes` bytes, all of them in `e.bytes`; the
                // copy writes every byte of `dst`, exclusively borrowed,
                // and any bytes make a valid `T: AnyBitPattern`.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        e.bytes[..bytes].as_ptr(),
                        dst.as_mut_ptr().cast::<u8>(),
                        bytes,
                    );
                }
            }
        }
    }

    fn discard(self) {
        let Probed::Mpi(msg, st) = self else {
            return;
        };
        let bytes = st.count(u8::equivalent_datatype());
        if bytes >= 0 {
            let mut sink = vec![0u8; bytes as usize];
            msg.matched_receive_into(&mut sink[..]);
        } else {
            // Over 2 GiB in one piece: as 8-byte words.
            let words = st.count(u64::equivalent_datatype()).max(0);
            let mut sink = vec![0u64; words as usize];
            msg.matched_receive_into(&mut sink[..]);
        }
    }
}
