//! One call of a map, and the hooks every path reports through.
//!
//! A [`Call`] is what `map`, `try_map` and `reduce` share: the merged
//! [`Plan`], the capture of the items' panics, and the path the call takes
//! (serial, threads or ranks). Each path runs its units of work (items, or
//! a reduction's blocks) through the same [`Hooks`]: an item goes through
//! [`Hooks::item`] (its panic recorded, the progress bar advanced), and each
//! piece of work a thread takes is one [`ChunkSpan`] of the trace.

use super::options::{MapOptions, MapSite, Plan};
use super::panics::FirstPanic;
use super::progress::Progress;
use crate::config::Backend;
use crate::trace::ChunkSpan;

/// Where a call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Path {
    /// Every item in order on the calling thread.
    Serial,
    /// On the pool of this process.
    Threads,
    /// This rank's share on its pool, then every rank's results.
    Ranks,
}

/// One call of a map.
pub(super) struct Call<'a> {
    pub(super) site: &'a MapSite,
    pub(super) plan: Plan,
    /// The trace's category of this call's chunks: `map` or `reduce`.
    kind: &'static str,
    panics: &'a FirstPanic,
    /// The call's own pool ([`MapOptions::threads`]), `None` for the
    /// shared one.
    pool: Option<&'static rayon::ThreadPool>,
}

impl Call<'_> {
    /// Runs `body` on one call of `site` with the options `options`: the
    /// plan merged, the pool started, and a panic of an item raised again
    /// as an [`ItemPanic`](crate::ItemPanic) (see [`FirstPanic::run`]).
    #[track_caller]
    pub(super) fn run<R>(
        site: &MapSite,
        options: Option<&MapOptions>,
        kind: &'static str,
        body: impl FnOnce(&Call<'_>) -> R,
    ) -> R {
        let plan = site.plan(options);
        crate::config::ensure_pool();
        let pool = match plan.backend {
            Backend::Serial => None,
            Backend::Threads | Backend::Mpi => plan.pool(),
        };
        FirstPanic::default().run(site.name, |panics| {
            body(&Call {
                site,
                plan,
                kind,
                panics,
                pool,
            })
        })
    }

    /// The path of a call that may split its items across ranks: the
    /// `mpi` backend splits them when a world of several ranks is
    /// installed on this thread, else runs them all on this pool.
    pub(super) fn path(&self) -> Path {
        match self.plan.backend {
            Backend::Serial => Path::Serial,
            Backend::Threads => Path::Threads,
            Backend::Mpi if !crate::mpi::world::active() => Path::Threads,
            Backend::Mpi => Path::Ranks,
        }
    }

    /// Runs `body` with the hooks of a path that runs `len` items: the
    /// progress bar (when the plan asks for one) starts here and finishes
    /// when `body` returns; a panic drops it instead, which clears it.
    pub(super) fn hooks<R>(&self, len: usize, body: impl FnOnce(&Hooks<'_>) -> R) -> R {
        let bar = Progress::start(self.site.name, self.plan.progress, len);
        // The trace's id of this call: its chunks are one section of the report.
        let out = self.hooks_with(bar.share(), crate::trace::next_call(), body);
        bar.finish();
        out
    }

    /// Runs `body` with hooks that advance `progress`, a bar that may
    /// outlive this call (a streaming map's, across its windows): it is
    /// left as it is when `body` returns. Its chunks carry no call id (the
    /// report groups a stream's windows by their times and items).
    pub(super) fn hooks_on<R>(&self, progress: Progress, body: impl FnOnce(&Hooks<'_>) -> R) -> R {
        self.hooks_with(progress, 0, body)
    }

    fn hooks_with<R>(
        &self,
        progress: Progress,
        call: u64,
        body: impl FnOnce(&Hooks<'_>) -> R,
    ) -> R {
        body(&Hooks {
            call,
            name: self.site.name,
            kind: self.kind,
            panics: self.panics,
            progress,
            // The live dashboard's task stream is made of the trace's chunks.
            traced: crate::trace::chunks_wanted() || crate::dashboard::enabled(),
            pool: self.pool,
        })
    }
}

/// What a path reports through, item by item and chunk by chunk.
pub(super) struct Hooks<'a> {
    /// The trace's id of the call ([`crate::trace::next_call`], 0 for none).
    call: u64,
    name: &'static str,
    kind: &'static str,
    panics: &'a FirstPanic,
    progress: Progress,
    /// Whether chunks are recorded: for the trace or the live dashboard.
    traced: bool,
    pool: Option<&'static rayon::ThreadPool>,
}

impl Hooks<'_> {
    /// Calls `f(x)` for item `index`: its panic recorded, the progress bar
    /// advanced.
    #[inline(always)]
    pub(super) fn item<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R {
        let r = self.panics.call(index, f, x);
        self.progress.inc();
        r
    }

    /// After a `try_` path's items ran: raises the panic of an item caught
    /// by [`caught`](super::panics::caught) unless an item before it
    /// failed with an `Err` (`err`, the lowest such index), as the serial
    /// loop would have stopped there first.
    pub(super) fn settle(&self, err: Option<usize>) {
        self.panics.settle(err);
    }

    /// The same hooks as a type of their own when no progress bar is
    /// shown: a path instantiated on [`Barless::item`] then tests nothing
    /// per item for the bar. That test costs as much as a trivial item
    /// (rayon's loop over the items no longer vectorizes), so the map's
    /// threads path takes this instance whenever it can.
    #[inline]
    pub(super) fn barless(&self) -> Option<Barless<'_>> {
        (!self.progress.shown()).then_some(Barless(self.panics))
    }

    /// Runs `work` on the call's own pool when it has one, else here (on
    /// the shared pool, or the pool whose item called this map).
    #[inline]
    pub(super) fn on_pool<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// Whether chunks are timed: a trace is being recorded, the live
    /// dashboard is on, or (with the `tracing` feature) a `tracing`
    /// subscriber wants them.
    #[inline]
    pub(super) fn traced(&self) -> bool {
        self.traced
    }

    /// A chunk of the trace for one piece of work, starting now.
    pub(super) fn span(&self) -> ChunkSpan {
        ChunkSpan::start(self.call, self.name, self.kind)
    }

    /// A chunk of the trace for one piece of work when tracing is on.
    #[inline]
    pub(super) fn chunk(&self) -> Option<ChunkSpan> {
        self.traced.then(|| self.span())
    }
}

/// [`Hooks`] where no progress bar is shown: see [`Hooks::barless`].
#[derive(Clone, Copy)]
pub(super) struct Barless<'a>(&'a FirstPanic);

impl Barless<'_> {
    /// Calls `f(x)` for item `index`, its panic recorded.
    #[inline(always)]
    pub(super) fn item<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R {
        self.0.call(index, f, x)
    }
}
