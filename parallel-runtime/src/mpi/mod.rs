//! Message passing: the communicator behind `#[mpi_main]`, for readers who
//! know mpi4py.
//!
//! A [`Comm`] is a group of ranks that exchange messages. Like mpi4py it has
//! two paths (the chapter `docs/mpi.md` puts each call beside mpi4py's):
//!
//! - **objects** (mpi4py's lowercase methods: `comm.send(obj, dest)`,
//!   `comm.bcast(obj, root)`…): any `serde` type, encoded with
//!   [`crate::codec`]: [`Comm::send`], [`Comm::recv`], [`Comm::sendrecv`],
//!   [`Comm::isend`]/[`Comm::irecv`], [`Comm::bcast`], [`Comm::scatter`],
//!   [`Comm::gather`], [`Comm::allgather`], [`Comm::reduce`],
//!   [`Comm::all_reduce`] (with an [`Op`] on numbers) and
//!   [`Comm::reduce_with`]/[`Comm::all_reduce_with`] (with a closure on any
//!   type);
//! - **buffers** (mpi4py's uppercase methods: `comm.Send(array, dest)`…):
//!   slices of numbers and of `#[derive(Equivalence)]` structs, passed to
//!   the MPI library without a copy: [`Comm::send_buf`],
//!   [`Comm::recv_buf`], [`Comm::bcast_buf`], [`Comm::scatter_buf`],
//!   [`Comm::gather_buf`], [`Comm::all_gather_buf`], [`Comm::reduce_buf`],
//!   [`Comm::all_reduce_buf`].
//!
//! Where the ranks come from:
//!
//! | how the program runs | the world is |
//! |---|---|
//! | `mpirun -n 4 prog`, built with the `mpi` feature | 4 MPI processes (OpenMPI, MPICH…) |
//! | `prog` alone, with or without the `mpi` feature | one rank, as an mpi4py script run with `python` |
//! | [`local::run(4, …)`](local::run) in a test | 4 threads of this process: a test harness, not a replacement for MPI |
//!
//! Every rank runs the same code (SPMD); `world.rank()` tells them apart.

mod agree;
mod buffer;
mod check;
mod collective;
mod comm;
mod datatype;
mod error;
mod fold;
#[cfg(feature = "mpi")]
mod heap;
mod lane;
mod launcher;
mod limits;
pub mod local;
mod matching;
mod message;
mod nonblocking;
mod op;
mod probe;
mod request;
pub(crate) mod start;
mod topology;
mod transport;
mod vector;
#[cfg(any(feature = "mpi", test))]
mod watchdog;
mod wire;
pub(crate) mod world;

pub use comm::Comm;
pub use datatype::Equivalence;
pub use error::Error;
pub(crate) use lane::Lane;
pub use message::{Source, Status, Tag, TagMatch, ANY_SOURCE, ANY_TAG};
pub use nonblocking::CollRequest;
pub use op::{AnyBitPattern, Op, Operand, Scalar};
pub use op::{Bitwise, Integer, Loc, LocValue, Locate, Logical, Reduction};
pub use request::{BufDone, BufRequest, Request};
pub use topology::{dims_create, CartComm};

/// The derive for [`Equivalence`], with or without the `mpi` feature: it
/// implements the trait (rsmpi's, or the stand-in marker) and
/// [`AnyBitPattern`] when every field has it.
#[doc(inline)]
pub use parallel_macros::Equivalence;

/// Support for `#[derive(Equivalence)]`: passes its input through with the
/// `mpi` feature, drops it without. Not a stable API.
#[cfg(feature = "mpi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __mpi_feature_on {
    ($($t:tt)*) => { $($t)* };
}
/// Support for `#[derive(Equivalence)]`: passes its input through with the
/// `mpi` feature, drops it without. Not a stable API.
#[cfg(not(feature = "mpi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mpi_feature_on {
    ($($t:tt)*) => {};
}
/// Support for `#[derive(Equivalence)]`: passes its input through without
/// the `mpi` feature, drops it with. Not a stable API.
#[cfg(not(feature = "mpi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mpi_feature_off {
    ($($t:tt)*) => { $($t)* };
}
/// Support for `#[derive(Equivalence)]`: passes its input through without
/// the `mpi` feature, drops it with. Not a stable API.
#[cfg(feature = "mpi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __mpi_feature_off {
    ($($t:tt)*) => {};
}

/// The MPI bindings this crate uses (rsmpi, the `mpi` crate), for anything
/// [`Comm`] does not wrap: see [`Comm::raw`]. Only with the `mpi` feature.
#[cfg(feature = "mpi")]
pub use rsmpi;

/// Seconds since an arbitrary point in the past, as `MPI.Wtime()`: for
/// timing parts of a program. With MPI it is `MPI_Wtime`.
pub fn wtime() -> f64 {
    #[cfg(feature = "mpi")]
    if rsmpi::environment::is_initialized() && !rsmpi::environment::is_finalized() {
        return rsmpi::time();
    }
    use std::sync::OnceLock;
    static T0: OnceLock<std::time::Instant> = OnceLock::new();
    T0.get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// The name of the machine this rank runs on, as
/// `MPI.Get_processor_name()`.
pub fn processor_name() -> String {
    #[cfg(feature = "mpi")]
    if rsmpi::environment::is_initialized() && !rsmpi::environment::is_finalized() {
        if let Ok(name) = rsmpi::environment::processor_name() {
            return name;
        }
    }
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}
