//! Receives on real MPI: matched probes, the message they match, and the
//! receive without a probe of small messages.

use std::ffi::c_void;
use std::mem::MaybeUninit;

use rsmpi::datatype::{AsDatatype, BufferMut, Collection, Equivalence, Pointer, PointerMut};
use rsmpi::point_to_point::{Message, Status as MpiStatus};
use rsmpi::traits::Communicator;
use rsmpi::Count;

use super::early::Early;
use super::{count, Rsmpi};
use crate::mpi::message::{Source, Status, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Scalar};
use crate::mpi::transport::{Direct, Fit, Matched};

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

    /// `recv_buf`'s fast path: one `MPI_Recv` straight into `buf`, for a
    /// receive with none posted before it and a buffer shorter than a piece
    /// (so a message that fits is one message). A matched probe first, as
    /// the general path does, costs 1.5x the latency of `MPI_Recv`
    /// (`MPI_Mprobe` + `MPI_Mrecv`, measured with C on Open MPI 4.1); here
    /// the library's error handler is set to return for this one call, so
    /// that a message longer than the buffer comes back as an error (Open
    /// MPI consumes it), not as the end of the job.
    pub(super) fn recv_unprobed<T: Scalar + AnyBitPattern>(
        &self,
        buf: &mut [T],
        source: Source,
        tag: TagMatch,
    ) -> Direct {
        use rsmpi::ffi;
        use rsmpi::raw::AsRaw;
        // SAFETY: constants of the C library that mpi-sys exposes as
        // statics; they are only read.
        let (any_source, any_tag) = unsafe { (ffi::RSMPI_ANY_SOURCE, ffi::RSMPI_ANY_TAG) };
        let src = match source {
            Source::Any => any_source,
            Source::Rank(r) => r as i32,
        };
        let tg = match tag {
            TagMatch::Any => any_tag,
            TagMatch::Tag(t) => t,
        };
        let datatype = T::equivalent_datatype();
        let comm = self.comm.as_raw();
        let mut raw = std::mem::MaybeUninit::<ffi::MPI_Status>::zeroed();
        // SAFETY: `buf` is a live, exclusively borrowed slice of
        // `buf.len()` elements of `T`, described by `T`'s own datatype, and
        // `T: AnyBitPattern`, so whatever MPI writes there is a valid value;
        // `raw` is a status MPI fills. Only this thread calls MPI on this
        // communicator now (the thread level this crate asks for), and the
        // handler is restored before anything else runs on it.
        let rc = unsafe {
            ffi::MPI_Comm_set_errhandler(comm, ffi::RSMPI_ERRORS_RETURN);
            let rc = ffi::MPI_Recv(
                buf.as_mut_ptr().cast(),
                count(buf.len()),
                datatype.as_raw(),
                src,
                tg,
                comm,
                raw.as_mut_ptr(),
            );
            ffi::MPI_Comm_set_errhandler(comm, ffi::RSMPI_ERRORS_ARE_FATAL);
            rc
        };
        // SAFETY: MPI filled the status (zeroed before, so every field is
        // initialised whatever the library writes).
        let st = MpiStatus::from_raw(unsafe { raw.assume_init() });
        let from = st.source_rank().max(0) as usize;
        if rc != 0 {
            let mut class = 0;
            // SAFETY: translates an error code of this library into its class.
            unsafe { ffi::MPI_Error_class(rc, &mut class) };
            return if class == ffi::MPI_ERR_TRUNCATE as i32 {
                Direct::Longer { from }
            } else {
                Direct::Failed { from, code: rc }
            };
        }
        let n = st.count(datatype);
        if n < 0 {
            let bytes = st.count(u8::equivalent_datatype());
            return Direct::NotWhole {
                from,
                bytes: bytes.max(0) as usize,
            };
        }
        Direct::Received(Status {
            source: from,
            tag: st.tag(),
            count: n as usize,
        })
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
