//! What a stream does with one item of a window: call the function through
//! the call's hooks and keep what the stream yields. Written once for both
//! kinds of hooks: [`Hooks`], and [`Barless`] where no progress bar is
//! shown (as a map does: the bar's test per item costs as much as a
//! trivial item).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::super::call::{Barless, Hooks};
use super::super::panics::caught;

/// Calls the item function for item `index`: its panic recorded, and the
/// progress bar advanced where there is one.
pub(super) trait Caller: Sync {
    fn call<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R;
    /// [`call`](Self::call), a panic recorded and given as `None` (see
    /// [`caught`]).
    #[inline(always)]
    fn call_caught<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> Option<R> {
        caught(|| self.call(index, f, x))
    }
}

impl Caller for Hooks<'_> {
    #[inline(always)]
    fn call<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R {
        self.item(index, f, x)
    }
}

impl Caller for Barless<'_> {
    #[inline(always)]
    fn call<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R {
        self.item(index, f, x)
    }
}

/// What a stream keeps of item `index` (`x`), whose result is `f(x)`.
pub(super) trait Each<T, R>: Sync {
    type Out: Send;
    fn each<F>(&self, by: &impl Caller, f: &F, index: usize, x: T) -> Self::Out
    where
        F: Fn(T) -> R + ?Sized;

    /// Once the window ran: the lowest index that failed with an `Err`,
    /// which wins over the panic of an item after it (see
    /// [`Hooks::settle`](super::super::call::Hooks::settle)).
    fn err_index(&self) -> Option<usize> {
        None
    }
}

/// The result alone (`imap` and `imap_unordered`: the index is the place
/// in the window).
pub(super) struct Plain;

impl<T, R: Send> Each<T, R> for Plain {
    type Out = R;
    #[inline(always)]
    fn each<F>(&self, by: &impl Caller, f: &F, index: usize, x: T) -> R
    where
        F: Fn(T) -> R + ?Sized,
    {
        by.call(index, f, x)
    }
}

/// The `Ok` values and the failure with the lowest index of a `try_`
/// stream's window: an item starts only while no item before it has
/// failed (with an `Err` or a panic).
pub(super) struct TryEach<E> {
    /// The lowest index that failed so far.
    pub(super) first: AtomicUsize,
    /// The `Err` with the lowest index, unless an item before it panicked.
    pub(super) failure: Mutex<Option<(usize, E)>>,
}

impl<T, V: Send, E: Send> Each<T, Result<V, E>> for TryEach<E> {
    type Out = Option<(usize, V)>;
    fn each<F>(&self, by: &impl Caller, f: &F, index: usize, x: T) -> Self::Out
    where
        F: Fn(T) -> Result<V, E> + ?Sized,
    {
        if self.first.load(Ordering::Relaxed) < index {
            return None;
        }
        match by.call_caught(index, f, x) {
            Some(Ok(v)) => Some((index, v)),
            Some(Err(e)) => {
                let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
                if self.first.fetch_min(index, Ordering::Relaxed) > index {
                    *slot = Some((index, e));
                }
                None
            }
            // A panic, recorded by the hooks: no item after it starts.
            None => {
                self.first.fetch_min(index, Ordering::Relaxed);
                None
            }
        }
    }

    fn err_index(&self) -> Option<usize> {
        let failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.as_ref().map(|(i, _)| *i)
    }
}
