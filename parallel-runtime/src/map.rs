//! Map execution: the engine behind `#[parallel_map]`.
//!
//! Every entry point the macro writes (`f::map`, `f::try_map`, `f::reduce`
//! and their `_with` forms) lands here with the items, a closure that calls
//! the user's function for one item, and the options.

use crate::panic::drop_payload;
pub use crate::panic::ItemPanic;
use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use rayon::iter::{
    FromParallelIterator, IndexedParallelIterator, IntoParallelIterator, ParallelIterator,
};

use crate::codec::ResultCodec;
use crate::config::{Backend, Schedule};
use crate::items::{IntoItems, ItemFingerprint};
use crate::mpi::dist;
use crate::progress::Progress;

/// Items per block of a deterministic reduction of `n` items.
///
/// It depends on `n` alone, so the grouping of the arithmetic (and so the
/// bits of the answer) never depends on the number of threads, the schedule
/// or the backend: about 1024 blocks (enough to balance any pool), each of at
/// most 1024 items (so the per-block cost stays negligible).
///
/// ```
/// use parallel_runtime::reduce_block_size;
/// assert_eq!(reduce_block_size(100), 1);
/// assert_eq!(reduce_block_size(100_000), 97);
/// assert_eq!(reduce_block_size(100_000_000), 1024);
/// ```
pub const fn reduce_block_size(n: usize) -> usize {
    let b = n / 1024;
    if b < 1 {
        1
    } else if b > 1024 {
        1024
    } else {
        b
    }
}

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
pub(crate) struct Plan {
    pub(crate) backend: Backend,
    pub(crate) schedule: Schedule,
    pub(crate) chunk: Option<usize>,
    pub(crate) progress: bool,
}

impl MapSite {
    pub(crate) fn plan(&self, call: Option<&MapOptions>) -> Plan {
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

/// The payload that unwinds through rayon after an item panicked; the real
/// payload waits in [`FirstPanic`].
struct Cancelled;

/// Stack left below which a map or a `compute` called inside an item or a
/// task (nested, or recursive) continues on a new stack segment on the heap,
/// and the size of that segment: so that depth is limited by memory, as
/// plain recursion on the main thread is, not by a worker's 2 MiB stack.
pub(crate) const STACK_RED_ZONE: usize = 256 * 1024;
pub(crate) const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// The panic of the lowest-indexed item that panicked.
#[derive(Default)]
struct FirstPanic(Mutex<Option<(usize, Box<dyn Any + Send>)>>);

impl FirstPanic {
    #[cold]
    fn record(&self, index: usize, payload: Box<dyn Any + Send>) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let loser = match &*slot {
            Some((first, _)) if *first <= index => Some(payload),
            _ => slot.replace((index, payload)).map(|(_, p)| p),
        };
        drop(slot);
        if let Some(p) = loser {
            drop_payload(p);
        }
    }

    /// Calls `f(x)` for item `index`, recording its panic.
    #[inline(always)]
    fn call<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R {
        match catch_unwind(AssertUnwindSafe(|| f(x))) {
            Ok(r) => r,
            Err(payload) => {
                self.record(index, payload);
                resume_unwind(Box::new(Cancelled))
            }
        }
    }

    /// Runs `body` (on a fresh stack segment when little stack is left:
    /// maps nest); a panic of an item comes out as an [`ItemPanic`] that
    /// names the function and the item and holds the item's payload.
    #[track_caller]
    fn run<R>(self, site: &MapSite, body: impl FnOnce(&Self) -> R) -> R {
        let result = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
            catch_unwind(AssertUnwindSafe(|| body(&self)))
        });
        crate::trace::flush_if_top_level();
        match result {
            Ok(r) => r,
            Err(payload) => {
                let first = self.0.into_inner().unwrap_or_else(|p| p.into_inner());
                match first {
                    Some((index, item_payload)) => {
                        drop_payload(payload);
                        let raised = ItemPanic {
                            function: site.name,
                            index,
                            payload: item_payload,
                        };
                        // `resume_unwind` runs no panic hook: say it here,
                        // once (a map nested in an item said it already).
                        if !raised.payload.is::<ItemPanic>() {
                            eprintln!("{raised}");
                        }
                        resume_unwind(Box::new(raised))
                    }
                    None => resume_unwind(payload),
                }
            }
        }
    }
}

