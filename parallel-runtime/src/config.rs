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
//! | `PARALLEL_HANG_TIMEOUT` | seconds, e.g. `60` (the default) or `2.5`; `0` turns it off | under `#[mpi_main]` on real MPI: when some ranks have returned from `main` and every other rank has waited that long in a communication, the job is aborted with a report naming the finished ranks and what each other rank waits in (see below) |
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

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Environment variable that selects the [`Backend`] for the whole run.
pub const ENV_BACKEND: &str = "PARALLEL_BACKEND";
/// Environment variable that sets the number of worker threads.
pub const ENV_NUM_THREADS: &str = "PARALLEL_NUM_THREADS";
/// Environment variable that turns progress bars on or off.
pub const ENV_PROGRESS: &str = "PARALLEL_PROGRESS";
/// Environment variable that sets, in seconds, how long the ranks of an MPI
/// job may all wait for ranks that have returned from `main` before the job
/// is aborted (`0`: never). See [the module docs](self#hang-detection-parallel_hang_timeout).
pub const ENV_HANG_TIMEOUT: &str = "PARALLEL_HANG_TIMEOUT";

/// The most threads the pool may have per core available to the process.
pub const MAX_THREADS_PER_CORE: usize = 64;
/// The most threads the pool may have, whatever the number of cores.
pub const MAX_THREADS: usize = 4096;
/// The hang timeout when `PARALLEL_HANG_TIMEOUT` is not set.
pub const DEFAULT_HANG_TIMEOUT: Duration = Duration::from_secs(60);

/// Where parallel work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The plain serial loop on the calling thread, in input order. The
    /// debugging switch: removes every thread from the picture.
    Serial,
    /// The shared rayon thread pool (the default).
    Threads,
    /// Split across the ranks of an MPI job, each rank on its own thread
    /// pool; outside a job of several ranks this is the same as `Threads`.
    Mpi,
}

impl Backend {
    /// The spellings accepted in `PARALLEL_BACKEND` and `backend = "…"`.
    pub const VALID: &'static str = "`serial`, `threads`, `mpi`";

    /// The spelling used in `PARALLEL_BACKEND` and on the attribute.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Serial => "serial",
            Backend::Threads => "threads",
            Backend::Mpi => "mpi",
        }
    }

    const fn to_u8(self) -> u8 {
        match self {
            Backend::Serial => 1,
            Backend::Threads => 2,
            Backend::Mpi => 3,
        }
    }

    const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Backend::Serial),
            2 => Some(Backend::Threads),
            3 => Some(Backend::Mpi),
            _ => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "serial" => Ok(Backend::Serial),
            "threads" => Ok(Backend::Threads),
            "mpi" => Ok(Backend::Mpi),
            _ => Err(ConfigError::Invalid {
                what: "backend",
                value: s.to_owned(),
                expected: Backend::VALID,
            }),
        }
    }
}

/// How the items of a map are cut into pieces of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Schedule {
    /// One contiguous block per thread (or blocks of `chunk_size`), decided
    /// up front: lowest overhead for items of equal cost. OpenMP `static`.
    Static,
    /// Pieces of exactly `chunk_size` items (default 1) handed to whichever
    /// thread is free: for items of very uneven cost. OpenMP `dynamic`,
    /// `Pool.imap(chunksize=…)`.
    Dynamic,
    /// Large pieces first, split further when threads run out of work
    /// (rayon's adaptive splitting), never below `chunk_size`. The default:
    /// good for most workloads. OpenMP `guided`.
    Guided,
}

impl Schedule {
    /// The spellings accepted in `schedule = "…"`.
    pub const VALID: &'static str = "`static`, `dynamic`, `guided`";
}

