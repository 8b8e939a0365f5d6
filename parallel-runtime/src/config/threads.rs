//! The size of the shared pool as configured: asked for in code, checked
//! against the [limits](super::limits), and handed to the pool with
//! `PARALLEL_NUM_THREADS` when it starts. The pool itself
//! ([`crate::pool`]) owns the size.

use super::env::{check_thread_count, env};
use super::error::ConfigError;
use super::limits::available_cores;

/// Sets the size of the shared thread pool, as `PARALLEL_NUM_THREADS` does
/// (and over it). The pool starts at the first parallel call; after that its
/// size is fixed and asking for another size is an error. More than
/// [`MAX_THREADS_PER_CORE`](super::limits::MAX_THREADS_PER_CORE) threads per
/// available core (or more than [`MAX_THREADS`](super::limits::MAX_THREADS))
/// is refused.
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
    crate::pool::want(n).map_err(|running| ConfigError::PoolStarted {
        running,
        requested: n,
    })
}

/// Starts the shared pool if needed, with the configured size, and returns
/// its number of threads; panics with the [`ConfigError`] message when an
/// environment variable is invalid (the first parallel call is where a
/// user meets it).
pub(crate) fn ensure_pool() -> usize {
    crate::pool::ensure(|| env().num_threads)
}

/// The number of worker threads of the shared pool (starting it if needed).
///
/// ```
/// assert!(parallel_runtime::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    ensure_pool()
}
