//! Map execution: the engine behind `#[parallel_map]`.
//!
//! Every entry point the macro writes (`f::map`, `f::try_map`, `f::reduce`
//! and their `_with` forms) lands here with the items, a closure that calls
//! the user's function for one item, and the options.

// Each call takes one of three paths, all reporting through the same hooks
// (`map/call.rs`: the items' panics, the progress bar, the trace's chunks):
// the serial path (`map/serial.rs`), the threads path (`map/schedule.rs`)
// and, for the `mpi` backend with several ranks, the ranks path
// (`map/distribute.rs`), which checks that the ranks hold the same items
// (`map/check.rs`) and runs this rank's share on the threads path. Beside
// them: the options and the plan of one call (`map/options.rs`), the
// capture of the items' panics (`map/panics.rs`), the progress bar
// (`map/progress.rs`) and the reductions in blocks (`map/reduce.rs`).

use std::fmt;
use std::sync::Mutex;

use rayon::iter::{IndexedParallelIterator, IntoParallelIterator};

use crate::codec::ResultCodec;
use crate::items::{IntoItems, ItemFingerprint};

mod call;
mod check;
mod distribute;
mod function;
mod options;
mod panics;
mod progress;
mod reduce;
mod schedule;
mod serial;

// Streaming and asynchronous calls (issue 10): `f::imap`, `f::apply_async`.
mod completed;
mod spawn;
mod stream;

use call::{Call, Path};
use serial::len_hint;

pub use crate::panic::ItemPanic;
pub use completed::{as_completed, AsCompleted};
pub use function::{map_fn, MapFn};
pub use options::{MapOptions, MapSite};
pub use reduce::reduce_block_size;
pub use spawn::{apply_async, map_async, try_apply_async, AsyncResult, AsyncTimeout};
pub use stream::{
    imap, pulled, try_imap, Indexed, Input, Part, Pulled, Ready, RefPart, RefProbe, Refs, Shared,
    Stream, Values, ViaPull, ViaSlice, Walk, Yield,
};

/// The error of `…::try_map`: which item failed, in which function, and why.
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[parallel_map]
/// fn parse(s: &str) -> Result<i32, std::num::ParseIntError> { s.parse() }
///
/// let err = parse::try_map(["1", "2", "x", "4"]).unwrap_err();
/// assert_eq!(err.index(), 2);
/// assert_eq!(err.to_string(), "parse: item 2 failed: invalid digit found in string");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError<E> {
    function: &'static str,
    index: usize,
    error: E,
}

impl<E> ItemError<E> {
    /// The position of the failing item in the input.
    pub fn index(&self) -> usize {
        self.index
    }
    /// The name of the annotated function.
    pub fn function(&self) -> &'static str {
        self.function
    }
    /// The error the function returned.
    pub fn error(&self) -> &E {
        &self.error
    }
    /// The error the function returned, by value.
    pub fn into_error(self) -> E {
        self.error
    }
}

impl<E: fmt::Display> fmt::Display for ItemError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: item {} failed: {}",
            self.function, self.index, self.error
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ItemError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// `f::map`: every item through `f`, results in input order.
#[doc(hidden)]
#[track_caller]
pub fn map<S, R, F>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: S,
    codec: Option<ResultCodec<R>>,
    fingerprint: Option<ItemFingerprint<S::Item>>,
    f: F,
) -> Vec<R>
where
    S: IntoItems,
    R: Send,
    F: Fn(S::Item) -> R + Sync,
{
    Call::run(site, options, "map", |call| match call.path() {
        Path::Serial => {
            let seq = items.into_seq();
            call.hooks(len_hint(&seq), |hooks| {
                serial::run(hooks, seq, |i, x| hooks.item(i, &f, x))
            })
        }
        Path::Threads => map_on_pool(call, items.into_par(), 0, &f),
        Path::Ranks => distribute::run(
            call,
            items,
            fingerprint,
            codec,
            |_| 1,
            |mine, lo, _| map_on_pool(call, mine.into_par_iter(), lo, &f),
        ),
    })
}