impl FromStr for Schedule {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "static" => Ok(Schedule::Static),
            "dynamic" => Ok(Schedule::Dynamic),
            "guided" => Ok(Schedule::Guided),
            _ => Err(ConfigError::Invalid {
                what: "schedule",
                value: s.to_owned(),
                expected: Schedule::VALID,
            }),
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable holds a value the runtime does not accept.
    #[error("invalid value {value:?} in environment variable {var}: expected {expected}")]
    InvalidEnv {
        /// The variable, e.g. `PARALLEL_BACKEND`.
        var: &'static str,
        /// What it holds.
        value: String,
        /// The valid values.
        expected: &'static str,
    },
    /// A value given in code that the runtime does not accept.
    #[error("invalid {what} {value:?}: expected {expected}")]
    Invalid {
        /// Which setting.
        what: &'static str,
        /// The value given.
        value: String,
        /// The valid values.
        expected: &'static str,
    },
    /// More threads than this machine can sensibly run: a typo, or a value
    /// meant for another machine.
    #[error(
        "{}: expected at most {limit} threads ({MAX_THREADS_PER_CORE} per core, and this process \
         has {cores} available; never more than {MAX_THREADS})",
        too_many_what(.var, *.value)
    )]
    TooManyThreads {
        /// The variable (`PARALLEL_NUM_THREADS`), or `None` for a value
        /// given in code.
        var: Option<&'static str>,
        /// The number of threads asked for.
        value: usize,
        /// The largest number accepted on this machine.
        limit: usize,
        /// The cores available to this process.
        cores: usize,
    },
    /// The thread pool already runs with another size.
    #[error(
        "the shared thread pool already runs with {running} threads, so it cannot be resized to \
         {requested}; call `parallel_runtime::config::set_num_threads` before the first parallel call"
    )]
    PoolStarted {
        /// Threads of the running pool.
        running: usize,
        /// Threads asked for.
        requested: usize,
    },
}

fn too_many_what(var: &Option<&'static str>, value: usize) -> String {
    match var {
        Some(var) => format!("invalid value \"{value}\" in environment variable {var}"),
        None => format!("invalid number of threads {value}"),
    }
}

/// The cores available to this process (its CPU affinity), at least 1.
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The largest pool size accepted with `cores` available.
pub(crate) const fn max_threads(cores: usize) -> usize {
    let per_core = cores.saturating_mul(MAX_THREADS_PER_CORE);
    if per_core < MAX_THREADS {
        per_core
    } else {
        MAX_THREADS
    }
}

/// Refuses pool sizes beyond [`max_threads`].
fn check_thread_count(
    var: Option<&'static str>,
    n: usize,
    cores: usize,
) -> Result<(), ConfigError> {
    let limit = max_threads(cores);
    if n > limit {
        return Err(ConfigError::TooManyThreads {
            var,
            value: n,
            limit,
            cores,
        });
    }
    Ok(())
}

/// The environment variables, parsed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvConfig {
    pub(crate) backend: Option<Backend>,
    pub(crate) num_threads: Option<usize>,
    pub(crate) progress: Option<bool>,
}

/// `PARALLEL_HANG_TIMEOUT`, read on its own: `#[mpi_main]` needs it before
/// MPI starts, whatever the other variables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HangTimeout {
    /// How long to wait; `None` when detection is off (`0`).
    pub(crate) after: Option<Duration>,
    /// Whether the variable was set (not the default).
    pub(crate) explicit: bool,
}

/// Reads `PARALLEL_HANG_TIMEOUT` (default [`DEFAULT_HANG_TIMEOUT`]).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn hang_timeout() -> Result<HangTimeout, ConfigError> {
    parse_hang_timeout(read_var(ENV_HANG_TIMEOUT).as_deref())
}

fn parse_hang_timeout(value: Option<&str>) -> Result<HangTimeout, ConfigError> {
    let Some(v) = value else {
        return Ok(HangTimeout {
            after: Some(DEFAULT_HANG_TIMEOUT),
            explicit: false,
        });
    };
    let secs = v.trim().parse::<f64>().ok().filter(|s| *s >= 0.0);
    match secs.map(Duration::try_from_secs_f64) {
        Some(Ok(d)) => Ok(HangTimeout {
            after: (!d.is_zero()).then_some(d),
            explicit: true,
        }),
        _ => Err(ConfigError::InvalidEnv {
            var: ENV_HANG_TIMEOUT,
            value: v.to_owned(),
            expected:
                "a number of seconds such as `60` or `2.5`, or `0` to turn hang detection off",
        }),
    }
}

