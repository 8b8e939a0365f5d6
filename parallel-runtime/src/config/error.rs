//! [`ConfigError`]: a configuration value that cannot be used, with a
//! message that names the setting and the valid values.

use super::limits::{MAX_THREADS, MAX_THREADS_PER_CORE};

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
