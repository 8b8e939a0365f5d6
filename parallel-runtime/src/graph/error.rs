//! The error `compute` returns, and what it says of each failed task.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::key::TaskKey;

/// Why a task failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The function panicked.
    Panicked,
    /// The function returned `Err`.
    Error,
    /// Its result had already been handed on and could not be read again.
    Unavailable,
    /// Another `compute` was running the same node at the same moment.
    Busy,
    /// Across ranks ([`compute_on`](crate::graph::compute_on)): the ranks
    /// built different graphs; the key is this rank's first task that
    /// differs.
    GraphMismatch,
    /// Across ranks: the task's result must move to another rank, and its
    /// type is not `Serialize + DeserializeOwned` (or not known to be:
    /// see [`transferable`](crate::graph::transferable)), or it is pinned
    /// to a rank the world does not have.
    NotPlaceable,
    /// Across ranks: a message between ranks failed.
    Comm,
}

/// The failure of one task, shared by the nodes it cancelled.
pub(crate) struct Failure {
    pub(crate) key: TaskKey,
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    /// The `Err` value, or the panic payload, until somebody takes it.
    pub(crate) error: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Drop for Failure {
    /// A value nobody took is dropped where its destructor cannot panic
    /// into the runtime (or into the drop of a `DelayedError`).
    fn drop(&mut self) {
        let error = self.error.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = error.take() {
            crate::panic::drop_payload(e);
        }
    }
}

/// The error of `compute`: which task failed, how, and how many tasks that
/// depended on it (or were still waiting) were cancelled.
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[delayed]
/// fn parse(s: String) -> Result<i64, std::num::ParseIntError> { s.parse() }
/// #[delayed]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let err = double(parse("x1".to_string())).compute().unwrap_err();
/// assert_eq!(err.function(), "parse");
/// assert!(err.key().to_string().starts_with("parse-"));
/// assert!(err.to_string().contains("returned an error: invalid digit found in string"));
/// ```
#[derive(Clone)]
pub struct DelayedError {
    failure: Arc<Failure>,
    cancelled: usize,
    /// Across ranks: the rank the task failed on.
    rank: Option<usize>,
}

impl DelayedError {
    pub(crate) fn new(failure: Arc<Failure>, cancelled: usize) -> Self {
        DelayedError {
            failure,
            cancelled,
            rank: None,
        }
    }

    /// The same error, naming the rank the task failed on.
    pub(crate) fn on_rank(mut self, rank: usize) -> Self {
        self.rank = Some(rank);
        self
    }

    /// For a graph computed across ranks
    /// ([`compute_on`](crate::graph::compute_on)): the rank the task
    /// failed on (every rank returns the same error). `None` on one
    /// machine.
    pub fn rank(&self) -> Option<usize> {
        self.rank
    }

    pub(crate) fn failure(&self) -> &Arc<Failure> {
        &self.failure
    }

    /// The key of the task that failed, e.g. `load-3`.
    pub fn key(&self) -> TaskKey {
        self.failure.key
    }

    /// The name of the function that failed.
    pub fn function(&self) -> &'static str {
        self.failure.key.name()
    }

    /// How it failed.
    pub fn kind(&self) -> FailureKind {
        self.failure.kind
    }

    /// The panic message, or the `Display` of the `Err`.
    pub fn message(&self) -> &str {
        &self.failure.message
    }

    /// How many tasks of this compute did not run because of the failure.
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// The `Err` value the function returned, if it is an `E` and nobody
    /// took it yet (clones of this error share it). For a task that
    /// panicked, its panic payload, if it is an `E` (a value given to
    /// `std::panic::panic_any`).
    pub fn take_error<E: 'static>(&self) -> Option<E> {
        let mut slot = self.failure.error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take()?.downcast::<E>() {
            Ok(e) => Some(*e),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }

    /// The payload the task panicked with, whatever its type, if the task
    /// panicked and nobody took it yet (clones of this error share it): to
    /// downcast it, or to raise it again with
    /// [`std::panic::resume_unwind`]. A `#[parallel_map]` inside the task
    /// panicked with an [`ItemPanic`](crate::ItemPanic).
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Code(i32);
    ///
    /// #[delayed]
    /// fn fails(x: i32) -> i32 {
    ///     std::panic::panic_any(Code(x))
    /// }
    ///
    /// let err = fails(7).compute().unwrap_err();
    /// assert_eq!(err.message(), "<non-string panic payload>");
    /// let payload = err.take_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)));
    /// ```
    pub fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        if self.failure.kind != FailureKind::Panicked {
            return None;
        }
        let mut slot = self.failure.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.take()
    }
}

impl fmt::Display for DelayedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.failure.kind {
            FailureKind::Panicked => "panicked",
            FailureKind::Error => "returned an error",
            FailureKind::Unavailable | FailureKind::Busy | FailureKind::Comm => "could not run",
            FailureKind::GraphMismatch => "differs between ranks",
            FailureKind::NotPlaceable => "cannot be placed",
        };
        write!(f, "task `{}` {what}", self.failure.key)?;
        if let Some(rank) = self.rank {
            write!(f, " on rank {rank}")?;
        }
        write!(f, ": {}", self.failure.message)?;
        if self.cancelled > 0 {
            write!(
                f,
                " ({} other task{} cancelled)",
                self.cancelled,
                if self.cancelled == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for DelayedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedError")
            .field("key", &self.failure.key)
            .field("kind", &self.failure.kind)
            .field("message", &self.failure.message)
            .field("cancelled", &self.cancelled)
            .field("rank", &self.rank)
            .finish()
    }
}

impl std::error::Error for DelayedError {}
