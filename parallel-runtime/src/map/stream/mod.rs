//! Streaming maps: `f::imap`, `f::imap_unordered` and their `try_` forms
//! (Python's `Pool.imap` and `Pool.imap_unordered`).
//!
//! The items are pulled from the input lazily, one *window* at a time (see
//! [`window::window`] for its size: threads × chunk on the pool, one item
//! with the `serial` backend), on the calling thread. A window runs on the
//! pool through the same paths and hooks as a map (panics, progress bar,
//! trace), and its results are buffered.
//!
//! Item by item (`next()`), a window runs **inside the `next()` that needs
//! it**, and the next window is pulled only when its results have all been
//! yielded: the items in flight (pulled from the input and not yet yielded)
//! never exceed one window, and no work outlives the `next()` that started
//! it, so the shared arguments may be borrowed, and forgetting the iterator
//! (`mem::forget`) leaves nothing running.
//!
//! A `fold` (and so `for_each`, `sum`, `count`, `last`, …, which Rust
//! writes with it) overlaps the two (see [`fold`]): while the calling thread
//! consumes window k and then pulls window k + 2, the pool runs window
//! k + 1, all inside the `fold` call, so again nothing outlives it. At most
//! two windows are in flight (pulled and not yet yielded).
//!
//! A window's buffer of items is reused by the window pulled after it, and
//! its results are handed over as one vector, in input order, for `imap`
//! and `imap_unordered` alike: they reach the caller together when the
//! window ends, so no other order would deliver any of them sooner.

mod each;
mod fold;
mod input;
mod ready;
mod spare;
mod window;

use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Instant;
use std::vec;

use rayon::iter::ParallelExtend;

use super::options::{MapOptions, MapSite};
use super::ItemError;
use each::{Plain, TryEach};
pub use input::{
    pulled, Input, Part, Pulled, RefPart, RefProbe, Refs, Shared, ViaPull, ViaSlice, Walk,
};
use ready::Pair;
pub use ready::{Indexed, Ready, Values, Yield};
use window::{Engine, OkItems, Source, Window};

/// What running one window gave: its values to yield (`B`, an iterator),
/// and whether the stream ends after them (an item failed).
struct Ran<B> {
    ready: B,
    ends: bool,
}

/// Runs one window of a stream (on the pool, or on this thread with the
/// `serial` backend), draining its items: the values it yields, in the
/// buffer of `B`, values spent (all yielded) when it has one.
type Work<F, P, B> = fn(&Engine<F>, &mut Window<P>, B) -> Ran<B>;

/// Runs one window on the pool (a [`Work`]) while `consume` runs on this
/// thread: [`fold::overlap`], made where the stream is made. It gives back
/// the window, drained, for its buffer.
///
/// The thread-safety bounds it needs (items `Send`, the function `Sync`,
/// the values `Send`) are proved there, so that the stream's `Iterator`
/// impl carries none: such a bound on a projection (`It::Item: Send`)
/// beside the caller's own `where` clause made rustc require borrowed
/// items to be `'static` (a `try_imap` of a `fn(&str)`).
type Overlap<F, P, B> =
    fn(&Engine<F>, Work<F, P, B>, Window<P>, B, &mut dyn FnMut()) -> (Ran<B>, Window<P>);

/// The iterator of `f::imap`, `f::imap_unordered` and their `try_` forms,
/// yielding the values of `B`, the buffer of one window. It pulls its
/// input one window of items at a time; `next()` runs each window on the
/// pool inside the `next()` that needs it, so no work outlives that call,
/// and holds at most one window in flight; `fold` runs the next window
/// while this one is consumed (see the module docs).
pub struct Stream<In: Input, F, B> {
    source: Source<In>,
    engine: Engine<F>,
    ready: B,
    work: Work<F, In::Part, B>,
    overlap: Overlap<F, In::Part, B>,
    /// Whether a fold pulls the next window while this one runs (`imap`),
    /// or only once it ran (`try_imap`: nothing after a failure is pulled).
    ahead: bool,
}

impl<In: Input, F, B> Stream<In, F, B> {
    /// Pulls the next window; `None` when the stream is over.
    fn pull(&mut self) -> Option<Window<In::Part>> {
        self.source.pull(&self.engine.bar)
    }

    /// Runs `window` on this thread's call: its values to yield. A panic
    /// leaves the stream over.
    fn run(&mut self, mut window: Window<In::Part>) -> B
    where
        B: Ready,
    {
        // Stays set if the window panics: the stream then ends.
        self.source.over = true;
        let (items, began) = (window.len(), Instant::now());
        // Spent: `next()` runs a window once the last is all yielded, a
        // fold once it drained it.
        let spent = std::mem::take(&mut self.ready);
        let ran = (self.work)(&self.engine, &mut window, spent);
        self.source.grow_if_quick(items, began.elapsed());
        self.source.over = ran.ends;
        self.source.recycle(window);
        ran.ready
    }
}