fn read_var(var: &'static str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => Some(v),
        Err(_) => None,
    }
}

fn parse_env() -> Result<EnvConfig, ConfigError> {
    let invalid = |var, value: String, expected| ConfigError::InvalidEnv {
        var,
        value,
        expected,
    };
    let backend = match read_var(ENV_BACKEND) {
        None => None,
        Some(v) => Some(
            v.parse::<Backend>()
                .map_err(|_| invalid(ENV_BACKEND, v, Backend::VALID))?,
        ),
    };
    let num_threads = match read_var(ENV_NUM_THREADS) {
        None => None,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => {
                check_thread_count(Some(ENV_NUM_THREADS), n, available_cores())?;
                Some(n)
            }
            _ => {
                return Err(invalid(
                    ENV_NUM_THREADS,
                    v,
                    "a positive integer such as `4`",
                ))
            }
        },
    };
    parse_hang_timeout(read_var(ENV_HANG_TIMEOUT).as_deref())?;
    let progress = match read_var(ENV_PROGRESS) {
        None => None,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => {
                return Err(invalid(
                    ENV_PROGRESS,
                    v,
                    "`1`, `true`, `yes`, `on`, `0`, `false`, `no` or `off`",
                ))
            }
        },
    };
    Ok(EnvConfig {
        backend,
        num_threads,
        progress,
    })
}

static ENV: OnceLock<Result<EnvConfig, ConfigError>> = OnceLock::new();

/// Checks the `PARALLEL_*` environment variables now, so a program can report
/// a bad value at start-up instead of at its first parallel call.
///
/// ```
/// if let Err(e) = parallel_runtime::config::check_env() {
///     eprintln!("{e}");
///     std::process::exit(2);
/// }
/// ```
pub fn check_env() -> Result<(), ConfigError> {
    ENV.get_or_init(parse_env)
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

/// The parsed environment; panics with the [`ConfigError`] message when a
/// variable is invalid (the first parallel call is where a user meets it).
pub(crate) fn env() -> &'static EnvConfig {
    match ENV.get_or_init(parse_env) {
        Ok(env) => env,
        Err(e) => panic!("parallel-runtime: {e}"),
    }
}

static BACKEND_OVERRIDE: AtomicU8 = AtomicU8::new(0);
static PROGRESS_OVERRIDE: AtomicU8 = AtomicU8::new(0);
static THREADS_WANTED: AtomicUsize = AtomicUsize::new(0);
static THREADS_HINT: AtomicUsize = AtomicUsize::new(0);

/// Sets the backend for the rest of the run, as `PARALLEL_BACKEND` does
/// (and over it). Options given for one call still win.
pub fn set_backend(backend: Backend) {
    BACKEND_OVERRIDE.store(backend.to_u8(), Ordering::Relaxed);
}

/// Turns progress bars on or off for the rest of the run, as
/// `PARALLEL_PROGRESS` does (and over it).
pub fn set_progress(on: bool) {
    PROGRESS_OVERRIDE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// Sets the size of the shared thread pool, as `PARALLEL_NUM_THREADS` does
/// (and over it). The pool starts at the first parallel call; after that its
/// size is fixed and asking for another size is an error. More than
/// [`MAX_THREADS_PER_CORE`] threads per available core (or more than
/// [`MAX_THREADS`]) is refused.
///
/// ```
/// use parallel_runtime::config;
///
/// assert!(config::set_num_threads(99_999).is_err());
/// config::set_num_threads(2)?;
/// assert_eq!(parallel_runtime::num_threads(), 2);
/// # Ok::<(), parallel_runtime::ConfigError>(())
/// ```
pub fn set_num_threads(n: usize) -> Result<(), ConfigError> {
    if n == 0 {
        return Err(ConfigError::Invalid {
            what: "number of threads",
            value: "0".into(),
            expected: "a positive integer",
        });
    }
    check_thread_count(None, n, available_cores())?;
    if let Some(running) = crate::pool::started() {
        if running != n {
            return Err(ConfigError::PoolStarted {
                running,
                requested: n,
            });
        }
        return Ok(());
    }
    THREADS_WANTED.store(n, Ordering::Relaxed);
    Ok(())
}

/// A default pool size chosen by the runtime itself (the hybrid MPI + threads
/// share of a node); the user's `PARALLEL_NUM_THREADS` or
/// [`set_num_threads`] still win.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn set_threads_hint(n: usize) {
    THREADS_HINT.store(n.max(1), Ordering::Relaxed);
}

