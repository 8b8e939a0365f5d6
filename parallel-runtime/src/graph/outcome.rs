use std::sync::{Arc, Mutex};

use super::error::{DelayedError, Failure};
use super::node::Node;
use super::TaskFail;
use crate::graph::FailureKind;
use crate::panic::PayloadText;

/// Checks that a `Result`'s error type can fail a task.
#[inline(always)]
pub const fn assert_error<E: std::fmt::Display + Send + 'static>() {}

/// A plain return value.
#[inline(always)]
pub fn ok<T>(t: T) -> Result<T, TaskFail> {
    Ok(t)
}

/// A `Result` return value: `Err` fails the task.
#[inline(always)]
pub fn from_result<R>(r: R) -> Result<R::Ok, TaskFail>
where
    R: crate::bounds::IsResult,
    R::Err: std::fmt::Display + Send + 'static,
{
    r.into_result().map_err(|e| TaskFail {
        kind: FailureKind::Error,
        message: e.to_string(),
        error: Some(Box::new(e)),
    })
}

/// Reads a root's result for `compute` to return, on the calling thread:
/// its value, or its failure named by its key. A kept result is cloned
/// here, by the user's `Clone`, which may panic: the panic becomes the
/// root's failure (`Panicked`), so that `compute` still releases its
/// claims (a panic passing through it left every node of the graph
/// claimed, and each later compute of it `Busy`).
///
/// # Safety
/// As `Node::read`: the graph ran, and this is one of the counted reads.
pub(crate) unsafe fn read_root<T: Send + 'static>(node: &Node<T>) -> Result<T, DelayedError> {
    // SAFETY: forwarded.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { node.read() }));
    let (kind, message, error) = match read {
        Ok(Ok(v)) => return Ok(v),
        Ok(Err(f)) => (f.kind, f.message, f.error),
        // The payload is kept (its destructor may panic) for `take_panic`.
        Err(p) => (FailureKind::Panicked, PayloadText(&*p).to_string(), Some(p)),
    };
    let key = node.head.key();
    let failure = Failure {
        key,
        kind,
        message,
        error: Mutex::new(error),
    };
    Err(DelayedError::new(Arc::new(failure), 0))
}
