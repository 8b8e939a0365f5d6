//! The threads path (the `threads` backend, and each rank's share under
//! `mpi`): units of work on the pool, cut into jobs by a schedule, results
//! in input order; with tracing on, every job a thread takes is recorded as
//! one chunk.

use std::marker::PhantomData;

use rayon::iter::{
    FromParallelIterator, IndexedParallelIterator, ParallelExtend, ParallelIterator,
};

use super::call::Hooks;
use crate::config::Schedule;

/// Splits `par` by `schedule` and collects `g(index, unit)` over it, in
/// input order; the units are numbered from `offset` (where this rank's
/// share starts), and `g` runs each of their items through `hooks`.
///
/// `Dynamic` (and `Static`) pieces hold exactly `chunk` items, the last
/// maybe fewer, each piece a job of its own that any idle thread may take
/// (OpenMP's `schedule(dynamic, chunk)`); `Static` without a chunk size
/// cuts one piece per thread. `Guided` lets rayon split adaptively, never
/// below `chunk` items. All of it runs on the call's pool (see
/// [`Hooks::on_pool`]).
pub(super) fn run<P, R, C, G>(
    hooks: &Hooks<'_>,
    par: P,
    offset: usize,
    jobs: (Schedule, Option<usize>),
    g: G,
) -> C
where
    P: IndexedParallelIterator,
    R: Send,
    C: FromParallelIterator<R> + Send,
    G: Fn(usize, P::Item) -> R + Sync + Send,
{
    hooks.on_pool(|| cut(hooks, par, offset, jobs, g, Collect(PhantomData)))
}

/// [`run`], appending the results to `out`, whose buffer is reused: a
/// stream's windows fill the buffer of the window before.
pub(super) fn run_into<P, R, C, G>(
    hooks: &Hooks<'_>,
    par: P,
    offset: usize,
    jobs: (Schedule, Option<usize>),
    g: G,
    out: &mut C,
) where
    P: IndexedParallelIterator,
    R: Send,
    C: ParallelExtend<R> + Send,
    G: Fn(usize, P::Item) -> R + Sync + Send,
{
    hooks.on_pool(|| cut(hooks, par, offset, jobs, g, out))
}

/// Where the results of [`cut`] go: into a new collection ([`Collect`]),
/// or appended to one (`&mut C`).
trait Gather<R: Send> {
    type Out: Send;
    fn gather(self, results: impl ParallelIterator<Item = R>) -> Self::Out;
}

/// Into a new `C`.
struct Collect<C>(PhantomData<fn() -> C>);

impl<R: Send, C: FromParallelIterator<R> + Send> Gather<R> for Collect<C> {
    type Out = C;
    fn gather(self, results: impl ParallelIterator<Item = R>) -> C {
        results.collect()
    }
}

impl<R: Send, C: ParallelExtend<R> + Send> Gather<R> for &mut C {
    type Out = ();
    fn gather(self, results: impl ParallelIterator<Item = R>) {
        self.par_extend(results);
    }
}

/// [`run`], on the pool it runs on.
fn cut<P, R, O, G>(
    hooks: &Hooks<'_>,
    par: P,
    offset: usize,
    (schedule, chunk): (Schedule, Option<usize>),
    g: G,
    out: O,
) -> O::Out
where
    P: IndexedParallelIterator,
    R: Send,
    O: Gather<R>,
    G: Fn(usize, P::Item) -> R + Sync + Send,
{
    let n = par.len();
    let piece = match schedule {
        Schedule::Static => {
            // The threads of the pool this runs on: the shared pool (which
            // the call has started), or the call's own.
            let threads = rayon::current_num_threads();
            chunk.unwrap_or_else(|| n.div_ceil(threads)).max(1)
        }
        Schedule::Dynamic => chunk.unwrap_or(1),
        Schedule::Guided => {
            return split(hooks, par, offset, (chunk.unwrap_or(1), usize::MAX), g, out)
        }
    };
    if piece == 1 {
        // One item per job: exact without gathering items into pieces.
        return split(hooks, par, offset, (1, 1), g, out);
    }
    // One pipeline, traced or not (a branch per item, against a piece's
    // own allocation): each rayon pipeline is code in every map function.
    let g = &g;
    out.gather(
        par.enumerate()
            .chunks(piece)
            .with_max_len(1)
            .flat_map_iter(|piece| {
                let mut span = hooks.chunk();
                piece.into_iter().map(move |(i, x)| {
                    let i = offset + i;
                    if let Some(span) = &mut span {
                        span.next_item(i);
                    }
                    g(i, x)
                })
            }),
    )
}

/// Gathers `g` over `par` as rayon splits it (adaptively, in jobs of
/// `min` to `max` units); with tracing on, one chunk per job.
fn split<P, R, O, G>(
    hooks: &Hooks<'_>,
    par: P,
    offset: usize,
    (min, max): (usize, usize),
    g: G,
    out: O,
) -> O::Out
where
    P: IndexedParallelIterator,
    R: Send,
    O: Gather<R>,
    G: Fn(usize, P::Item) -> R + Sync + Send,
{
    let it = par.enumerate().with_min_len(min).with_max_len(max);
    if hooks.traced() {
        out.gather(it.map_init(
            || hooks.span(),
            |span, (i, x)| {
                let i = offset + i;
                span.next_item(i);
                g(i, x)
            },
        ))
    } else {
        out.gather(it.map(|(i, x)| g(offset + i, x)))
    }
}