/// The backend in force for the run: the setter, then the environment.
pub(crate) fn run_backend() -> Option<Backend> {
    Backend::from_u8(BACKEND_OVERRIDE.load(Ordering::Relaxed)).or(env().backend)
}

/// Progress in force for the run: the setter, then the environment.
pub(crate) fn run_progress() -> Option<bool> {
    match PROGRESS_OVERRIDE.load(Ordering::Relaxed) {
        1 => Some(false),
        2 => Some(true),
        _ => env().progress,
    }
}

/// The pool size to build: setter, environment, runtime hint; `None` lets
/// rayon decide (`RAYON_NUM_THREADS` or the number of cores).
pub(crate) fn threads_wanted() -> Option<usize> {
    match THREADS_WANTED.load(Ordering::Relaxed) {
        0 => env()
            .num_threads
            .or(match THREADS_HINT.load(Ordering::Relaxed) {
                0 => None,
                n if std::env::var_os("RAYON_NUM_THREADS").is_some() => {
                    let _ = n;
                    None
                }
                n => Some(n),
            }),
        n => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_parses_and_rejects() {
        assert_eq!("serial".parse::<Backend>(), Ok(Backend::Serial));
        assert_eq!(" Threads ".parse::<Backend>(), Ok(Backend::Threads));
        let err = "gpu".parse::<Backend>().unwrap_err().to_string();
        assert!(err.contains("\"gpu\"") && err.contains("`serial`"), "{err}");
    }

    #[test]
    fn thread_counts_beyond_64_per_core_or_4096_are_refused() {
        assert_eq!(max_threads(2), 128);
        assert_eq!(max_threads(16), 1024);
        assert_eq!(max_threads(1000), MAX_THREADS);
        assert!(check_thread_count(Some(ENV_NUM_THREADS), 128, 2).is_ok());
        let err = check_thread_count(Some(ENV_NUM_THREADS), 99_999, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "invalid value \"99999\" in environment variable PARALLEL_NUM_THREADS:"
            ) && err.contains("at most 128 threads")
                && err.contains("has 2 available")
                && err.contains("4096"),
            "{err}"
        );
        let err = set_num_threads(usize::MAX).unwrap_err().to_string();
        assert!(err.starts_with("invalid number of threads "), "{err}");
    }

    #[test]
    fn hang_timeout_parses_seconds_and_zero_turns_it_off() {
        let t = parse_hang_timeout(None).unwrap();
        assert_eq!((t.after, t.explicit), (Some(DEFAULT_HANG_TIMEOUT), false));
        let t = parse_hang_timeout(Some("2.5")).unwrap();
        assert_eq!(t.after, Some(Duration::from_millis(2500)));
        assert_eq!(parse_hang_timeout(Some(" 0 ")).unwrap().after, None);
        for bad in ["-1", "soon", "inf", "NaN", "1e30"] {
            let err = parse_hang_timeout(Some(bad)).unwrap_err().to_string();
            assert!(
                err.contains("PARALLEL_HANG_TIMEOUT") && err.contains("`0` to turn"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn schedule_parses_and_rejects() {
        assert_eq!("guided".parse::<Schedule>(), Ok(Schedule::Guided));
        assert!("auto".parse::<Schedule>().is_err());
    }
}