/// The best guess of an iterator's length, for a progress bar.
fn len_hint(it: &impl Iterator) -> usize {
    let (lo, hi) = it.size_hint();
    hi.unwrap_or(lo)
}

/// Splits `par` by the plan's schedule and collects `g` over it, in input
/// order. With tracing on, every piece of work a thread takes is recorded
/// as one chunk.
///
/// `Dynamic` (and `Static`) pieces hold exactly `chunk` items, the last
/// maybe fewer, each piece a job of its own that any idle thread may take
/// (OpenMP's `schedule(dynamic, chunk)`); `Static` without a chunk size
/// cuts one piece per thread. `Guided` lets rayon split adaptively, never
/// below `chunk` items.
fn collect_scheduled<P, R, C, G>(site: &MapSite, par: P, plan: &Plan, g: G) -> C
where
    P: IndexedParallelIterator,
    R: Send,
    C: FromParallelIterator<R>,
    G: Fn((usize, P::Item)) -> R + Sync + Send,
{
    let n = par.len();
    let piece = match plan.schedule {
        Schedule::Static => {
            let threads = crate::config::ensure_pool();
            plan.chunk.unwrap_or_else(|| n.div_ceil(threads)).max(1)
        }
        Schedule::Dynamic => plan.chunk.unwrap_or(1),
        Schedule::Guided => {
            return collect_split(site, par, plan.chunk.unwrap_or(1), usize::MAX, g)
        }
    };
    if piece == 1 {
        // One item per job: exact without gathering items into pieces.
        return collect_split(site, par, 1, 1, g);
    }
    // One pipeline, traced or not (a branch per item, against a piece's
    // own allocation): each rayon pipeline is code in every map function.
    let g = &g;
    let traced = crate::trace::enabled();
    par.enumerate()
        .chunks(piece)
        .with_max_len(1)
        .flat_map_iter(|piece| {
            let mut span = traced.then(|| crate::trace::ChunkSpan::start(site.name, "map"));
            piece.into_iter().map(move |(i, x)| {
                if let Some(span) = &mut span {
                    span.item(i);
                }
                g((i, x))
            })
        })
        .collect()
}

/// Collects `g` over `par` as rayon splits it (adaptively, in jobs of
/// `min` to `max` items); with tracing on, one chunk per job.
fn collect_split<P, R, C, G>(site: &MapSite, par: P, min: usize, max: usize, g: G) -> C
where
    P: IndexedParallelIterator,
    R: Send,
    C: FromParallelIterator<R>,
    G: Fn((usize, P::Item)) -> R + Sync + Send,
{
    let it = par.enumerate().with_min_len(min).with_max_len(max);
    if crate::trace::enabled() {
        it.map_init(
            || crate::trace::ChunkSpan::start(site.name, "map"),
            |span, (i, x)| {
                span.item(i);
                g((i, x))
            },
        )
        .collect()
    } else {
        it.map(g).collect()
    }
}

/// `f::map`: every item through `f`, results in input order.
#[doc(hidden)]
#[track_caller]
pub fn map<S, R, F>(
    site: &MapSite,
    call: Option<&MapOptions>,
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
    let plan = site.plan(call);
    crate::config::ensure_pool();
    FirstPanic::default().run(site, |panics| match plan.backend {
        Backend::Serial => {
            let seq = items.into_seq();
            let progress = Progress::start(site, plan.progress, len_hint(&seq));
            let mut span =
                crate::trace::enabled().then(|| crate::trace::ChunkSpan::start(site.name, "map"));
            let out = seq
                .enumerate()
                .map(|(i, x)| {
                    if let Some(s) = &mut span {
                        s.item(i);
                    }
                    let r = panics.call(i, &f, x);
                    progress.inc();
                    r
                })
                .collect();
            drop(span);
            progress.finish();
            out
        }
        Backend::Threads => run_threads(site, &plan, panics, items.into_par(), 0, &f),
        Backend::Mpi if !crate::mpi::world::active() => {
            run_threads(site, &plan, panics, items.into_par(), 0, &f)
        }
        Backend::Mpi => {
            let items = checked_items(site, items, fingerprint);
            map_across_ranks(site, &plan, panics, items, codec, &f)
        }
    })
}

