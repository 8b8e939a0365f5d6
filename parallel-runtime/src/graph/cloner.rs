//! `T::clone` of a node's result, recorded when a handle is cloned.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `T::clone`, once recorded: a function pointer held as a raw pointer, so
/// that recording it at every clone of a handle is an atomic load (and one
/// store the first time), where a `OnceLock` took its slow path (a
/// compare-and-swap and a wake-up check) on the first clone of every node:
/// 4% of the time of a stencil graph of trivial tasks, built and computed.
pub(crate) struct Cloner<T>(AtomicPtr<()>, PhantomData<fn(&T) -> T>);

impl<T> Cloner<T> {
    pub(crate) const fn new() -> Self {
        Cloner(AtomicPtr::new(std::ptr::null_mut()), PhantomData)
    }

    /// Records `f` (always `<T as Clone>::clone`: every call stores the
    /// same pointer).
    #[inline]
    pub(crate) fn set(&self, f: fn(&T) -> T) {
        if self.0.load(Ordering::Relaxed).is_null() {
            self.0.store(f as *mut (), Ordering::Release);
        }
    }

    /// The recorded function, if a handle was ever cloned.
    #[inline]
    pub(crate) fn get(&self) -> Option<fn(&T) -> T> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: the only non-null value ever stored is a `fn(&T) -> T`
        // cast to a pointer by `set` (same size, checked by `transmute`).
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut (), fn(&T) -> T>(p) })
    }
}
