//! The windows of a stream: its input, pulled one window at a time on the
//! calling thread ([`Source`]), and the work of running one window on the
//! pool ([`Engine`]). The two are apart so that a fold can pull the next
//! window here while the pool runs the last one.

use std::sync::Mutex;

use rayon::iter::{FromParallelIterator, IntoParallelIterator, ParallelIterator};

use super::super::call::Call;
use super::super::options::{MapOptions, MapSite, Plan};
use super::super::progress::Progress;
use super::super::{schedule, serial};
use super::each::Each;
use crate::config::Backend;

/// Items per thread in the first window when no `chunk_size` is set; each
/// window is then twice the last, up to [`MAX_CHUNK`] items per thread: the
/// first results come quickly, and a long stream pays the cost of starting
/// a window (a few microseconds) on many items.
const FIRST_CHUNK: usize = 64;
/// Items per thread in the largest window when no `chunk_size` is set.
const MAX_CHUNK: usize = 16 * 1024;

/// The sizes of a stream's first and largest windows: one item with the
/// `serial` backend; else the pool's threads × the chunk size when one is
/// set, else threads × 64 growing to threads × 16384.
pub(super) fn window(plan: &Plan) -> (usize, usize) {
    match plan.backend {
        Backend::Serial => (1, 1),
        Backend::Threads | Backend::Mpi => {
            let threads = crate::config::ensure_pool();
            let per = |chunk: usize| threads.saturating_mul(chunk);
            match plan.chunk {
                Some(chunk) => (per(chunk), per(chunk)),
                None => (per(FIRST_CHUNK), per(MAX_CHUNK)),
            }
        }
    }
}

/// Items pulled from a stream's input, item `offset` first.
pub(super) struct Window<T> {
    items: Vec<T>,
    offset: usize,
}

/// The input of a stream, pulled on the calling thread one window at a
/// time.
pub(super) struct Source<It> {
    items: It,
    /// The index of the next item to pull.
    next: usize,
    /// The size of the next window, and of the largest.
    size: usize,
    max: usize,
    /// No more windows: the input ran out, an item panicked or failed.
    pub(super) over: bool,
}

impl<It: Iterator> Source<It> {
    /// The next window of at most `size` items, each window twice the last
    /// up to `max`; `None` when the stream is over or the input has run out
    /// (then `bar` is left drawn at its end).
    pub(super) fn pull(&mut self, bar: &Progress) -> Option<Window<It::Item>> {
        if self.over {
            return None;
        }
        let items: Vec<It::Item> = self.items.by_ref().take(self.size).collect();
        if items.is_empty() {
            self.over = true;
            bar.finish();
            return None;
        }
        let offset = self.next;
        self.next += items.len();
        self.grow();
        Some(Window { items, offset })
    }

    /// The next window twice the size of the last, up to the largest. A
    /// fold grows its windows twice per window (four times the last): its
    /// first windows each cost the pool's wake-up, which consuming a small
    /// window does not hide.
    pub(super) fn grow(&mut self) {
        self.size = self.size.saturating_mul(2).min(self.max);
    }
}

/// What runs the windows of a stream: its site, options and plan, the
/// function of one item and the progress bar across the windows. Shared
/// (`Sync`) with the pool while the calling thread pulls and consumes.
pub(super) struct Engine<F> {
    pub(super) site: &'static MapSite,
    options: Option<MapOptions>,
    pub(super) plan: Plan,
    f: F,
    pub(super) bar: Progress,
}

/// Starts a stream of `items` through `f`: its input, and its engine.
pub(super) fn start<It: Iterator, F>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    items: It,
    f: F,
) -> (Source<It>, Engine<F>) {
    let plan = site.plan(options);
    let (size, max) = window(&plan);
    let bar = Progress::start(site.name, plan.progress, serial::len_hint(&items));
    let source = Source {
        items,
        next: 0,
        size,
        max,
        over: false,
    };
    let engine = Engine {
        site,
        options: options.copied(),
        plan,
        f,
        bar,
    };
    (source, engine)
}

impl<T> Window<T> {
    /// The index of the window's first item.
    pub(super) fn offset(&self) -> usize {
        self.offset
    }
}

impl<F: Sync> Engine<F> {
    /// Collects what `each` keeps of every item of `window`, on this thread
    /// with the `serial` backend, else on the pool (each rank on its own
    /// pool under `mpi`: every rank holds the whole input), through the
    /// same hooks as a map. A panic of an item comes out as the map's
    /// [`ItemPanic`](crate::ItemPanic).
    pub(super) fn run<T, R, P, C>(&self, window: Window<T>, each: &P) -> C
    where
        T: Send,
        F: Fn(T) -> R,
        P: Each<T, R>,
        C: FromIterator<P::Out> + FromParallelIterator<P::Out> + Send,
    {
        let Window { items, offset } = window;
        let (f, bar, serial) = (&self.f, &self.bar, self.plan.backend == Backend::Serial);
        Call::run(self.site, self.options.as_ref(), "map", |call| {
            call.hooks_on(bar.share(), |hooks| {
                if serial {
                    let it = items.into_iter().enumerate();
                    return serial::run(hooks, it, |_, (i, x)| each.each(hooks, f, offset + i, x));
                }
                let (par, jobs) = (items.into_par_iter(), call.plan.jobs());
                match hooks.barless() {
                    Some(by) => {
                        schedule::run(hooks, par, offset, jobs, |i, x| each.each(&by, f, i, x))
                    }
                    None => {
                        schedule::run(hooks, par, offset, jobs, |i, x| each.each(hooks, f, i, x))
                    }
                }
            })
        })
    }
}

/// The results of one window in the order its pieces of work finished:
/// one vector per piece.
pub(super) struct Completed<T>(pub(super) Vec<Vec<T>>);

impl<T: Send> FromParallelIterator<T> for Completed<T> {
    fn from_par_iter<I: IntoParallelIterator<Item = T>>(par: I) -> Self {
        let done = Mutex::new(Vec::new());
        // Each job folds its items into a vector of its own, pushed onto
        // `done` as soon as the job ends: one lock per job, not per item,
        // and no copy of the items under it (with many threads, copying
        // every result under one lock made the pool wait on it). The
        // vector is boxed: rayon's fold moves its accumulator by value per
        // item, and a pointer moves for much less than a vector.
        par.into_par_iter()
            .fold(Box::<Vec<T>>::default, |mut v, x| {
                v.push(x);
                v
            })
            .for_each(|v| done.lock().unwrap_or_else(|p| p.into_inner()).push(*v));
        Completed(done.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

impl<T> FromIterator<T> for Completed<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        Completed(vec![it.into_iter().collect()])
    }
}

/// The results of the items that ran and succeeded.
pub(super) struct OkItems<C>(pub(super) C);

impl<T: Send, C: FromParallelIterator<T>> FromParallelIterator<Option<T>> for OkItems<C> {
    fn from_par_iter<I: IntoParallelIterator<Item = Option<T>>>(par: I) -> Self {
        OkItems(par.into_par_iter().flatten().collect())
    }
}

impl<T, C: FromIterator<T>> FromIterator<Option<T>> for OkItems<C> {
    fn from_iter<I: IntoIterator<Item = Option<T>>>(it: I) -> Self {
        OkItems(it.into_iter().flatten().collect())
    }
}