/// The items of a map about to be split across ranks, after every rank
/// checked that all ranks hold the same items in the same order.
enum Checked<S: IntoItems> {
    /// As the source gave them (their count and order were known without
    /// walking them).
    Par(S::Par),
    /// Collected to be fingerprinted, in their order.
    Collected(Vec<S::Item>),
}

impl<S: IntoItems> Checked<S> {
    fn len(&self) -> usize {
        match self {
            Checked::Par(par) => par.len(),
            Checked::Collected(v) => v.len(),
        }
    }

    /// Items `lo..hi`, this rank's share, as one type whatever the source
    /// (so that the pool's pipelines are instantiated once per map
    /// function, not once per kind of source).
    fn share(self, lo: usize, hi: usize) -> Vec<S::Item> {
        match self {
            Checked::Par(par) => par.skip(lo).take(hi - lo).collect(),
            Checked::Collected(mut v) => {
                v.truncate(hi);
                v.split_off(lo)
            }
        }
    }
}

/// Checks with every other rank, before any item runs, that all hold the
/// same number of items in the same order (else the shares would overlap
/// and leave gaps); see [`dist::check_items`]. A collective call.
fn checked_items<S: IntoItems>(
    site: &MapSite,
    items: S,
    fingerprint: Option<ItemFingerprint<S::Item>>,
) -> Checked<S> {
    let source = dist::Source {
        per_process_order: S::ORDER_PER_PROCESS,
        item_type: std::any::type_name::<S::Item>(),
    };
    if let Some(known) = items.order_fingerprint() {
        let par = items.into_par();
        dist::check_items(site, &source, par.len(), Some(known));
        return Checked::Par(par);
    }
    match fingerprint {
        None => {
            let par = items.into_par();
            dist::check_items(site, &source, par.len(), None);
            Checked::Par(par)
        }
        Some(feed) => {
            let mut v: Vec<S::Item> = items.into_par().collect();
            let fp = dist::fingerprint(&mut v, feed);
            dist::check_items(site, &source, v.len(), Some(fp));
            Checked::Collected(v)
        }
    }
}

/// This rank's share of the items through `f`, then every rank's results.
fn map_across_ranks<S, R, F>(
    site: &MapSite,
    plan: &Plan,
    panics: &FirstPanic,
    items: Checked<S>,
    codec: Option<ResultCodec<R>>,
    f: &F,
) -> Vec<R>
where
    S: IntoItems,
    R: Send,
    F: Fn(S::Item) -> R + Sync,
{
    let n = items.len();
    match dist::share(n) {
        // The maps' communicator could not be made (said on stderr): all
        // items here.
        None => run_threads(site, plan, panics, items.share(0, n).into_par_iter(), 0, f),
        Some((lo, hi)) => {
            let codec = codec.unwrap_or_else(|| need_serde(site));
            let mine = items.share(lo, hi).into_par_iter();
            let local = run_threads(site, plan, panics, mine, lo, f);
            dist::all_gather_results(site, local, codec)
        }
    }
}

#[track_caller]
pub(crate) fn need_serde(site: &MapSite) -> ! {
    panic!(
        "{}: the `mpi` backend sends results between ranks, so the result type must implement \
         serde's `Serialize` and `Deserialize`; derive them, or use the `threads` backend",
        site.name
    )
}

fn run_threads<P, R, F>(
    site: &MapSite,
    plan: &Plan,
    panics: &FirstPanic,
    par: P,
    offset: usize,
    f: &F,
) -> Vec<R>
where
    P: IndexedParallelIterator,
    R: Send,
    F: Fn(P::Item) -> R + Sync,
{
    if plan.progress {
        let progress = Progress::start(site, true, par.len());
        let out = collect_scheduled(site, par, plan, |(i, x)| {
            let r = panics.call(offset + i, f, x);
            progress.inc();
            r
        });
        progress.finish();
        out
    } else {
        collect_scheduled(site, par, plan, |(i, x)| panics.call(offset + i, f, x))
    }
}

