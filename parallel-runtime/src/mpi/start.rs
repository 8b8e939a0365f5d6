//! What `#[mpi_main]` runs around the user's `main`: MPI start-up with a
//! checked thread level, the hybrid pool size, the ranks' agreement on
//! tracing, the hang watchdog, the panic report, and the abort of the whole
//! job when one rank fails.

use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::comm::Comm;
#[cfg(feature = "mpi")]
use super::launcher::{first_rank_of_app, job_kind, JobKind};
#[cfg(feature = "mpi")]
use super::transport::backend::Backend;
use crate::panic::{ItemPanic, PayloadText};

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
    /// The hang watchdog (`PARALLEL_HANG_TIMEOUT`), where it runs.
    #[cfg(feature = "mpi")]
    watchdog: Option<super::watchdog::thread::Watchdog>,
}

/// Starts MPI (with the `mpi` feature) or a world of one rank, and returns
/// the session and the world communicator.
pub fn start(threading: Threading, location: &'static str) -> (Session, Comm) {
    #[cfg(feature = "mpi")]
    {
        let env = |v: &str| std::env::var(v).ok();
        let job = job_kind(env);
        let hang = crate::config::hang_timeout();
        // Never in an MPMD job: its other programs (mpi4py, C) would not
        // join the watchdog's start-up `MPI_Comm_dup`, and the job would hang.
        // A program that asks for `single` gets no second thread unless
        // the variable asks for one: Open MPI's latency at `Single` is
        // about 2/3 of its latency at any higher level.
        let grace = match (&hang, job) {
            (Ok(h), JobKind::Spmd) if threading > Threading::Single || h.explicit => h.after,
            (Ok(h), JobKind::Unknown) if h.explicit => h.after,
            _ => None,
        };
        // The watchdog calls MPI on its own thread while `main` does.
        let asked = if grace.is_some() {
            threading.max(Threading::Multiple)
        } else {
            threading
        };
        if let Some((universe, provided)) = rsmpi::initialize_with_threading(asked.to_rsmpi()) {
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
            if let Err(e) = &hang {
                eprintln!("rank {rank}: {e}");
                world.abort(2);
            }
            match crate::config::mpi_keep_heap() {
                Ok(keep) => {
                    super::heap::keep_freed(keep && size > 1);
                }
                Err(e) => {
                    eprintln!("rank {rank}: {e}");
                    world.abort(2);
                }
            }
            hybrid_threads_hint();
            let part = crate::trace::start_for_rank(rank as u32, size as u32);
            // Every rank of an SPMD job takes part, whatever its own
            // environment says; elsewhere only ranks asked to trace can.
            let agree = size > 1 && (job == JobKind::Spmd || part != RankPart::NotRequested);
            if agree && agree_on_trace(&world, rank, part) {
                // Align the ranks' clocks for the merged trace.
                use rsmpi::collective::CommunicatorCollectives;
                world.barrier();
                crate::trace::mark_sync();
            }
            let watchdog = match grace {
                Some(grace) if size > 1 && provided >= Threading::Multiple => {
                    // Only `main`'s thread communicates below `Serialized`:
                    // a rank whose `main` waits cannot be sending.
                    let deadlocks = threading <= Threading::Funneled;
                    Some(super::watchdog::thread::Watchdog::start(
                        &world, grace, deadlocks,
                    ))
                }
                Some(_) if size > 1 => {
                    if rank == 0 && hang.as_ref().is_ok_and(|h| h.explicit) {
                        eprintln!(
                            "rank 0: note: hang detection ({}) is off: it needs thread level \
                             Multiple, and the MPI library provides {provided:?}",
                            crate::config::ENV_HANG_TIMEOUT
                        );
                    }
                    None
                }
                _ => {
                    let explicit = hang.as_ref().is_ok_and(|h| h.explicit && h.after.is_some());
                    let first = first_rank_of_app(env);
                    if job == JobKind::Mpmd && explicit && first == Some(rank) {
                        eprintln!(
                            "rank {rank}: note: hang detection ({}) is off in a job of several \
                             programs (`mpirun … : …`), whose other programs would not join its \
                             start-up call",
                            crate::config::ENV_HANG_TIMEOUT
                        );
                    }
                    None
                }
            };
            let comm = Comm::new(Backend::rsmpi(world));
            let session = Session {
                rank,
                size,
                location,
                universe: Some(universe),
                watchdog,
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
    if let Err(e) = super::launcher::check_launcher() {
        if e.rank.is_none_or(|r| r == 0) {
            eprintln!("{e}");
        }
        std::process::exit(2);
    }
    crate::trace::start_for_rank(0, 1);
    let session = Session {
        rank: 0,
        size: 1,
        location,
        #[cfg(feature = "mpi")]
        universe: None,
        #[cfg(feature = "mpi")]
        watchdog: None,
    };
    session.install();
    (session, Comm::single())
}

#[cfg(feature = "mpi")]
use crate::trace::RankPart;

/// The ranks agree on tracing: each says whether it was asked to trace and
/// could open its part of the trace, in one `MPI_Allgather`. The trace is
/// merged only if every rank opened its part; otherwise every rank turns
/// tracing off (a rank left out would skip the start-up barrier and the
/// final merge of the others, and hang the job), and rank 0 says why.
#[cfg(feature = "mpi")]
fn agree_on_trace(
    world: &rsmpi::topology::SimpleCommunicator,
    rank: usize,
    part: RankPart,
) -> bool {
    use rsmpi::collective::CommunicatorCollectives;
    use rsmpi::traits::Communicator;
    /// Bytes per rank: a status byte, then the start of its error.
    const RECORD: usize = 240;
    let mut mine = [0u8; RECORD];
    match &part {
        RankPart::NotRequested => mine[0] = 0,
        RankPart::Opened => mine[0] = 1,
        RankPart::Failed(e) => {
            mine[0] = 2;
            let mut n = e.len().min(RECORD - 1);
            while !e.is_char_boundary(n) {
                n -= 1;
            }
            mine[1..=n].copy_from_slice(&e.as_bytes()[..n]);
        }
    }
    let size = world.size() as usize;
    let mut all = vec![0u8; RECORD * size];
    world.all_gather_into(&mine[..], &mut all[..]);
    let records: Vec<&[u8]> = all.chunks(RECORD).collect();
    if records.iter().all(|r| r[0] == 1) {
        return true;
    }
    if part == RankPart::Opened {
        crate::trace::abandon_part();
    }
    if rank == 0 && records.iter().any(|r| r[0] != 0) {
        let mut why = String::new();
        let failed: Vec<(usize, &[u8])> = (0..size)
            .filter(|&r| records[r][0] == 2)
            .map(|r| (r, records[r]))
            .collect();
        for (r, rec) in failed.iter().take(8) {
            let end = rec[1..]
                .iter()
                .position(|&b| b == 0)
                .map_or(RECORD, |e| e + 1);
            why.push_str(&format!(
                "\n  rank {r}: {}",
                String::from_utf8_lossy(&rec[1..end])
            ));
        }
        if failed.len() > 8 {
            why.push_str(&format!("\n  … and {} more ranks", failed.len() - 8));
        }
        let unset: Vec<usize> = (0..size).filter(|&r| records[r][0] == 0).collect();
        if !unset.is_empty() {
            why.push_str(&format!(
                "\n  {} not set on {} of the {size} ranks (rank {}…): pass it to every rank \
                 (`mpirun -x {}`)",
                crate::trace::ENV_TRACE,
                unset.len(),
                unset[0],
                crate::trace::ENV_TRACE
            ));
        }
        let ranks: Vec<String> = failed.iter().map(|(r, _)| r.to_string()).collect();
        let cannot = if ranks.is_empty() {
            String::new()
        } else {
            format!(
                " rank(s) {} cannot write their part of it;",
                ranks.join(", ")
            )
        };
        eprintln!(
            "rank 0: warning: tracing is off for the whole job ({}):{cannot} every rank writes \
             its part beside the trace file and rank 0 merges them, so the directory must exist \
             and be writable on every node (an absolute path on a shared file system){why}",
            crate::trace::ENV_TRACE
        );
    }
    false
}

/// The pool of each rank gets its share of the node's cores, so the
/// threads of the ranks of one node do not fight over them: the cores the
/// launcher bound it to, or else the node's cores divided by the ranks on
/// the node ([`crate::pool::rank_threads`]). The launcher tells the ranks
/// per node (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`, MPICH/Hydra's
/// `MPI_LOCALNRANKS`, Slurm's `SLURM_NTASKS_PER_NODE`): reading it needs no
/// collective call, which a peer of another language (an mpi4py rank in an
/// MPMD job) would not make.
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
    let (bound, online) = crate::pool::cpu_counts();
    crate::pool::set_threads_hint(crate::pool::rank_threads(bound, online, on_node));
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
            // The payload's text; another payload is named as Rust's own
            // hook names it.
            let p = info.payload();
            let msg = if p.is::<&str>() || p.is::<String>() || p.is::<ItemPanic>() {
                PayloadText(p).to_string()
            } else {
                "Box<dyn Any>".to_owned()
            };
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
        let _dist = super::world::install(&world);
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
            // The panic hook has printed the message and location; a map
            // raises an item's panic again without the hook: name the rank.
            // (By reference: the payload is never dropped before the abort.)
            Err(ref p) => {
                if let Some(p) = p.downcast_ref::<ItemPanic>() {
                    eprintln!("rank {}: {p}", self.rank);
                }
                101
            }
        };
        if code != 0 {
            let _ = crate::trace::flush();
            self.abort(code);
        }
        // The other ranks learn now that this one is done (before the trace
        // merge, a collective call that a hung rank would never join).
        #[cfg(feature = "mpi")]
        if let Some(w) = &self.watchdog {
            w.main_returned();
        }
        if let Some(world) = trace_world {
            let gather = |p: &(f64, String)| world.gather(0, p).map_err(std::io::Error::other);
            if let Err(e) = crate::trace::merge_parts(gather) {
                eprintln!("rank {}: cannot merge the trace: {e}", self.rank);
            }
        }
        drop(_dist);
        // MPI_Finalize only once every rank is done with the watchdog's
        // communicator (or the watchdog has aborted a hung job).
        #[cfg(feature = "mpi")]
        if let Some(w) = self.watchdog {
            w.wait_all();
        }
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
