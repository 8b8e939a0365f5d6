//! The windows of a stream: its input, pulled one window at a time on the
//! calling thread ([`Source`]), and the work of running one window on the
//! pool ([`Engine`]). The two are apart so that a fold can pull the next
//! window here while the pool runs the last one.

use std::marker::PhantomData;
use std::time::Duration;

use rayon::iter::{
    IndexedParallelIterator, IntoParallelIterator, ParallelExtend, ParallelIterator,
};

use super::super::call::{Call, Hooks};
use super::super::options::{MapOptions, MapSite, Plan};
use super::super::progress::Progress;
use super::super::{schedule, serial};
use super::each::Each;
use super::input::{Input, Part, Walk};
use crate::config::{Backend, Schedule};

/// Items per thread in the first window when no `chunk_size` is set; each
/// window is then twice the last, up to [`MAX_CHUNK`] items per thread: the
/// first results come quickly, and a long stream pays the cost of starting
/// a window (a few microseconds) on many items.
const FIRST_CHUNK: usize = 64;
/// Items per thread in the largest window when no `chunk_size` is set,
/// unless the windows run quickly (see [`QUICK`]).
const MAX_CHUNK: usize = 16 * 1024;
/// A window that ran in less than this has cheap items: the next grows
/// four times faster, and on past [`MAX_CHUNK`] items per thread, up to
/// [`QUICK_BYTES`] of items. Starting a window wakes the pool and waits for
/// it, tens of microseconds on a loaded machine (more where a virtual CPU
/// must be woken), which small windows of trivial items pay again and
/// again: measured, the windows of a 10^6-item stream spent about half
/// their time asleep.
const QUICK: Duration = Duration::from_millis(1);
/// The most bytes of items (without their results) in a window grown
/// because its items are cheap: memory stays bounded (the 10^9-item row of
/// `docs/performance.md`). Larger windows measured no faster: each
/// window's results are a fresh allocation, whose pages past a megabyte or
/// two are faulted in anew, and the buffers no longer fit a core's cache.
const QUICK_BYTES: usize = 1 << 20;

/// The sizes of a stream of `T`s' windows, in items: the first, the
/// largest, and the largest when items are cheap (see [`QUICK`]). One item
/// with the `serial` backend; else the pool's threads × the chunk size when
/// one is set; else threads × 64 growing to threads × 16384, and on to
/// 1 MiB of items while the windows run in under a millisecond (which also
/// grow four times faster).
pub(super) fn window<T>(plan: &Plan) -> (usize, usize, usize) {
    match plan.backend {
        Backend::Serial => (1, 1, 1),
        Backend::Threads | Backend::Mpi => {
            crate::config::ensure_pool();
            // The threads of the pool the windows run on: the call's own
            // (`threads(n)`), else this thread's (the shared pool, or the
            // pool whose item started the stream).
            let threads = plan
                .pool()
                .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
            let per = |chunk: usize| threads.saturating_mul(chunk);
            match plan.chunk {
                Some(chunk) => (per(chunk), per(chunk), per(chunk)),
                None => {
                    let cheap = QUICK_BYTES / std::mem::size_of::<T>().max(1);
                    (per(FIRST_CHUNK), per(MAX_CHUNK), cheap.max(per(MAX_CHUNK)))
                }
            }
        }
    }
}

/// Items taken from a stream's input, item `offset` first. Running a
/// window walks its items and leaves their buffer, if any, which the next
/// window taken reuses (see [`Source::recycle`]).
pub(super) struct Window<P> {
    items: P,
    offset: usize,
}

/// The input of a stream, cut on the calling thread one window at a
/// time.
pub(super) struct Source<In: Input> {
    items: In,
    /// The index of the next item to pull.
    next: usize,
    /// The size of the next window, of the largest, and of the largest
    /// when the items are cheap (see [`window`]).
    size: usize,
    max: usize,
    cheap: usize,
    /// No more windows: the input ran out, an item panicked or failed.
    pub(super) over: bool,
    /// The items of a window that ran, whose buffer the next window
    /// pulled fills: a long stream allocates no buffer of items per window.
    spare: Option<In::Part>,
}

