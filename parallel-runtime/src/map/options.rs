//! The options of a map and where they come from: [`MapOptions`] (set on
//! the attribute, or given to `…::map_with` at run time), the annotated
//! function's [`MapSite`], and the [`Plan`] of one call, all sources merged.

use crate::config::{Backend, Schedule};

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
}

/// One annotated function: its name and the options on its attribute.
#[doc(hidden)]
#[derive(Debug)]
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
        }
    }
}

impl Plan {
    /// How the threads path cuts the items into jobs.
    pub(super) fn jobs(&self) -> (Schedule, Option<usize>) {
        (self.schedule, self.chunk)
    }
}
