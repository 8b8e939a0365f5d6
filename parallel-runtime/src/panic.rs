//! Panics of items and tasks: the payload's text, dropping a payload that
//! may itself panic, and [`ItemPanic`], the item's panic raised again in the
//! caller. Shared by maps, task graphs and `#[mpi_main]`'s report.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The text of a panic payload: the message of `panic!("…")` (a `&str` or
/// a `String`), the line of an [`ItemPanic`] (a map inside an item or a
/// task panicked), else a placeholder naming no type.
pub(crate) struct PayloadText<'a>(pub(crate) &'a (dyn Any + Send));

impl fmt::Display for PayloadText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        if let Some(s) = text(p) {
            f.write_str(s)
        } else if let Some(inner) = p.downcast_ref::<ItemPanic>() {
            fmt::Display::fmt(inner, f)
        } else {
            f.write_str("<non-string panic payload>")
        }
    }
}

/// The message of `panic!("…")`, `assert!` or `unwrap`: a payload that is
/// a `&str` or a `String`.
pub(crate) fn text(p: &(dyn Any + Send)) -> Option<&str> {
    p.downcast_ref::<&'static str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
}

/// Drops a panic payload that is not going anywhere (the panic of another
/// item, when a lower index already panicked), without letting a destructor
/// that panics escape into the runtime: such a payload is forgotten.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(from_drop) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        // The destructor's own payload may panic on drop too.
        std::mem::forget(from_drop);
    }
}

/// The panic of one item of a map, raised again by `f::map`, `f::try_map`
/// and `f::reduce` (with [`std::panic::resume_unwind`]) with the item's own
/// payload inside, so that a caller that catches it can tell which item
/// failed and still downcast what the function panicked with.
///
/// Its `Display` is the line printed to stderr when it is raised:
/// `f: item 13 panicked: boom`. When a map runs inside an item of another
/// map, the outer panic's payload is the inner `ItemPanic`.
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[derive(Debug, PartialEq)]
/// struct Overflow(u32);
///
/// #[parallel_map]
/// fn checked(x: u32) -> u32 {
///     if x == 13 {
///         std::panic::panic_any(Overflow(x));
///     }
///     x
/// }
///
/// let caught = std::panic::catch_unwind(|| checked::map(0..100u32)).unwrap_err();
/// let p = caught.downcast::<ItemPanic>().unwrap();
/// assert_eq!((p.function(), p.index()), ("checked", 13));
/// assert_eq!(p.downcast_ref::<Overflow>(), Some(&Overflow(13)));
/// assert_eq!(p.to_string(), "checked: item 13 panicked: <non-string panic payload>");
/// ```
///
/// Python's `Pool.map` re-raises the worker's exception in the caller the
/// same way, its traceback attached.
pub struct ItemPanic {
    pub(crate) function: &'static str,
    pub(crate) index: usize,
    pub(crate) payload: Box<dyn Any + Send>,
}

impl ItemPanic {
    /// The name of the annotated function.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// The position of the item that panicked in the input (the lowest one,
    /// when several panicked).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The message the function panicked with, when it panicked with text
    /// (`panic!("…")`, `assert!`, `unwrap`); `None` for another payload
    /// (`std::panic::panic_any(value)`: see [`downcast_ref`](Self::downcast_ref)).
    pub fn message(&self) -> Option<&str> {
        text(&*self.payload)
    }

    /// The payload, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref::<T>()
    }

    /// The payload the function panicked with.
    pub fn payload(&self) -> &(dyn Any + Send) {
        &*self.payload
    }

    /// The payload, by value: to raise it again as it was
    /// (`std::panic::resume_unwind(p.into_payload())`) or to downcast it.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }
}

impl fmt::Display for ItemPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: item {} panicked: {}",
            self.function,
            self.index,
            PayloadText(&*self.payload)
        )
    }
}

impl fmt::Debug for ItemPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemPanic")
            .field("function", &self.function)
            .field("index", &self.index)
            .field("payload", &format_args!("{}", PayloadText(&*self.payload)))
            .finish()
    }
}

impl std::error::Error for ItemPanic {}
