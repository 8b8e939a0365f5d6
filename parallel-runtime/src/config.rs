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
//! | `PARALLEL_NUM_THREADS` | a positive integer | size of the shared thread pool (default: the cores of the machine, or of this rank's share of the node under MPI) |
//! | `PARALLEL_PROGRESS` | `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` | progress bars on stderr for every map |
//!
//! An invalid value is an error that names the variable and the valid values:
//! [`check_env`] returns it, and the first parallel call panics with it.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Environment variable that selects the [`Backend`] for the whole run.
pub const ENV_BACKEND: &str = "PARALLEL_BACKEND";
/// Environment variable that sets the number of worker threads.
pub const ENV_NUM_THREADS: &str = "PARALLEL_NUM_THREADS";
/// Environment variable that turns progress bars on or off.
pub const ENV_PROGRESS: &str = "PARALLEL_PROGRESS";

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

/// The environment variables, parsed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvConfig {
    pub(crate) backend: Option<Backend>,
    pub(crate) num_threads: Option<usize>,
    pub(crate) progress: Option<bool>,
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
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(invalid(
                    ENV_NUM_THREADS,
                    v,
                    "a positive integer such as `4`",
                ))
            }
        },
    };
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
/// size is fixed and asking for another size is an error.
pub fn set_num_threads(n: usize) -> Result<(), ConfigError> {
    if n == 0 {
        return Err(ConfigError::Invalid {
            what: "number of threads",
            value: "0".into(),
            expected: "a positive integer",
        });
    }
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
    fn schedule_parses_and_rejects() {
        assert_eq!("guided".parse::<Schedule>(), Ok(Schedule::Guided));
        assert!("auto".parse::<Schedule>().is_err());
    }
}
