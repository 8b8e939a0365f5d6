//! A self-contained HTML report of a trace: a timeline of every worker and
//! rank, busy and idle time, load imbalance, the critical path of a task
//! graph and the graph itself. Everything is inline SVG and CSS (plus a few
//! lines of script that count what was drawn, for tests), so the file opens
//! anywhere with no network access.
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
//! The layers of the code: [`summarize`] measures (`summary.rs`, with the
//! task graph of the trace in `tasks.rs`); [`render_html`] lays the numbers
//! out (`page.rs`) into the template `templates/report.html`, whose style
//! and script are `templates/report.css` and `templates/report.js`.

mod page;
mod summary;
mod tasks;

pub use page::render_html;
pub use summary::{summarize, Summary};
