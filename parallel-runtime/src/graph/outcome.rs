use super::TaskFail;
use crate::graph::FailureKind;

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
