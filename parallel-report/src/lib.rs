//! A self-contained HTML report of a trace: one section per map, reduction
//! or compute, each with a timeline of every worker and rank (zoom and pan;
//! every span when they fit, each track's occupancy when they do not),
//! busy and idle time, load imbalance, the critical path of a task graph and
//! the graph itself; failed and cancelled tasks and items marked, with their
//! errors. Everything is inline (style, SVG, the timelines' data and the
//! script that draws them on canvases), so the file opens anywhere with no
//! network access, and a trace of a million events makes a report of a few
//! megabytes.
//!
//! Made by the `parallel-report` command:
//! `cargo run -p parallel-report -- run.json` writes `run.html` beside the
//! trace (recorded with `PARALLEL_TRACE=run.json`, see
//! [`parallel_runtime::trace`]).
//!
//! ```
//! use parallel_runtime::trace::parse;
//!
//! let events = parse(r#"[
//!   {"name": "load", "cat": "task", "ph": "X", "ts": 0, "dur": 10, "pid": 0, "tid": 1,
//!    "args": {"key": "load-0", "deps": []}},
//!   {"name": "sum", "cat": "task", "ph": "X", "ts": 10, "dur": 5, "pid": 0, "tid": 1,
//!    "args": {"key": "sum-1", "deps": ["load-0"]}}
//! ]"#).unwrap();
//! let s = parallel_report::summarize(&events);
//! assert_eq!(s.critical_path, ["load-0", "sum-1"]);
//! assert_eq!(s.critical_path_us, 15.0);
//! let html = parallel_report::render_html("run.json", &events);
//! assert!(html.contains("id=\"timeline\"") && html.contains("id=\"graph\""));
//! ```
//!
//! A large trace is read as a stream with [`Trace::read`] and rendered with
//! [`render_trace`] (what the command does): memory stays near 40 bytes
//! per span.
//!
//! The layers of the code: `trace.rs` reads spans compactly; `sections.rs`
//! splits them into the program's runs, each with its task graph
//! (`tasks.rs`); [`summarize`] measures (`summary.rs`); [`render_html`]
//! lays the numbers out (`page.rs`, colours from `palette.rs`, the
//! timelines' data from `encode.rs`) into the template
//! `templates/report.html`, whose style and script are
//! `templates/report.css` and `templates/report.js`.

mod encode;
mod page;
mod palette;
mod sections;
mod summary;
mod tasks;
mod trace;

pub use page::{render_html, render_trace, report};
pub use summary::{summarize, summarize_trace, Summary};
pub use trace::Trace;
