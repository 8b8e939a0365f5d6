//! With the `tracing` feature: our chunks of a map, tasks of a graph and
//! communicator operations as spans of the
//! [`tracing`](https://docs.rs/tracing) crate too, so that a program that
//! records with `tracing-subscriber` or `tracing-chrome`
//! sees our work in its own timeline.
//!
//! | target                     | span    | fields                                          |
//! |----------------------------|---------|-------------------------------------------------|
//! | `parallel_runtime::map`    | `chunk` | `function`, `kind` (`map`/`reduce`), `rank`, `first_item`, `last_item`, `items` |
//! | `parallel_runtime::graph`  | `task`  | `function`, `key`, `rank`                       |
//! | `parallel_runtime::mpi`    | `op`    | `op` (`send`, `bcast`…), `rank`                 |
//!
//! All at level `INFO`. Without the feature every function here is empty
//! and inlined away; with it but no subscriber, each costs the `tracing`
//! crate's own check of the level filter (one relaxed atomic load).

#[cfg(feature = "tracing")]
use super::event::rank;

/// A span of the `tracing` crate, entered on this thread while this
/// lives (nothing without the feature, or when no subscriber wants it).
pub(crate) struct Entered {
    #[cfg(feature = "tracing")]
    span: tracing::span::EnteredSpan,
}

/// Whether a subscriber wants the chunks of maps (always `false` without
/// the feature).
#[inline(always)]
pub(super) fn wanted() -> bool {
    #[cfg(feature = "tracing")]
    {
        tracing::enabled!(target: "parallel_runtime::map", tracing::Level::INFO, { function, kind })
    }
    #[cfg(not(feature = "tracing"))]
    {
        false
    }
}

/// The span of one chunk of the map of `name` (`kind`: `map` or `reduce`);
/// its items are recorded by [`Entered::items`] when it ends.
#[inline(always)]
pub(super) fn chunk(name: &'static str, kind: &'static str) -> Entered {
    #[cfg(feature = "tracing")]
    {
        use tracing::field::Empty;
        let span = tracing::info_span!(
            target: "parallel_runtime::map",
            "chunk",
            function = name,
            kind,
            rank = rank(),
            first_item = Empty,
            last_item = Empty,
            items = Empty,
        );
        Entered {
            span: span.entered(),
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (name, kind);
        Entered {}
    }
}

/// The span of one task of a graph: the function `name`, the task `key`
/// (formatted only when a subscriber wants the span).
#[inline(always)]
pub(crate) fn task(name: &'static str, key: &dyn std::fmt::Display) -> Entered {
    #[cfg(feature = "tracing")]
    {
        let span = tracing::info_span!(
            target: "parallel_runtime::graph",
            "task",
            function = name,
            key = %key,
            rank = rank(),
        );
        Entered {
            span: span.entered(),
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (name, key);
        Entered {}
    }
}

/// The span of one communicator operation `op`.
#[inline(always)]
pub(super) fn op(op: &'static str) -> Entered {
    #[cfg(feature = "tracing")]
    {
        let span = tracing::info_span!(target: "parallel_runtime::mpi", "op", op, rank = rank());
        Entered {
            span: span.entered(),
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = op;
        Entered {}
    }
}

impl Entered {
    /// Records the items a chunk ran, before it ends.
    #[inline(always)]
    pub(super) fn items(&self, first: usize, last: usize, items: usize) {
        #[cfg(feature = "tracing")]
        {
            self.span.record("first_item", first);
            self.span.record("last_item", last);
            self.span.record("items", items);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (first, last, items);
    }
}
