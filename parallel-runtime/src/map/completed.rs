//! [`as_completed`]: the results of several asynchronous calls in the order
//! they finish (`concurrent.futures.as_completed`).

use std::fmt;
use std::iter::FusedIterator;
use std::sync::mpsc::{channel, Receiver};

use super::spawn::AsyncResult;

/// The results of the calls behind `handles` as each finishes, with the
/// handle's position in `handles` (Python's
/// `concurrent.futures.as_completed(futures)`, with the index standing for
/// the dictionary from futures to their inputs that Python programs keep).
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[parallel_map]
/// fn slow_square(ms: u64) -> u64 {
///     std::thread::sleep(std::time::Duration::from_millis(ms));
///     ms * ms
/// }
///
/// let handles: Vec<_> = [30, 1, 10].into_iter().map(slow_square::apply_async).collect();
/// let mut got: Vec<(usize, u64)> = as_completed(handles).collect();
/// got.sort(); // the order they finished in depends on the machine
/// assert_eq!(got, [(0, 900), (1, 1), (2, 100)]);
/// ```
///
/// Every result comes exactly once, whatever the order in which the calls
/// finish; a call that has already finished comes first. `next()` waits
/// for the next call to finish. On a thread of the pool the calls were
/// started on (inside an item of a map), the calls that no thread has
/// started yet run on this thread when `next()` would wait, as in
/// [`AsyncResult::get`], so that a pool whose every thread waits still runs
/// them.
///
/// # Panics
/// `next()` panics with the call's [`ItemPanic`](crate::ItemPanic) when the
/// call it would yield panicked, as Python's `future.result()` raises; the
/// iterator then goes on with the other calls.
pub fn as_completed<R, I>(handles: I) -> AsCompleted<R>
where
    I: IntoIterator<Item = AsyncResult<R>>,
{
    let (tx, rx) = channel();
    let pending: Vec<Option<AsyncResult<R>>> = handles.into_iter().map(Some).collect();
    for (index, handle) in pending.iter().enumerate() {
        if let Some(h) = handle {
            h.slot.watch(index, &tx);
        }
    }
    AsCompleted {
        left: pending.len(),
        pending,
        rx,
    }
}

/// The iterator of [`as_completed`]: `(index, result)` pairs as the calls
/// finish.
#[must_use = "an `AsCompleted` yields nothing unless iterated; the calls run anyway"]
pub struct AsCompleted<R> {
    pending: Vec<Option<AsyncResult<R>>>,
    left: usize,
    /// The index of each call as it finishes (some, twice: see
    /// `Slot::watch`).
    rx: Receiver<usize>,
}

impl<R> AsCompleted<R> {
    /// Runs here the calls that wait for a thread of the pool this thread
    /// belongs to (none, on a thread of no pool): they would wait for this
    /// one.
    fn run_stranded(&self) {
        for h in self.pending.iter().flatten() {
            if h.slot.on_its_pool() {
                h.slot.run_if_pending();
            }
        }
    }
}

impl<R> Iterator for AsCompleted<R> {
    type Item = (usize, R);

    fn next(&mut self) -> Option<(usize, R)> {
        if self.left == 0 {
            return None;
        }
        let mut ran_stranded = false;
        loop {
            let index = match self.rx.try_recv() {
                Ok(index) => index,
                Err(_) if !ran_stranded => {
                    ran_stranded = true;
                    self.run_stranded();
                    continue;
                }
                // Every handle holds a sender until its call has finished
                // and told this receiver: the channel cannot close first.
                Err(_) => self
                    .rx
                    .recv()
                    .unwrap_or_else(|_| unreachable!("a call ended without telling its watcher")),
            };
            if let Some(h) = self.pending[index].take() {
                self.left -= 1;
                return Some((index, h.get()));
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<R> ExactSizeIterator for AsCompleted<R> {}

impl<R> FusedIterator for AsCompleted<R> {}

impl<R> fmt::Debug for AsCompleted<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}