/// `f::try_map`: like [`map`] for a function returning `Result`; stops
/// handing out items after the first `Err` and names the failing item.
#[doc(hidden)]
#[track_caller]
pub fn try_map<S, T, E, F>(
    site: &MapSite,
    call: Option<&MapOptions>,
    items: S,
    f: F,
) -> Result<Vec<T>, ItemError<E>>
where
    S: IntoItems,
    T: Send,
    E: Send,
    F: Fn(S::Item) -> Result<T, E> + Sync,
{
    let plan = site.plan(call);
    crate::config::ensure_pool();
    let wrap = |(index, error)| ItemError {
        function: site.name,
        index,
        error,
    };
    FirstPanic::default().run(site, |panics| match plan.backend {
        Backend::Serial => {
            let seq = items.into_seq();
            let progress = Progress::start(site, plan.progress, len_hint(&seq));
            let mut out = Vec::with_capacity(seq.size_hint().0);
            for (i, x) in seq.enumerate() {
                match panics.call(i, &f, x) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        progress.finish();
                        return Err(wrap((i, e)));
                    }
                }
                progress.inc();
            }
            progress.finish();
            Ok(out)
        }
        // Under MPI every rank holds every item, so each rank runs the whole
        // map on its own pool: the errors need not be serializable.
        Backend::Threads | Backend::Mpi => {
            let par = items.into_par();
            let progress = Progress::start(site, plan.progress, par.len());
            // rayon stops handing out items at the first `Err`; of the
            // failures seen by then, the lowest index is reported.
            let lowest: Mutex<Option<(usize, E)>> = Mutex::new(None);
            let out: Result<Vec<T>, ()> = collect_scheduled(site, par, &plan, |(i, x)| {
                let r = panics.call(i, &f, x).map_err(|e| {
                    let mut slot = lowest.lock().unwrap_or_else(|p| p.into_inner());
                    if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                        *slot = Some((i, e));
                    }
                });
                progress.inc();
                r
            });
            progress.finish();
            out.map_err(|()| {
                let first = lowest.into_inner().unwrap_or_else(|p| p.into_inner());
                match first {
                    Some(failure) => wrap(failure),
                    None => unreachable!("an item failed without recording its error"),
                }
            })
        }
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
    call: Option<&MapOptions>,
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
    let plan = site.plan(call);
    crate::config::ensure_pool();
    FirstPanic::default().run(site, |panics| {
        let partials = match plan.backend {
            Backend::Serial => {
                // The block size needs the exact count, which an iterator
                // may not tell in advance.
                let seq: Vec<S::Item> = items.into_seq().collect();
                let block = reduce_block_size(seq.len());
                let progress = Progress::start(site, plan.progress, seq.len());
                let mut partials = Vec::new();
                let mut acc = identity.clone();
                let mut in_block = 0;
                for (i, x) in seq.into_iter().enumerate() {
                    acc = op(acc, panics.call(i, &f, x));
                    progress.inc();
                    in_block += 1;
                    if in_block == block {
                        partials.push(std::mem::replace(&mut acc, identity.clone()));
                        in_block = 0;
                    }
                }
                if in_block > 0 {
                    partials.push(acc);
                }
                progress.finish();
                partials
            }
            Backend::Threads => {
                let par = items.into_par();
                let block = reduce_block_size(par.len());
                fold_blocks(site, &plan, panics, par, block, 0, &f, &identity, &op)
            }
            Backend::Mpi if !crate::mpi::world::active() => {
                let par = items.into_par();
                let block = reduce_block_size(par.len());
                fold_blocks(site, &plan, panics, par, block, 0, &f, &identity, &op)
            }
            Backend::Mpi => {
                let fold = Fold {
                    site,
                    plan: &plan,
                    panics,
                    f: &f,
                    identity: &identity,
                    op: &op,
                };
                fold.across_ranks(checked_items(site, items, fingerprint), codec)
            }
        };
        tree_combine(partials, &op, identity)
    })
}