impl<In: Input> Source<In> {
    /// The next window of at most `size` items, each window twice the last
    /// up to `max`; `None` when the stream is over or the input has run out
    /// (then `bar` is left drawn at its end).
    pub(super) fn pull(&mut self, bar: &Progress) -> Option<Window<In::Part>> {
        let was_over = self.over;
        let window = self.fill();
        if window.is_none() && !was_over {
            bar.finish();
        }
        window
    }

    /// [`pull`](Self::pull), which leaves the bar to the caller (a fold
    /// pulls the next window while the last one runs): `None` when the
    /// stream is over or the input has run out, which leaves it over.
    pub(super) fn fill(&mut self) -> Option<Window<In::Part>> {
        if self.over {
            return None;
        }
        // Stays set if the input panics: the stream then ends, rather than
        // numbering the items after the lost ones from where those began.
        self.over = true;
        let items = self.items.take(self.size, self.spare.take());
        self.over = false;
        if items.is_empty() {
            self.over = true;
            self.spare = Some(items);
            return None;
        }
        let offset = self.next;
        self.next += items.len();
        self.grow();
        Some(Window { items, offset })
    }

    /// Keeps the buffer of `window`, which ran (its items walked), for
    /// the next window pulled. A window whose item panicked is dropped
    /// instead, never recycled.
    pub(super) fn recycle(&mut self, window: Window<In::Part>) {
        self.spare = Some(window.items);
    }

    /// The next window twice the size of the last, up to the largest. A
    /// fold grows its windows twice per window (four times the last): its
    /// first windows each cost the pool's wake-up, which consuming a small
    /// window does not hide.
    pub(super) fn grow(&mut self) {
        self.size = self.size.saturating_mul(2).min(self.max).max(self.size);
    }

    /// Grows the next window, and on past the largest, when the last one
    /// (of `items` items) ran in `took`, under [`QUICK`]: its items are
    /// cheap, and a small window costs mostly the pool's wake-up. The next
    /// window is then sized to take about [`QUICK`] at the same rate (at
    /// least four times the last), up to the bound on cheap windows: a
    /// stream of cheap items reaches its largest windows after one small
    /// one instead of growing through several, each paying a wake-up.
    pub(super) fn grow_if_quick(&mut self, items: usize, took: Duration) {
        if took >= QUICK {
            return;
        }
        let rate = QUICK.as_nanos() / took.as_nanos().max(1);
        let sized = usize::try_from((items as u128).saturating_mul(rate)).unwrap_or(usize::MAX);
        let quick = self.size.saturating_mul(4).max(sized);
        self.size = quick.min(self.cheap).max(self.size);
    }

    /// Before a fold: its windows start at the largest size. A fold
    /// yields nothing before it returns, so a small first window (which
    /// `next()` takes for its first value's sake) would only add the
    /// pool's wake-ups of the windows growing.
    pub(super) fn for_fold(&mut self) {
        self.size = self.size.max(self.max);
    }
}

/// What runs the windows of a stream: its site, options and plan, the
/// function of one item and the progress bar across the windows. Shared
/// (`Sync`) with the pool while the calling thread pulls and consumes.
pub(super) struct Engine<F> {
    pub(super) site: MapSite,
    options: Option<MapOptions>,
    pub(super) plan: Plan,
    f: F,
    pub(super) bar: Progress,
}

/// Starts a stream of `items` through `f`: its input, and its engine.
pub(super) fn start<In: Input, F>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: In,
    f: F,
) -> (Source<In>, Engine<F>) {
    let plan = site.plan(options);
    let (size, max, cheap) = window::<In::Item>(&plan);
    let (least, most) = items.size_hint();
    let bar = Progress::start(site.name, plan.progress, most.unwrap_or(least));
    let source = Source {
        items,
        next: 0,
        size,
        max,
        cheap,
        over: false,
        spare: None,
    };
    let engine = Engine {
        site: *site,
        options: options.copied(),
        plan,
        f,
        bar,
    };
    (source, engine)
}

