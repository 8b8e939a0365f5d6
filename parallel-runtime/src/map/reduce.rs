//! Bitwise reproducible reductions: items are folded in blocks of
//! [`reduce_block_size`] (a function of the item count alone), and the
//! blocks combined in a fixed pairwise tree ([`tree_combine`]), so the
//! answer has the same bits whatever the thread count, schedule or backend.
//!
//! A block is the unit of work of a reduction on every path: the serial
//! path folds the blocks in order, the threads path folds them on the pool
//! (one chunk of the trace per job, numbered by block), and the ranks path
//! gives each rank a contiguous share of whole blocks.

use rayon::iter::IndexedParallelIterator;

use super::call::{Call, Hooks};
use super::{schedule, serial};
use crate::config::Schedule;

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

/// What a reduction folds with: `f` per item, from `identity`, with `op`.
pub(super) struct Fold<'a, R, F, Op> {
    pub(super) f: &'a F,
    pub(super) identity: &'a R,
    pub(super) op: &'a Op,
}

impl<R, F, Op> Fold<'_, R, F, Op>
where
    R: Clone + Send + Sync,
    Op: Fn(R, R) -> R + Sync,
{
    /// The serial path: `items` folded block by block, in order, on this
    /// thread; one partial result per block.
    pub(super) fn serial<T>(&self, call: &Call<'_>, items: Vec<T>) -> Vec<R>
    where
        F: Fn(T) -> R,
    {
        // The block size needs the exact count, which an iterator may not
        // tell in advance: hence `items` collected.
        let n = items.len();
        let block = reduce_block_size(n);
        let mut items = items.into_iter().enumerate();
        call.hooks(n, |hooks| {
            serial::run(hooks, 0..n.div_ceil(block), |_, _| {
                let in_block = items.by_ref().take(block);
                in_block.fold(self.identity.clone(), |acc, (i, x)| {
                    (self.op)(acc, hooks.item(i, self.f, x))
                })
            })
        })
    }

    /// The threads path: the items of `par` (item `offset` first, at the
    /// start of a block) folded in blocks of `block` on the pool; one
    /// partial result per block, in order.
    pub(super) fn threads<P>(&self, call: &Call<'_>, par: P, block: usize, offset: usize) -> Vec<R>
    where
        P: IndexedParallelIterator,
        F: Fn(P::Item) -> R + Sync,
    {
        let Fold { f, identity, op } = *self;
        call.hooks(par.len(), |hooks| {
            // As a map does: without a bar (or dashboard) to advance, the
            // per-item hook tests nothing for it, so the fold of a block
            // stays a tight loop (the test made `x * x` summed 4 times
            // slower than rayon's `map().sum()`).
            let blocks = (par, block, offset);
            match hooks.barless() {
                Some(by) => fold_blocks(hooks, blocks, identity, op, |i, x| by.item(i, f, x)),
                None => fold_blocks(hooks, blocks, identity, op, |i, x| hooks.item(i, f, x)),
            }
        })
    }
}

/// The items of `par` (item `offset` first) folded with `op` over `g` in
/// blocks of `block`, each block from `identity`; one result per block, in
/// order. Blocks run as rayon splits them, each job one chunk of the trace.
fn fold_blocks<P, R, Op, G>(
    hooks: &Hooks<'_>,
    (par, block, offset): (P, usize, usize),
    identity: &R,
    op: &Op,
    g: G,
) -> Vec<R>
where
    P: IndexedParallelIterator,
    R: Clone + Send + Sync,
    Op: Fn(R, R) -> R + Sync,
    G: Fn(usize, P::Item) -> R + Sync + Send,
{
    let blocks = par.enumerate().fold_chunks(
        block,
        || identity.clone(),
        |acc, (i, x)| op(acc, g(offset + i, x)),
    );
    let jobs = (Schedule::Guided, None);
    schedule::run(hooks, blocks, offset / block.max(1), jobs, |_, r| r)
}

/// Combines the block results pairwise, level by level: a tree whose shape
/// depends only on the number of blocks.
pub(super) fn tree_combine<R>(level: Vec<R>, op: &impl Fn(R, R) -> R, identity: R) -> R {
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
