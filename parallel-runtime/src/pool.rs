//! The one thread pool every annotation uses.
//!
//! It is rayon's global pool, built at the first parallel call with the size
//! from [`crate::config`]. Code that calls rayon directly (`par_iter`) shares
//! the same threads, so a program never runs two pools that fight for cores.
//! If the program built rayon's global pool itself before the first parallel
//! call, that pool is used as it is.

use std::sync::OnceLock;

static STARTED: OnceLock<usize> = OnceLock::new();

/// The size of the pool if it has started.
pub(crate) fn started() -> Option<usize> {
    STARTED.get().copied()
}

/// Starts the pool if needed and returns its number of threads.
pub(crate) fn ensure() -> usize {
    *STARTED.get_or_init(|| {
        crate::trace::start_from_env();
        let wanted = crate::config::threads_wanted();
        let mut builder = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("parallel-worker-{i}"));
        if let Some(n) = wanted {
            builder = builder.num_threads(n);
        }
        // An error means the global pool already exists (the program built
        // it, or called rayon before us); we then share it as it is.
        let _ = builder.build_global();
        let running = rayon::current_num_threads();
        if let Some(n) = wanted {
            if n != running {
                eprintln!(
                    "parallel-runtime: warning: {n} threads were asked for, but rayon's global pool \
                     was already started with {running}; using {running}"
                );
            }
        }
        running
    })
}

/// The number of worker threads of the shared pool (starting it if needed).
///
/// ```
/// assert!(parallel_runtime::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    ensure()
}
