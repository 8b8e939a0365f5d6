//! What `#[mpi_main]` runs around the user's `main`: MPI start-up with a
//! checked thread level, the hybrid pool size, the panic report, and the
//! abort of the whole job when one rank fails.

use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::comm::Comm;

/// The thread level asked of MPI (`MPI_Init_thread`), weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Threading {
    /// One thread in the process (`MPI_THREAD_SINGLE`).
    Single,
    /// Threads, but only the main thread calls MPI (`MPI_THREAD_FUNNELED`):
    /// the default, enough for thread pools inside each rank.
    Funneled,
    /// Any thread calls MPI, one at a time (`MPI_THREAD_SERIALIZED`).
    Serialized,
    /// Any thread calls MPI at any time (`MPI_THREAD_MULTIPLE`).
    Multiple,
}

#[cfg(feature = "mpi")]
impl Threading {
    fn to_rsmpi(self) -> rsmpi::Threading {
        match self {
            Threading::Single => rsmpi::Threading::Single,
            Threading::Funneled => rsmpi::Threading::Funneled,
            Threading::Serialized => rsmpi::Threading::Serialized,
            Threading::Multiple => rsmpi::Threading::Multiple,
        }
    }
    fn from_rsmpi(t: rsmpi::Threading) -> Self {
        match t {
            rsmpi::Threading::Single => Threading::Single,
            rsmpi::Threading::Funneled => Threading::Funneled,
            rsmpi::Threading::Serialized => Threading::Serialized,
            rsmpi::Threading::Multiple => Threading::Multiple,
        }
    }
}

/// What `main` may return under `#[mpi_main]`: `()` or `Result<(), E>`
/// with a displayable `E` (`Box<dyn Error>`, `String`, any `thiserror` type).
#[diagnostic::on_unimplemented(
    message = "`#[mpi_main]` needs `main` to return `()` or `Result<(), E>` with `E: Display`, not `{Self}`",
    label = "return `()` or `Result<(), E>`, e.g. `Result<(), Box<dyn std::error::Error>>`"
)]
pub trait MainResult {
    /// The error message, if the body failed.
    fn failure(self) -> Option<String>;
}

impl MainResult for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: Display> MainResult for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

/// The world rank, for the panic report (`usize::MAX` before start-up).
static RANK: AtomicUsize = AtomicUsize::new(usize::MAX);

/// A running `#[mpi_main]` program.
pub struct Session {
    rank: usize,
    size: usize,
    location: &'static str,
    #[cfg(feature = "mpi")]
    universe: Option<rsmpi::environment::Universe>,
}

/// Starts MPI (with the `mpi` feature) or a world of one rank, and returns
/// the session and the world communicator.
pub fn start(threading: Threading, location: &'static str) -> (Session, Comm) {
    #[cfg(feature = "mpi")]
    {
        if let Some((universe, provided)) = rsmpi::initialize_with_threading(threading.to_rsmpi()) {
            use rsmpi::traits::Communicator;
            let world = universe.world();
            let rank = world.rank() as usize;
            let size = world.size() as usize;
            let provided = Threading::from_rsmpi(provided);
            if provided < threading {
                eprintln!(
                    "rank {rank}: the MPI library provides thread level {provided:?}, below the \
                     {threading:?} this program asks for (#[mpi_main(threading = \"…\")] at \
                     {location}); ask for less, or use an MPI built with thread support"
                );
                world.abort(1);
            }
            hybrid_threads_hint();
            if crate::trace::start_for_rank(rank as u32, size as u32) {
                // Align the ranks' clocks for the merged trace.
                use rsmpi::collective::CommunicatorCollectives;
                world.barrier();
                crate::trace::mark_sync();
            }
            let comm = Comm {
                inner: super::comm::Inner::Mpi(super::real::MpiComm::new(world)),
            };
            let session = Session {
                rank,
                size,
                location,
                universe: Some(universe),
            };
            session.install();
            return (session, comm);
        }
        eprintln!(
            "parallel-runtime: MPI was already initialized before #[mpi_main] at {location}; \
             running as a world of one rank"
        );
    }
    let _ = threading;
    crate::trace::start_for_rank(0, 1);
    let session = Session {
        rank: 0,
        size: 1,
        location,
        #[cfg(feature = "mpi")]
        universe: None,
    };
    session.install();
    (session, Comm::single())
}

/// The pool of each rank gets the node's cores divided by the ranks on the
/// node, so the threads of the ranks of one node do not fight over its
/// cores. The launcher tells the ranks per node (Open MPI's
/// `OMPI_COMM_WORLD_LOCAL_SIZE`, MPICH/Hydra's `MPI_LOCALNRANKS`, Slurm's
/// `SLURM_NTASKS_PER_NODE`): reading it needs no collective call, which a
/// peer of another language (an mpi4py rank in an MPMD job) would not make.
#[cfg(feature = "mpi")]
fn hybrid_threads_hint() {
    let on_node = [
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.trim().parse::<usize>().ok())
    .unwrap_or(1)
    .max(1);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    crate::config::set_threads_hint((cores / on_node).max(1));
}

impl Session {
    fn install(&self) {
        RANK.store(self.rank, Ordering::Relaxed);
        std::panic::set_hook(Box::new(|info| {
            let rank = RANK.load(Ordering::Relaxed);
            let thread = std::thread::current();
            let thread = match thread.name() {
                Some("main") | None => String::new(),
                Some(name) => format!(" (thread '{name}')"),
            };
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
                .unwrap_or("Box<dyn Any>");
            let at = info
                .location()
                .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            eprintln!("rank {rank}{thread}: panicked{at}:\n{msg}");
        }));
    }

    /// The world size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs the body; on a panic or an `Err`, reports it naming the rank
    /// and ends the whole job (`MPI_Abort`) so that no rank waits forever.
    pub fn run<R: MainResult>(self, world: Comm, body: impl FnOnce(Comm) -> R) {
        let _dist = super::dist::install(&world);
        let trace_world = crate::trace::merging().then(|| world.handle());
        let outcome = catch_unwind(AssertUnwindSafe(|| body(world)));
        let code = match outcome {
            Ok(r) => match r.failure() {
                None => 0,
                Some(msg) => {
                    eprintln!(
                        "rank {}: error: {msg}\n(returned by the #[mpi_main] function at {})",
                        self.rank, self.location
                    );
                    1
                }
            },
            // The panic hook has printed the message and location.
            Err(_) => 101,
        };
        if code != 0 {
            let _ = crate::trace::flush();
            self.abort(code);
        }
        if let Some(world) = trace_world {
            if let Err(e) = crate::trace::merge_parts(&world) {
                eprintln!("rank {}: cannot merge the trace: {e}", self.rank);
            }
        }
        drop(_dist);
        #[cfg(feature = "mpi")]
        drop(self.universe);
    }

    fn abort(&self, code: i32) -> ! {
        #[cfg(feature = "mpi")]
        if self.universe.is_some() {
            use rsmpi::traits::Communicator;
            rsmpi::topology::SimpleCommunicator::world().abort(code);
        }
        std::process::exit(code)
    }
}