impl<P: Part> Window<P> {
    /// Its number of items (before it runs).
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// The index of the window's first item.
    pub(super) fn offset(&self) -> usize {
        self.offset
    }
}

impl<F: Sync> Engine<F> {
    /// Appends to `into` what `each` keeps of every item of `window`, on this thread
    /// with the `serial` backend, else on the pool (each rank on its own
    /// pool under `mpi`: every rank holds the whole input), through the
    /// same hooks as a map; the window's items are drained, its buffer
    /// left for the next window. A panic of an item comes out as the map's
    /// [`ItemPanic`](crate::ItemPanic).
    pub(super) fn run<W, R, P, C>(&self, window: &mut Window<W>, each: &P, into: &mut C)
    where
        W: Part,
        F: Fn(W::Item) -> R,
        P: Each<W::Item, R>,
        C: Extend<P::Out> + ParallelExtend<P::Out> + Send,
    {
        let Window { items, offset } = window;
        let (offset, f, bar) = (*offset, &self.f, &self.bar);
        let serial = self.plan.backend == Backend::Serial;
        Call::run(&self.site, self.options.as_ref(), "map", |call| {
            call.hooks_on(bar.share(), |hooks| {
                let walk = Walker {
                    hooks,
                    each,
                    f,
                    offset,
                    jobs: call.plan.jobs(),
                    into,
                    out: PhantomData,
                };
                if serial {
                    items.seq(walk);
                } else {
                    items.par(walk);
                }
                // A panic of an item that a `try_` stream caught comes out
                // here, unless an `Err` before it wins.
                hooks.settle(each.err_index());
            })
        })
    }
}

/// Runs the items of a window through a call's hooks, given them by the
/// window's [`Part`] (the threads path on the pool, or the serial path):
/// what `each` keeps of each item `offset + i`, appended to `into`.
struct Walker<'h, P, F, R, C> {
    hooks: &'h Hooks<'h>,
    each: &'h P,
    f: &'h F,
    offset: usize,
    jobs: (Schedule, Option<usize>),
    into: &'h mut C,
    out: PhantomData<fn() -> R>,
}

impl<T, P, F, R, C> Walk<T> for Walker<'_, P, F, R, C>
where
    F: Fn(T) -> R + Sync,
    P: Each<T, R>,
    C: Extend<P::Out> + ParallelExtend<P::Out> + Send,
{
    fn par(self, items: impl IndexedParallelIterator<Item = T>) {
        let Walker {
            hooks,
            each,
            f,
            offset,
            jobs,
            into,
            ..
        } = self;
        match hooks.barless() {
            Some(by) => schedule::run_into(
                hooks,
                items,
                offset,
                jobs,
                |i, x| each.each(&by, f, i, x),
                into,
            ),
            None => schedule::run_into(
                hooks,
                items,
                offset,
                jobs,
                |i, x| each.each(hooks, f, i, x),
                into,
            ),
        }
    }

    fn seq(self, items: impl Iterator<Item = T>) {
        let Walker {
            hooks,
            each,
            f,
            offset,
            into,
            ..
        } = self;
        let it = items.enumerate();
        let out: Vec<_> = serial::run(hooks, it, |_, (i, x)| each.each(hooks, f, offset + i, x));
        into.extend(out);
    }
}

/// The results of the items that ran and succeeded.
pub(super) struct OkItems<C>(pub(super) C);

impl<T: Send, C: ParallelExtend<T>> ParallelExtend<Option<T>> for OkItems<C> {
    fn par_extend<I: IntoParallelIterator<Item = Option<T>>>(&mut self, par: I) {
        self.0.par_extend(par.into_par_iter().flatten());
    }
}

impl<T, C: Extend<T>> Extend<Option<T>> for OkItems<C> {
    fn extend<I: IntoIterator<Item = Option<T>>>(&mut self, it: I) {
        self.0.extend(it.into_iter().flatten());
    }
}

#[cfg(test)]
mod tests;
