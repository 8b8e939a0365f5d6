//! Streaming maps: `f::imap`, `f::imap_unordered` and their `try_` forms
//! (Python's `Pool.imap` and `Pool.imap_unordered`).
//!
//! The items are pulled from the input lazily, one *window* at a time (see
//! [`window`] for its size: threads × chunk on the pool, one item with the
//! `serial` backend). The window runs on the pool **inside the
//! `next()` that needs it**, through the same paths and hooks as a map
//! (panics, progress bar, trace), and its results are buffered; the next
//! window is pulled only when they have all been yielded. So the items in
//! flight (pulled from the input and not yet yielded) never exceed one
//! window, and no work outlives the `next()` that started it: the shared
//! arguments may be borrowed, and forgetting the iterator (`mem::forget`)
//! leaves nothing running.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::iter::{FromParallelIterator, IntoParallelIterator, ParallelIterator};

use super::call::{Call, Hooks};
use super::options::{MapOptions, MapSite, Plan};
use super::progress::Progress;
use super::{schedule, serial, ItemError};
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

/// The input of a streaming map, pulled one window at a time, and the work
/// of running a window.
struct Windows<It, F> {
    site: &'static MapSite,
    options: Option<MapOptions>,
    plan: Plan,
    items: It,
    f: F,
    /// The index of the next item to pull.
    next: usize,
    /// The size of the next window, and of the largest.
    size: usize,
    max: usize,
    bar: Progress,
    /// No more windows: the input ran out, an item panicked or failed.
    over: bool,
}

