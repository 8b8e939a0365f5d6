//! How many threads the pool may have: at most [`MAX_THREADS_PER_CORE`] per
//! available core, and never more than [`MAX_THREADS`].

/// The most threads the pool may have per core available to the process.
pub const MAX_THREADS_PER_CORE: usize = 64;
/// The most threads the pool may have, whatever the number of cores.
pub const MAX_THREADS: usize = 4096;

/// The cores available to this process (its CPU affinity), at least 1.
pub(super) fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The largest pool size accepted with `cores` available.
pub(super) const fn max_threads(cores: usize) -> usize {
    let per_core = cores.saturating_mul(MAX_THREADS_PER_CORE);
    if per_core < MAX_THREADS {
        per_core
    } else {
        MAX_THREADS
    }
}
