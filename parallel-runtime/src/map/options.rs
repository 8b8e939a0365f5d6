//! The options of a map and where they come from: [`MapOptions`] (set on
//! the attribute, or given to `…::map_with` at run time), the annotated
//! function's [`MapSite`], and the [`Plan`] of one call, all sources merged.

use crate::config::{Backend, ConfigError, Schedule, MAX_THREADS, MAX_THREADS_PER_CORE};

/// Options of one map: what the attribute sets, and what `…::map_with` takes
/// at run time. Unset fields fall back to the run-wide switches (environment
/// variables, [`crate::config`] setters), then to the attribute, then to the
/// defaults (`guided` schedule, `threads` backend, no progress bar).
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[parallel_map(schedule = "static")]
/// fn square(x: u64) -> u64 { x * x }
///
/// let opts = MapOptions::new().schedule(Schedule::Dynamic).chunk_size(16);
/// assert_eq!(square::map_with(&opts, 0..100u64)[99], 99 * 99);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOptions {
    schedule: Option<Schedule>,
    chunk_size: Option<usize>,
    backend: Option<Backend>,
    progress: Option<bool>,
    threads: Option<usize>,
}

impl MapOptions {
    /// No option set: everything comes from the run-wide switches and the
    /// attribute.
    pub const fn new() -> Self {
        MapOptions {
            schedule: None,
            chunk_size: None,
            backend: None,
            progress: None,
            threads: None,
        }
    }

    /// How items are cut into pieces of work: see [`Schedule`].
    pub const fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Items per piece of work. With `Dynamic` each piece holds exactly this
    /// many items (the last may hold fewer); with `Guided` pieces never get
    /// smaller; with `Static` it replaces "one block per thread".
    ///
    /// # Panics
    /// If `n` is zero.
    pub const fn chunk_size(mut self, n: usize) -> Self {
        assert!(n > 0, "chunk_size must be at least 1");
        self.chunk_size = Some(n);
        self
    }

    /// Where the map runs: see [`Backend`]. Given here it wins over
    /// `PARALLEL_BACKEND`.
    pub const fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// A progress bar on stderr that advances per item. Given here it wins
    /// over `PARALLEL_PROGRESS`.
    pub const fn progress(mut self, on: bool) -> Self {
        self.progress = Some(on);
        self
    }

    /// Runs the call on a pool of exactly `n` threads instead of the shared
    /// one: Python's `Pool(processes=n)` beside the default pool. The pool
    /// of each size is started at the first call that asks for it and kept
    /// for the rest of the program, so calls with the same `n` share it;
    /// the shared pool (and every call without this option) is unchanged.
    /// Maps called inside the items run on the same pool, as everything
    /// inside rayon's `ThreadPool::install` does. The serial backend ignores
    /// it.
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// #[parallel_map]
    /// fn worker(_: u32) -> Option<usize> { rayon::current_thread_index() }
    ///
    /// # // `PARALLEL_BACKEND` set (to serial, say) overrides every call's pool.
    /// # if std::env::var_os("PARALLEL_BACKEND").is_some() { return; }
    /// let four = MapOptions::new().threads(4).schedule(Schedule::Dynamic);
    /// let used = worker::map_with(&four, 0..1000);
    /// assert!(used.iter().all(|i| matches!(i, Some(0..=3))));
    /// ```
    ///
    /// # Panics
    /// If `n` is zero or above [`MAX_THREADS`]; and at the call, with the
    /// message of [`ConfigError::TooManyThreads`], if `n` is above
    /// [`MAX_THREADS_PER_CORE`] per available core (the limits of
    /// `PARALLEL_NUM_THREADS`).
    pub const fn threads(mut self, n: usize) -> Self {
        assert!(n > 0, "threads must be at least 1");
        assert!(
            n <= MAX_THREADS,
            "threads must be at most MAX_THREADS (4096)"
        );
        self.threads = Some(n);
        self
    }
}

/// One annotated function: its name and the options on its attribute.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct MapSite {
    /// The annotated function's name, used in every message.
    pub name: &'static str,
    /// The options written on the attribute.
    pub defaults: MapOptions,
}

/// What one call will do, all sources merged.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub(super) backend: Backend,
    pub(super) schedule: Schedule,
    pub(super) chunk: Option<usize>,
    pub(super) progress: bool,
    /// The size of the call's own pool, `None` for the shared pool.
    pub(super) threads: Option<usize>,
}

impl MapSite {
    /// The plan of one call: the call's options, then the run-wide
    /// switches, then the attribute, then the defaults.
    pub(super) fn plan(&self, call: Option<&MapOptions>) -> Plan {
        let call = call.copied().unwrap_or_default();
        let attr = self.defaults;
        Plan {
            backend: call
                .backend
                .or_else(crate::config::run_backend)
                .or(attr.backend)
                .unwrap_or(Backend::Threads),
            schedule: call.schedule.or(attr.schedule).unwrap_or(Schedule::Guided),
            chunk: call.chunk_size.or(attr.chunk_size),
            progress: call
                .progress
                .or_else(crate::config::run_progress)
                .or(attr.progress)
                .unwrap_or(false),
            threads: call.threads.or(attr.threads),
        }
    }
}

impl Plan {
    /// The call's own pool, when it asks for one ([`MapOptions::threads`]),
    /// started at the first call of its size.
    ///
    /// # Panics
    /// With the message of [`ConfigError::TooManyThreads`] if the size is
    /// beyond the limits of `PARALLEL_NUM_THREADS` on this machine.
    pub(super) fn pool(&self) -> Option<&'static rayon::ThreadPool> {
        let n = self.threads?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let limit = cores.saturating_mul(MAX_THREADS_PER_CORE).min(MAX_THREADS);
        if n > limit {
            let err = ConfigError::TooManyThreads {
                var: None,
                value: n,
                limit,
                cores,
            };
            panic!("{err}");
        }
        Some(crate::pool::sized(n))
    }

    /// How the threads path cuts the items into jobs.
    pub(super) fn jobs(&self) -> (Schedule, Option<usize>) {
        (self.schedule, self.chunk)
    }
}
