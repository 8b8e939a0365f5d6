//! Traces: what ran, on which thread of which rank, from when to when.
//!
//! Turn tracing on for a whole run with `PARALLEL_TRACE=run.json`, or in code
//! with [`start`]. Every map chunk, every task of a graph and every
//! message-passing operation becomes one event of a
//! [Chrome trace-event](https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU)
//! JSON file, which opens in <https://ui.perfetto.dev> and `chrome://tracing`,
//! and in the HTML report of `parallel-report` (see `docs/observability.md`).
//!
//! The file is written after every top-level parallel call, appending to
//! what is there, so it is always valid JSON and nothing is lost if the
//! program stops later. With tracing off the whole cost is one relaxed
//! atomic load per map call, chunk of a reduction or task. With it on, each
//! thread records into a buffer of its own (no lock shared with other
//! threads on the way) and hands it, full, to the trace's writer thread; at
//! the end of a top-level call, that call's thread collects what every
//! thread's buffer holds and hands it over too. The writer turns the events
//! into JSON and writes them while the program goes on; [`flush`] and
//! [`stop`] (and the guard's drop, and the end of the program for
//! `PARALLEL_TRACE`) return once everything handed over is in the file. The
//! cost per event is measured in `docs/performance.md` ("Recording a
//! trace").
//!
//! With the `tracing` cargo feature, the same chunks, tasks and
//! communicator operations are also spans of the
//! [`tracing`](https://docs.rs/tracing) crate (targets
//! `parallel_runtime::map`, `::graph` and `::mpi`), for programs that
//! already record with `tracing-subscriber` or `tracing-chrome`: see
//! `docs/observability.md` ("With the tracing crate").
//!
//! The trace may also go to a pipe or a terminal (`PARALLEL_TRACE=/dev/stdout`,
//! `PARALLEL_TRACE=/dev/stderr`), which cannot be rewritten in place: there
//! the events are streamed as they are flushed and the closing `]` is
//! written when tracing stops (when the guard of [`start`] is dropped, or,
//! for `PARALLEL_TRACE`, when the program exits), so the stream is valid JSON
//! once the program has ended. (The Chrome trace-event format accepts a
//! stream cut short before its `]`, as after a crash; `serde_json` does not.)
//!
//! ```no_run
//! let _trace = parallel_runtime::trace::start("run.json")?;
//! // … maps, graphs …
//! # Ok::<(), std::io::Error>(())
//! ```

mod activity;
mod buffer;
mod event;
mod file;
mod ranks;
mod record;
mod sink;
mod spans;
#[cfg(test)]
mod tests;
mod writer;

pub use event::{set_rank, thread_name, Event};
pub use file::{flush, parse, path, read, start, stop, TraceGuard, ENV_TRACE};
pub use record::enabled;

pub(crate) use activity::op_span;
#[cfg(any(feature = "mpi", test))]
pub(crate) use activity::{activity, watch_activity, Activity};
pub(crate) use file::{flush_if_top_level, start_from_env};
#[cfg(feature = "mpi")]
pub(crate) use ranks::{abandon_part, mark_sync, RankPart};
pub(crate) use ranks::{merge_parts, merging, start_for_rank};
pub(crate) use record::record;
pub(crate) use record::{
    chunks_wanted, item_failed, next_call, now_us, task_event, ChunkSpan, Outcome,
};
pub(crate) use spans::task as task_span;
