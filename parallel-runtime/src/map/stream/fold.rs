//! The fold of a stream (and so `for_each`, `sum`, `count`, `last`, …):
//! the pool runs window k + 1 while the calling thread consumes window k
//! and then pulls window k + 2.
//!
//! Item by item (`next()`) the pool idles while the caller's loop body
//! consumes a window, because no work may outlive the `next()` that
//! started it. A fold owns the whole loop, so it can keep the pool busy
//! and still let nothing outlive the call: each window after the first
//! runs as a job of a [`rayon::in_place_scope`] whose body, on the calling
//! thread, folds the window before it (for the first window: what `next()`
//! had left, usually nothing) and pulls the window after it, and the scope
//! ends (the job done) before that window runs. The input is pulled and
//! the fold's closure called on the calling thread only; only the window's
//! items, the item function (`Sync`) and the results cross to the pool.
//!
//! The calling thread's share (pulling and consuming each item) is what a
//! fold of trivial items waits on: pulling the next window meanwhile, into
//! the buffer of a window that already ran, takes that part off the wait.

use std::time::Instant;

use rayon::Scope;

use super::input::{Input, Part};
use super::window::{Engine, Window};
use super::{Ran, Ready, Stream, Work};
use crate::config::Backend;

/// Folds every value of `stream` into `init` with `g`, in the order
/// `next()` would yield them.
///
/// A panic of an item of window k + 1 comes out (as the map's
/// [`ItemPanic`](crate::ItemPanic)) once window k has been folded, as it
/// would from the `next()` after window k's last value; a `try_` stream's
/// failure ends it before the window after it is pulled (such a stream
/// pulls each window only once the one before ran). At most two windows
/// are in flight: the one running, and the one folded or, once it is, the
/// one pulled after the running one.
pub(super) fn fold<In, F, B, A, G>(mut stream: Stream<In, F, B>, init: A, mut g: G) -> A
where
    In: Input,
    B: Ready,
    G: FnMut(A, B::Item) -> A,
{
    let mut acc = init;
    if stream.engine.plan.backend == Backend::Serial {
        // No pool to overlap with: each window (one item) on this thread,
        // after what `next()` had buffered before the fold.
        acc = stream.ready.drain_fold(acc, &mut g);
        while let Some(window) = stream.pull() {
            stream.ready = stream.run(window);
            acc = stream.ready.drain_fold(acc, &mut g);
        }
        return acc;
    }
    // What `next()` had buffered before the fold.
    let mut ready: B = std::mem::take(&mut stream.ready);
    // The values of the window before `ready`, drained: their buffer holds
    // the results of the next window run.
    let mut spare = B::default();
    let ahead = stream.ahead;
    stream.source.for_fold();
    let mut next = stream.pull();
    while let Some(window) = next.take() {
        stream.source.grow();
        // Folds window k (moved out and back: `overlap` takes a `FnMut`),
        // then pulls window k + 2 (a stream that pulls ahead).
        let mut held = Some(acc);
        let source = &mut stream.source;
        let mut consume = || {
            let a = held.take().unwrap_or_else(|| unreachable!("consumed once"));
            held = Some(ready.drain_fold(a, &mut g));
            if ahead {
                next = source.fill();
            }
        };
        // A panic of the window (or of `consume`) unwinds out of the fold,
        // which owns the stream: nothing is left to mark as over.
        let (items, began) = (window.len(), Instant::now());
        let mut spent = std::mem::take(&mut spare);
        spent.prime();
        let (ran, window) =
            (stream.overlap)(&stream.engine, stream.work, window, spent, &mut consume);
        stream.source.grow_if_quick(items, began.elapsed());
        acc = held.unwrap_or_else(|| unreachable!("the window before was consumed"));
        stream.source.recycle(window);
        spare = std::mem::replace(&mut ready, ran.ready);
        if ran.ends {
            // A failure: the window pulled meanwhile (none, for a stream
            // that fails) is dropped.
            stream.source.over = true;
            next = None;
        } else if !ahead {
            next = stream.pull();
        } else if next.is_none() {
            // The input ran out while this window ran, which is now done.
            stream.engine.bar.finish();
        }
        // The window's chunks were recorded on the pool's threads, which
        // do not write the trace file: write them here, as a map would.
        crate::trace::flush_if_top_level();
    }
    let acc = ready.drain_fold(acc, g);
    // For the next stream on this thread.
    ready.keep();
    spare.keep();
    acc
}

/// Runs `window` on the pool with `work` while `consume` runs here, in one
/// scope: when it returns, both are done (a panic of either comes out of
/// it once both ended). It returns what the window gave and the window,
/// drained, whose buffer the next window pulled reuses. The stream's
/// [`Overlap`](super::Overlap).
pub(super) fn overlap<F, P, B>(
    engine: &Engine<F>,
    work: Work<F, P, B>,
    window: Window<P>,
    spent: B,
    consume: &mut dyn FnMut(),
) -> (Ran<B>, Window<P>)
where
    F: Sync,
    P: Part,
    B: Send,
{
    let mut ran: Option<(Ran<B>, Window<P>)> = None;
    let slot = &mut ran;
    in_place_scope(engine.plan.pool(), |scope| {
        scope.spawn(move |_| {
            let mut window = window;
            *slot = Some((work(engine, &mut window, spent), window));
        });
        consume();
    });
    // The scope raised the window's panic, if any, once it ended.
    ran.unwrap_or_else(|| unreachable!("a window's job ended without its results or a panic"))
}

/// Runs `body` here in a scope whose jobs run on `pool` (the call's own),
/// else on the shared pool: a window's job then holds no thread of another
/// pool.
fn in_place_scope<'scope, B>(
    pool: Option<&rayon::ThreadPool>,
    body: impl FnOnce(&Scope<'scope>) -> B,
) -> B {
    match pool {
        Some(pool) => pool.in_place_scope(body),
        None => rayon::in_place_scope(body),
    }
}