/// What `reduce` folds with, for its `mpi` backend.
struct Fold<'a, R, F, Op> {
    site: &'a MapSite,
    plan: &'a Plan,
    panics: &'a FirstPanic,
    f: &'a F,
    identity: &'a R,
    op: &'a Op,
}

impl<R, F, Op> Fold<'_, R, F, Op>
where
    R: Clone + Send + Sync,
    Op: Fn(R, R) -> R + Sync,
{
    /// This rank's share of the blocks, folded, then every rank's blocks.
    fn across_ranks<S>(&self, items: Checked<S>, codec: Option<ResultCodec<R>>) -> Vec<R>
    where
        S: IntoItems,
        F: Fn(S::Item) -> R + Sync,
    {
        let Fold {
            site,
            plan,
            panics,
            f,
            identity,
            op,
        } = *self;
        let n = items.len();
        let block = reduce_block_size(n);
        // Blocks `lo..hi` as items (the last share may be empty).
        let split = dist::share(n.div_ceil(block))
            .map(|(lo, hi)| ((lo * block).min(n), (hi * block).min(n)));
        let (lo, hi) = split.unwrap_or((0, n));
        let mine = items.share(lo, hi).into_par_iter();
        let local = fold_blocks(site, plan, panics, mine, block, lo, f, identity, op);
        match split {
            // The maps' communicator could not be made: all blocks here.
            None => local,
            Some(_) => {
                let codec = codec.unwrap_or_else(|| need_serde(site));
                dist::all_gather_results(site, local, codec)
            }
        }
    }
}

/// Folds each block of `block` items from `identity`, in order.
#[allow(clippy::too_many_arguments)]
fn fold_blocks<P, R, F, Op>(
    site: &MapSite,
    plan: &Plan,
    panics: &FirstPanic,
    par: P,
    block: usize,
    offset: usize,
    f: &F,
    identity: &R,
    op: &Op,
) -> Vec<R>
where
    P: IndexedParallelIterator,
    R: Clone + Send + Sync,
    F: Fn(P::Item) -> R + Sync,
    Op: Fn(R, R) -> R + Sync,
{
    let progress = Progress::start(site, plan.progress, par.len());
    let blocks = par.enumerate().fold_chunks(
        block,
        || identity.clone(),
        |acc, (i, x)| {
            let r = panics.call(offset + i, f, x);
            progress.inc();
            op(acc, r)
        },
    );
    let partials = if crate::trace::enabled() {
        let first_block = offset / block.max(1);
        blocks
            .enumerate()
            .map_init(
                || crate::trace::ChunkSpan::start(site.name, "reduce"),
                |span, (b, r)| {
                    span.item(first_block + b);
                    r
                },
            )
            .collect()
    } else {
        blocks.collect()
    };
    progress.finish();
    partials
}

/// Combines the block results pairwise, level by level: a tree whose shape
/// depends only on the number of blocks.
pub(crate) fn tree_combine<R>(level: Vec<R>, op: &impl Fn(R, R) -> R, identity: R) -> R {
    let mut slots: Vec<Option<R>> = level.into_iter().map(Some).collect();
    let n = slots.len();
    // Level by level, in place: slot i absorbs slot i + stride.
    let mut stride = 1;
    while stride < n {
        let mut i = 0;
        while i + stride < n {
            if let (Some(a), Some(b)) = (slots[i].take(), slots[i + stride].take()) {
                slots[i] = Some(op(a, b));
            }
            i += 2 * stride;
        }
        stride *= 2;
    }
    slots.first_mut().and_then(Option::take).unwrap_or(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shape_is_fixed() {
        let s = |v: Vec<String>| tree_combine(v, &|a, b| format!("({a}{b})"), String::new());
        let leaves = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(s(leaves(0)), "");
        assert_eq!(s(leaves(1)), "0");
        assert_eq!(s(leaves(5)), "(((01)(23))4)");
    }
}