impl<In: Input, F, B: Ready> Stream<In, F, B> {
    /// Pulls and runs the next window, whose values `next()` then yields;
    /// false when the stream is over. Apart from `next()`, so that the
    /// caller's loop inlines only the step through a window's values.
    #[inline(never)]
    fn refill(&mut self) -> bool {
        match self.pull() {
            Some(window) => {
                self.ready = self.run(window);
                true
            }
            None => false,
        }
    }
}

impl<In: Input, F, B> Iterator for Stream<In, F, B>
where
    B: Ready,
{
    type Item = B::Item;

    #[inline]
    fn next(&mut self) -> Option<B::Item> {
        loop {
            if let Some(y) = self.ready.next() {
                return Some(y);
            }
            if !self.refill() {
                return None;
            }
        }
    }

    fn fold<A, G>(self, init: A, g: G) -> A
    where
        G: FnMut(A, B::Item) -> A,
    {
        fold::fold(self, init, g)
    }
}

impl<In: Input, F, B> std::iter::FusedIterator for Stream<In, F, B> where B: Ready {}

fn stream<In, F, B>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: In,
    f: F,
    work: Work<F, In::Part, B>,
    ahead: bool,
) -> Stream<In, F, B>
where
    In: Input,
    F: Sync,
    B: Ready + Send,
{
    let (source, engine) = window::start(site, options, items, f);
    Stream {
        source,
        engine,
        ready: B::default(),
        work,
        overlap: fold::overlap,
        ahead,
    }
}

/// `f::imap` (`Values`) and `f::imap_unordered` (`Indexed`), one function
/// for both, so that a bound the user's function misses is reported once.
#[doc(hidden)]
pub fn imap<In, R, F, Y>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: In,
    f: F,
    _yield: Y,
) -> Stream<In, F, Y::Ready>
where
    In: Input,
    R: Send,
    F: Fn(In::Item) -> R + Sync,
    Y: Yield<R>,
{
    let work: Work<F, In::Part, Y::Ready> = |e, w, spent| {
        let offset = w.offset();
        let mut values = Y::buffer(spent);
        e.run(w, &Plain, &mut values);
        let ready = Y::ready(offset, values);
        Ran { ready, ends: false }
    };
    stream(site, options, items, f, work, true)
}

/// Runs a window of a `try_` stream: the results of the items that ran
/// (an item starts only while no item before it has failed), and the
/// failure with the lowest index, named.
fn try_window<P, F, V, E, C>(e: &Engine<F>, w: &mut Window<P>) -> (C, Option<ItemError<E>>)
where
    P: Part,
    V: Send,
    E: Send,
    F: Fn(P::Item) -> Result<V, E> + Sync,
    C: Default + Extend<Pair<V>> + ParallelExtend<Pair<V>> + Send,
{
    let each = TryEach {
        first: AtomicUsize::new(usize::MAX),
        failure: Mutex::new(None),
    };
    let mut oks = OkItems(C::default());
    e.run(w, &each, &mut oks);
    let failure = each.failure.into_inner().unwrap_or_else(|p| p.into_inner());
    let error = failure.map(|(index, error)| ItemError {
        function: e.site.name,
        index,
        error,
    });
    (oks.0, error)
}

/// The values of one window of a `try_` stream.
type TryValues<T, E> = vec::IntoIter<Result<Pair<T>, ItemError<E>>>;

/// `f::try_imap` (`ordered`: the `Ok` pairs in input order, then at the
/// first failure its error, naming the item, then the end) and
/// `f::try_imap_unordered` (the `Ok` pairs, in input order too; at a
/// failure, the pairs of every item that ran in that window, those after
/// the failure included, then the failure with the lowest index, then the
/// end).
#[doc(hidden)]
pub fn try_imap<In, T, E, F>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: In,
    f: F,
    ordered: bool,
) -> Stream<In, F, TryValues<T, E>>
where
    In: Input,
    T: Send,
    E: Send,
    F: Fn(In::Item) -> Result<T, E> + Sync,
{
    let work: Work<F, In::Part, TryValues<T, E>> = if ordered {
        // Every item before the failure ran (none was skipped), and items
        // after it that had started may have succeeded: the `Ok` pairs
        // before it, in order, then the failure.
        |e, w, _| {
            let (oks, error) = try_window::<_, _, _, _, Vec<_>>(e, w);
            let end = error.as_ref().map_or(usize::MAX, ItemError::index);
            let oks = oks.into_iter().take_while(|&(i, _)| i < end);
            let ends = error.is_some();
            let ready: Vec<_> = oks.map(Ok).chain(error.map(Err)).collect();
            let ready = ready.into_iter();
            Ran { ready, ends }
        }
    } else {
        |e, w, _| {
            let (oks, error) = try_window::<_, _, _, _, Vec<_>>(e, w);
            let ends = error.is_some();
            let ready: Vec<_> = oks.into_iter().map(Ok).chain(error.map(Err)).collect();
            let ready = ready.into_iter();
            Ran { ready, ends }
        }
    };
    stream(site, options, items, f, work, false)
}
