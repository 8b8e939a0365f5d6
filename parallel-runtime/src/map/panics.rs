//! The panics of items: each item runs under `catch_unwind`; the panic of
//! the lowest-indexed item that panicked is raised again in the caller as
//! an [`ItemPanic`], the others' payloads dropped.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use crate::panic::{drop_payload, ItemPanic};

/// The payload that unwinds through rayon after an item panicked; the real
/// payload waits in [`FirstPanic`].
struct Cancelled;

/// `call()`, an item called through [`FirstPanic::call`] (by way of the
/// hooks), with its panic stopped here: recorded there already, it gives
/// `None` instead of unwinding on, so that a `try_` path can weigh it
/// against its `Err`s once its items ran (see [`FirstPanic::settle`]).
#[inline(always)]
pub(super) fn caught<R>(call: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(call)).ok()
}

/// The panic of the lowest-indexed item that panicked.
#[derive(Default)]
pub(super) struct FirstPanic(Mutex<Option<(usize, Box<dyn Any + Send>)>>);

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
    pub(super) fn call<T, R>(&self, index: usize, f: &(impl Fn(T) -> R + ?Sized), x: T) -> R {
        match catch_unwind(AssertUnwindSafe(|| f(x))) {
            Ok(r) => r,
            Err(payload) => {
                // The chunk's trace event marks it (issue 13).
                crate::trace::item_failed(index, "panicked", crate::panic::text(&*payload));
                self.record(index, payload);
                resume_unwind(Box::new(Cancelled))
            }
        }
    }

    /// After the items of a `try_` path ran through [`caught`]: the first
    /// failure in input order
    /// wins, as in the serial loop, which never runs an item after its
    /// first failure. A recorded panic is raised (to come out of
    /// [`run`](Self::run) as the item's [`ItemPanic`]) unless an item
    /// before it failed with an `Err` (`err`, its index); then the panic's
    /// payload is dropped and the `Err` stands.
    pub(super) fn settle(&self, err: Option<usize>) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            None => {}
            Some((index, payload)) if err.is_some_and(|e| e < index) => {
                drop(slot);
                drop_payload(payload);
            }
            Some(first) => {
                *slot = Some(first);
                drop(slot);
                resume_unwind(Box::new(Cancelled))
            }
        }
    }

    /// Runs `body` (on a fresh stack segment when little stack is left:
    /// maps nest); a panic of an item comes out as an [`ItemPanic`] that
    /// names the function (`name`) and the item and holds the item's
    /// payload.
    #[track_caller]
    pub(super) fn run<R>(self, name: &'static str, body: impl FnOnce(&Self) -> R) -> R {
        let result = crate::pool::deep(|| catch_unwind(AssertUnwindSafe(|| body(&self))));
        crate::trace::flush_if_top_level();
        match result {
            Ok(r) => r,
            Err(payload) => {
                let first = self.0.into_inner().unwrap_or_else(|p| p.into_inner());
                match first {
                    Some((index, item_payload)) => {
                        drop_payload(payload);
                        let raised = ItemPanic {
                            function: name,
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
