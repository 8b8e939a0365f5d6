//! The process-wide configuration shared by every annotation.
//!
//! Three sources, from strongest to weakest:
//!
//! 1. options given for one call (`simulate::map_with(&MapOptions…)`);
//! 2. the run-wide switches: the setters in this module, then the environment
//!    variables below (read once, at the first parallel call);
//! 3. the options written on the attribute, then the built-in defaults.
//!
//! | variable | values | effect |
//! |---|---|---|
//! | `PARALLEL_BACKEND` | `serial`, `threads`, `mpi` | where maps and graphs run; `serial` is the debugging switch: the plain loop on the calling thread |
//! | `PARALLEL_NUM_THREADS` | a positive integer, at most 64 per core (and never more than 4096) | size of the shared thread pool (default: the cores of the machine, or of this rank's share of the node under MPI) |
//! | `PARALLEL_PROGRESS` | `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` | progress bars on stderr for every map |
//! | `PARALLEL_MPI_KEEP_HEAP` | `1` (the default) or `0`, as `PARALLEL_PROGRESS` | under `#[mpi_main]` on real MPI with glibc: keep freed memory in the heap (glibc's `mmap` threshold 32 MiB, trim threshold 64 MiB, where its own adjustment ends), so that the arrays of the next received message do not fault their pages in again; off with `0`, or when `GLIBC_TUNABLES` or `MALLOC_*_` sets those thresholds (see `docs/mpi.md`, "Memory between messages") |
//! | `PARALLEL_HANG_TIMEOUT` | seconds, e.g. `60` (the default) or `2.5`; `0` turns it off | under `#[mpi_main]` on real MPI: when some ranks have returned from `main` and every other rank has waited that long in a communication, or (deadlock) every rank has, the job is aborted with a report naming the finished ranks and what each other rank waits in (see below) |
//!
//! An invalid value is an error that names the variable and the valid values:
//! [`check_env`] returns it, and the first parallel call panics with it.
//!
//! # Hang detection (`PARALLEL_HANG_TIMEOUT`)
//!
//! A rank that returns from `main` while another still waits for its
//! message (or its part in a collective) would leave that rank, and the
//! job, waiting forever on MPI. Under `#[mpi_main]` each rank runs a small
//! watchdog thread on its own duplicate of the world communicator: ranks
//! that return from `main` say so to the others, and a rank that has waited
//! in one communicator operation (`recv`, `barrier`, …) for a while says
//! that too. When every rank that has not returned has waited in the same
//! operation for `PARALLEL_HANG_TIMEOUT` seconds, the lowest finished rank
//! prints one report and aborts the job (`MPI_Abort`, exit code 124):
//!
//! ```text
//! rank 1: the job cannot finish: rank 1 returned from main, and every other rank has waited
//! for 2.0 s in a communication that nothing can complete any more:
//!   rank 0 waits in `recv` (for 2.1 s)
//!   rank 2 waits in `barrier` (for 2.0 s)
//! ```
//!
//! A deadlock is caught the same way: when no rank has returned but every
//! rank has waited in one operation for `PARALLEL_HANG_TIMEOUT` seconds
//! (two ranks that each send a large message before receiving, or ranks
//! that call collectives in different orders), rank 0 prints one report
//! and aborts the job (exit code 124):
//!
//! ```text
//! rank 0: the job is deadlocked: every rank has waited for 2.0 s in a communication that
//! only another waiting rank could complete:
//!   rank 0 waits in `send_buf` (for 2.1 s)
//!   rank 1 waits in `send_buf` (for 2.0 s)
//!   rank 2 waits in `barrier` (for 2.1 s)
//! ```
//!
//! This check is made only where `main`'s thread alone communicates
//! (`threading` `single` or `funneled`, the default): under `serialized`
//! or `multiple`, another thread of a waiting rank could still send. A
//! single transfer that takes longer than the timeout on every rank at
//! once (hundreds of GB through a slow network) would be taken for a
//! deadlock: raise the timeout for such a job.
//!
//! A rank that computes (is not inside a communicator operation) is never
//! taken for hung, however long it takes. A rank counts as waiting while
//! any of its threads is inside an operation and none starts another: a
//! program whose main thread waits for what another thread of the same
//! rank still computes, longer than the timeout, should raise it (or set
//! `0`). Detection needs, and then asks
//! MPI for, `MPI_THREAD_MULTIPLE`; it is off, as with `0`, where the MPI
//! library provides less, in a job of one rank, under
//! `#[mpi_main(threading = "single")]` unless the variable is set (a
//! program that asks for one thread gets no watchdog thread, and keeps
//! `MPI_THREAD_SINGLE`'s lower latency), and in an MPMD job
//! (`mpirun -n 1 python3 peer.py : -n 1 prog`, recognised by Open MPI's
//! `OMPI_APP_CTX_NUM_PROCS`), whose other programs would never join the
//! watchdog's start-up `MPI_Comm_dup`. Under a launcher other than Open
//! MPI's, which does not say whether the job is MPMD, it is on only when
//! `PARALLEL_HANG_TIMEOUT` is set. Waits on requests
//! ([`Request::wait`](crate::mpi::Request::wait), `wait_any`,
//! [`BufRequest::wait`](crate::mpi::BufRequest::wait)) count as waiting;
//! a loop of `test()` calls and raw rsmpi calls are not seen (such a rank
//! counts as computing).
//! The [`local`](crate::mpi::local) world of threads needs none of this:
//! there a receive from a rank that has returned is at once an
//! [`Error::PeerFinished`](crate::mpi::Error::PeerFinished).

mod backend;
mod env;
mod error;
mod limits;
mod schedule;
mod switches;
#[cfg(test)]
mod tests;
pub(crate) mod threads;

pub use backend::Backend;
pub use env::{
    check_env, DEFAULT_HANG_TIMEOUT, ENV_BACKEND, ENV_HANG_TIMEOUT, ENV_MPI_KEEP_HEAP,
    ENV_NUM_THREADS, ENV_PROGRESS,
};
pub use error::ConfigError;
pub use limits::{MAX_THREADS, MAX_THREADS_PER_CORE};
pub use schedule::Schedule;
pub use switches::{set_backend, set_progress};
pub use threads::set_num_threads;

#[cfg(feature = "mpi")]
pub(crate) use env::hang_timeout;
#[cfg(feature = "mpi")]
pub(crate) use env::mpi_keep_heap;
pub(crate) use switches::{run_backend, run_progress};
pub(crate) use threads::ensure_pool;