impl<It: Iterator, F: Sync> Windows<It, F>
where
    It::Item: Send,
{
    fn new(site: &'static MapSite, options: Option<&MapOptions>, items: It, f: F) -> Self {
        let plan = site.plan(options);
        let (size, max) = window(&plan);
        Windows {
            site,
            options: options.copied(),
            size,
            max,
            bar: Progress::start(site.name, plan.progress, serial::len_hint(&items)),
            plan,
            items,
            f,
            next: 0,
            over: false,
        }
    }

    /// Pulls the next window and collects `g(hooks, index, item)` over it,
    /// on this thread with the `serial` backend, else on the pool (each
    /// rank on its own pool under `mpi`: every rank holds the whole input).
    /// `None` when the input has run out. A panic of an item leaves the
    /// stream over and comes out as the map's [`ItemPanic`](crate::ItemPanic).
    #[track_caller]
    fn run<R, C, G>(&mut self, kind: &'static str, g: G) -> Option<C>
    where
        R: Send,
        C: FromIterator<R> + FromParallelIterator<R> + Send,
        G: Fn(&Hooks<'_>, &F, usize, It::Item) -> R + Sync,
    {
        if self.over {
            return None;
        }
        let items: Vec<It::Item> = self.items.by_ref().take(self.size).collect();
        if items.is_empty() {
            self.over = true;
            self.bar.finish();
            return None;
        }
        let offset = self.next;
        self.next += items.len();
        self.size = self.size.saturating_mul(2).min(self.max);
        // Stays set if the window panics: the stream then ends.
        self.over = true;
        let (f, bar, serial) = (&self.f, &self.bar, self.plan.backend == Backend::Serial);
        let out = Call::run(self.site, self.options.as_ref(), kind, |call| {
            call.hooks_on(bar.share(), |hooks| {
                let g = |i, x| g(hooks, f, i, x);
                if serial {
                    let it = items.into_iter().enumerate();
                    serial::run(hooks, it, |_, (i, x)| g(offset + i, x))
                } else {
                    schedule::run(hooks, items.into_par_iter(), offset, call.plan.jobs(), g)
                }
            })
        });
        self.over = false;
        Some(out)
    }
}

/// The results of one window in the order its pieces of work finished.
struct Completed<T>(Vec<T>);

impl<T: Send> FromParallelIterator<T> for Completed<T> {
    fn from_par_iter<I: IntoParallelIterator<Item = T>>(par: I) -> Self {
        let done = Mutex::new(Vec::new());
        // Each job folds its items into a vector of its own, appended to
        // `done` as soon as the job ends: one lock per job, not per item.
        par.into_par_iter()
            .fold(Vec::new, |mut v, x| {
                v.push(x);
                v
            })
            .for_each(|v| done.lock().unwrap_or_else(|p| p.into_inner()).extend(v));
        Completed(done.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

impl<T> FromIterator<T> for Completed<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        Completed(it.into_iter().collect())
    }
}

/// Pulls and runs the next window of a stream: its values to yield, or
/// `None` at the end.
type Refill<It, F, Y> = fn(&mut Windows<It, F>) -> Option<VecDeque<Y>>;

/// The iterator of `f::imap`, `f::imap_unordered` and their `try_` forms.
/// It pulls its input one window of items at a time and runs each window on
/// the pool inside the `next()` that needs it, so no work outlives that
/// call, and it never holds more than one window in flight.
pub struct Stream<It, F, Y> {
    windows: Windows<It, F>,
    ready: VecDeque<Y>,
    refill: Refill<It, F, Y>,
}

impl<It: Iterator, F, Y> Iterator for Stream<It, F, Y> {
    type Item = Y;

    #[track_caller]
    fn next(&mut self) -> Option<Y> {
        loop {
            if let Some(y) = self.ready.pop_front() {
                return Some(y);
            }
            self.ready = (self.refill)(&mut self.windows)?;
        }
    }
}

impl<It: Iterator, F, Y> std::iter::FusedIterator for Stream<It, F, Y> {}

fn stream<I, F, Y>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    items: I,
    f: F,
    refill: Refill<I::IntoIter, F, Y>,
) -> Stream<I::IntoIter, F, Y>
where
    I: IntoIterator,
    I::Item: Send,
    F: Sync,
{
    Stream {
        windows: Windows::new(site, options, items.into_iter(), f),
        ready: VecDeque::new(),
        refill,
    }
}

/// An item's index and its value.
type Pair<T> = (usize, T);

/// `f::imap` (`ordered`: pairs in input order, of which the macro keeps the
/// values) and `f::imap_unordered` (pairs of each window in the order its
/// pieces of work finished).
#[doc(hidden)]
pub fn imap<I, R, F>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    items: I,
    f: F,
    ordered: bool,
) -> Stream<I::IntoIter, F, Pair<R>>
where
    I: IntoIterator,
    I::Item: Send,
    R: Send,
    F: Fn(I::Item) -> R + Sync,
{
    let refill: Refill<I::IntoIter, F, Pair<R>> = if ordered {
        |w| {
            w.run("map", |hooks, f, i, x| (i, hooks.item(i, f, x)))
                .map(|v: Vec<_>| v.into())
        }
    } else {
        |w| {
            w.run("map", |hooks, f, i, x| (i, hooks.item(i, f, x)))
                .map(|c: Completed<_>| c.0.into())
        }
    };
    stream(site, options, items, f, refill)
}

/// Runs the next window of a `try_` stream: the results of the items that
/// ran (an item starts only while no item before it has failed), and the
/// failure with the lowest index, named.
#[track_caller]
#[allow(clippy::type_complexity)]
fn try_window<It, F, T, E, C>(w: &mut Windows<It, F>) -> Option<(C, Option<ItemError<E>>)>
where
    It: Iterator,
    It::Item: Send,
    T: Send,
    E: Send,
    F: Fn(It::Item) -> Result<T, E> + Sync,
    C: FromIterator<(usize, T)> + FromParallelIterator<(usize, T)> + Send,
{
    let first = AtomicUsize::new(usize::MAX);
    let failure = Mutex::new(None);
    let oks: C = w
        .run("map", |hooks, f, i, x| {
            if first.load(Ordering::Relaxed) < i {
                return None;
            }
            match hooks.item(i, f, x) {
                Ok(t) => Some((i, t)),
                Err(e) => {
                    let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                    if first.fetch_min(i, Ordering::Relaxed) > i {
                        *slot = Some((i, e));
                    }
                    None
                }
            }
        })
        .map(|c: OkItems<C>| c.0)?;
    let failure = failure.into_inner().unwrap_or_else(|p| p.into_inner());
    let error = failure.map(|(index, error)| {
        w.over = true;
        ItemError {
            function: w.site.name,
            index,
            error,
        }
    });
    Some((oks, error))
}

/// The results of the items that ran and succeeded.
struct OkItems<C>(C);

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

/// `f::try_imap` (`ordered`: the `Ok` pairs in input order, then at the
/// first failure its error, naming the item, then the end) and
/// `f::try_imap_unordered` (the `Ok` pairs of each window in the order its
/// pieces of work finished; at a failure, the pairs of the items that ran in
/// that window, then the failure with the lowest index, then the end).
#[doc(hidden)]
pub fn try_imap<I, T, E, F>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    items: I,
    f: F,
    ordered: bool,
) -> Stream<I::IntoIter, F, Result<Pair<T>, ItemError<E>>>
where
    I: IntoIterator,
    I::Item: Send,
    T: Send,
    E: Send,
    F: Fn(I::Item) -> Result<T, E> + Sync,
{
    let refill: Refill<I::IntoIter, F, Result<Pair<T>, ItemError<E>>> = if ordered {
        // Every item before the failure ran (none was skipped), and items
        // after it that had started may have succeeded: the `Ok` pairs
        // before it, in order, then the failure.
        |w| {
            let (oks, error) = try_window::<_, _, _, _, Vec<_>>(w)?;
            let end = error.as_ref().map_or(usize::MAX, ItemError::index);
            let oks = oks.into_iter().take_while(|&(i, _)| i < end);
            Some(oks.map(Ok).chain(error.map(Err)).collect())
        }
    } else {
        |w| {
            let (oks, error) = try_window::<_, _, _, _, Completed<_>>(w)?;
            Some(oks.0.into_iter().map(Ok).chain(error.map(Err)).collect())
        }
    };
    stream(site, options, items, f, refill)
}
