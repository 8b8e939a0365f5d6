//! The `PARALLEL_*` environment variables: their names, and their values
//! parsed once (an invalid value is a [`ConfigError`] naming the variable).

use std::sync::OnceLock;
use std::time::Duration;

use super::backend::Backend;
use super::error::ConfigError;
use super::limits::{available_cores, max_threads};

/// Environment variable that selects the [`Backend`] for the whole run.
pub const ENV_BACKEND: &str = "PARALLEL_BACKEND";
/// Environment variable that sets the number of worker threads.
pub const ENV_NUM_THREADS: &str = "PARALLEL_NUM_THREADS";
/// Environment variable that turns progress bars on or off.
pub const ENV_PROGRESS: &str = "PARALLEL_PROGRESS";
/// Environment variable that sets, in seconds, how long the ranks of an MPI
/// job may all wait for ranks that have returned from `main` before the job
/// is aborted (`0`: never). See [the module docs](super#hang-detection-parallel_hang_timeout).
pub const ENV_HANG_TIMEOUT: &str = "PARALLEL_HANG_TIMEOUT";

/// Environment variable: `0` leaves glibc's heap as it is in an
/// `#[mpi_main]` program, which otherwise keeps freed memory for the next
/// received messages (see `docs/mpi.md`, "Memory between messages").
pub const ENV_MPI_KEEP_HEAP: &str = "PARALLEL_MPI_KEEP_HEAP";

/// The hang timeout when `PARALLEL_HANG_TIMEOUT` is not set.
pub const DEFAULT_HANG_TIMEOUT: Duration = Duration::from_secs(60);

/// Refuses pool sizes beyond [`max_threads`].
pub(super) fn check_thread_count(
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
#[cfg(feature = "mpi")]
pub(crate) fn hang_timeout() -> Result<HangTimeout, ConfigError> {
    parse_hang_timeout(read_var(ENV_HANG_TIMEOUT).as_deref())
}

pub(super) fn parse_hang_timeout(value: Option<&str>) -> Result<HangTimeout, ConfigError> {
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

/// Reads `PARALLEL_MPI_KEEP_HEAP` (default on).
#[cfg(feature = "mpi")]
pub(crate) fn mpi_keep_heap() -> Result<bool, ConfigError> {
    Ok(parse_switch(ENV_MPI_KEEP_HEAP, read_var(ENV_MPI_KEEP_HEAP))?.unwrap_or(true))
}

/// An on/off variable: `None` when unset.
fn parse_switch(var: &'static str, value: Option<String>) -> Result<Option<bool>, ConfigError> {
    let Some(v) = value else { return Ok(None) };
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => Err(ConfigError::InvalidEnv {
            var,
            value: v,
            expected: "`1`, `true`, `yes`, `on`, `0`, `false`, `no` or `off`",
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
    let progress = parse_switch(ENV_PROGRESS, read_var(ENV_PROGRESS))?;
    parse_switch(ENV_MPI_KEEP_HEAP, read_var(ENV_MPI_KEEP_HEAP))?;
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