/// The threads path of a map: the items of `par` (item `offset` first)
/// through `f` on the pool.
fn map_on_pool<P, R, F>(call: &Call<'_>, par: P, offset: usize, f: &F) -> Vec<R>
where
    P: IndexedParallelIterator,
    R: Send,
    F: Fn(P::Item) -> R + Sync,
{
    let jobs = call.plan.jobs();
    call.hooks(par.len(), |hooks| match hooks.barless() {
        Some(barless) => schedule::run(hooks, par, offset, jobs, |i, x| barless.item(i, f, x)),
        None => schedule::run(hooks, par, offset, jobs, |i, x| hooks.item(i, f, x)),
    })
}

/// `f::try_map`: like [`map`] for a function returning `Result`; stops
/// handing out items after the first `Err` and names the failing item.
///
/// Across ranks (`codecs`: both the values and the errors are serde types)
/// each rank runs its share and the first failure reaches every rank;
/// without them every rank runs every item on its own pool, which needs no
/// message.
#[doc(hidden)]
#[track_caller]
pub fn try_map<S, T, E, F>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: S,
    codecs: (Option<ResultCodec<T>>, Option<ResultCodec<E>>),
    fingerprint: Option<ItemFingerprint<S::Item>>,
    f: F,
) -> Result<Vec<T>, ItemError<E>>
where
    S: IntoItems,
    T: Send,
    E: Send,
    F: Fn(S::Item) -> Result<T, E> + Sync,
{
    let wrap = |(index, error)| ItemError {
        function: site.name,
        index,
        error,
    };
    Call::run(site, options, "map", |call| match (call.path(), codecs) {
        (Path::Serial, _) => {
            let seq = items.into_seq();
            let out: Result<Vec<T>, (usize, E)> = call.hooks(len_hint(&seq), |hooks| {
                serial::run(hooks, seq, |i, x| {
                    hooks.item(i, &f, x).map_err(|e| {
                        // The chunk's trace event marks it (issue 13).
                        crate::trace::item_failed(i, "failed", None);
                        (i, e)
                    })
                })
            });
            out.map_err(wrap)
        }
        (Path::Ranks, (Some(ok), Some(err))) => {
            distribute::run_try(call, items, fingerprint, (ok, err), |mine, lo| {
                try_on_pool(call, mine.into_par_iter(), lo, &f)
            })
            .map_err(wrap)
        }
        // Without serde on both sides, every rank holds every item and runs
        // the whole map on its own pool: nothing crosses ranks.
        (Path::Threads | Path::Ranks, _) => {
            try_on_pool(call, items.into_par(), 0, &f).map_err(wrap)
        }
    })
}

/// The threads path of `try_map`: the items of `par` (item `offset` first)
/// through `f` on the pool; rayon stops handing out items at the first
/// failure, and of the failures seen by then, the lowest index is
/// reported: an `Err`, or a panic raised again (an item that had started
/// after the first `Err` and panicked does not hide that `Err`).
fn try_on_pool<P, T, E, F>(
    call: &Call<'_>,
    par: P,
    offset: usize,
    f: &F,
) -> Result<Vec<T>, (usize, E)>
where
    P: IndexedParallelIterator,
    T: Send,
    E: Send,
    F: Fn(P::Item) -> Result<T, E> + Sync,
{
    let lowest: Mutex<Option<(usize, E)>> = Mutex::new(None);
    let out: Result<Vec<T>, ()> = call.hooks(par.len(), |hooks| {
        let out = schedule::run(hooks, par, offset, call.plan.jobs(), |i, x| {
            // `None`: it panicked, which `settle` weighs below.
            panics::caught(|| hooks.item(i, f, x))
                .ok_or(())?
                .map_err(|e| {
                    // The chunk's trace event marks it (issue 13).
                    crate::trace::item_failed(i, "failed", None);
                    let mut slot = lowest.lock().unwrap_or_else(|p| p.into_inner());
                    if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                        *slot = Some((i, e));
                    }
                })
        });
        let err = lowest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(i, _)| *i);
        hooks.settle(err);
        out
    });
    out.map_err(|()| {
        let first = lowest.into_inner().unwrap_or_else(|p| p.into_inner());
        first.unwrap_or_else(|| unreachable!("an item failed without recording its error"))
    })
}

/// `f::reduce`: folds `f` over the items with `op`, without collecting the
/// results, and bitwise reproducibly: items are folded in blocks of
/// [`reduce_block_size`] (a function of the item count alone), and the
/// blocks combined in a fixed pairwise tree, so
/// the answer has the same bits whatever the thread count, schedule or
/// backend.
#[doc(hidden)]
#[track_caller]
#[allow(clippy::too_many_arguments)] // written by the macro, one per piece it probes
pub fn reduce<S, R, F, Op>(
    site: &MapSite,
    options: Option<&MapOptions>,
    items: S,
    codec: Option<ResultCodec<R>>,
    fingerprint: Option<ItemFingerprint<S::Item>>,
    f: F,
    identity: R,
    op: Op,
) -> R
where
    S: IntoItems,
    R: Clone + Send + Sync,
    F: Fn(S::Item) -> R + Sync,
    Op: Fn(R, R) -> R + Sync,
{
    Call::run(site, options, "reduce", |call| {
        let fold = reduce::Fold {
            f: &f,
            identity: &identity,
            op: &op,
        };
        let partials = match call.path() {
            Path::Serial => fold.serial(call, items.into_seq().collect()),
            Path::Threads => {
                let par = items.into_par();
                let block = reduce_block_size(par.len());
                fold.threads(call, par, block, 0)
            }
            Path::Ranks => {
                let blocks = reduce_block_size;
                distribute::run(
                    call,
                    items,
                    fingerprint,
                    codec,
                    blocks,
                    |mine, lo, block| fold.threads(call, mine.into_par_iter(), block, lo),
                )
            }
        };
        reduce::tree_combine(partials, &op, identity)
    })
}
