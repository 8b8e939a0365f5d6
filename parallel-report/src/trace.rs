//! The spans of a trace, held compactly: a trace of a million events is
//! read as a stream (never whole in memory, never as a million JSON maps)
//! into about 40 bytes per span, the function names and task keys
//! interned, and the details (`args`) of a bounded number of spans kept as
//! text for the page.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::rc::Rc;

use parallel_runtime::trace::Event;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// How a span ended, from its `args.status` (written by the runtime for
/// tasks and chunks that did not succeed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Ran and succeeded (no `status`).
    Ok,
    /// Returned an error (`failed`) or panicked (`panicked`).
    Failed,
    /// Never ran: an input failed (`cancelled`).
    Cancelled,
}

impl Status {
    fn of(status: Option<&str>) -> Self {
        match status {
            Some("failed" | "panicked") => Status::Failed,
            Some("cancelled") => Status::Cancelled,
            _ => Status::Ok,
        }
    }
}

/// No index (a span without kept details, or one that is not a task).
pub(crate) const NONE: u32 = u32::MAX;

/// One complete event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    /// Start, in microseconds.
    pub(crate) ts: f64,
    /// Duration, in microseconds.
    pub(crate) dur: f64,
    /// The rank.
    pub(crate) pid: u32,
    /// The thread.
    pub(crate) tid: u32,
    /// Its function: an index into [`Trace::funcs`].
    pub(crate) func: u32,
    pub(crate) status: Status,
    /// A chunk that holds item 0 (`args.first_item` is 0): the first of
    /// its call, so one that comes again starts another call.
    pub(crate) first: bool,
    /// Its details: an index into [`Trace::details`], or [`NONE`].
    pub(crate) detail: u32,
    /// Its task: an index into [`Trace::tasks`], or [`NONE`].
    pub(crate) task: u32,
}

/// A function (or operation): a name in a category (`map`, `task`, …).
#[derive(Debug)]
pub(crate) struct Func {
    pub(crate) name: String,
    pub(crate) cat: String,
}

/// The text of a span's details, for the page.
#[derive(Debug)]
pub(crate) struct Detail {
    /// `key=value` pairs, separated by commas (without status and error).
    pub(crate) text: String,
    /// The error of a span that did not succeed.
    pub(crate) error: Option<String>,
}

/// The graph part of a task's span: its key and its inputs' keys (interned
/// in [`Trace::keys`]).
#[derive(Debug)]
pub(crate) struct TaskRef {
    pub(crate) key: u32,
    pub(crate) deps: std::ops::Range<usize>,
}

/// At most this many spans keep their details (for the page's hover text),
/// besides every span that did not succeed: beyond, a report would grow by
/// tens of bytes per span.
pub(crate) const DETAILS_KEPT: usize = 20_000;

/// A trace, read compactly: see the module's documentation.
#[derive(Debug, Default)]
pub struct Trace {
    pub(crate) spans: Vec<Span>,
    pub(crate) funcs: Vec<Func>,
    pub(crate) details: Vec<Detail>,
    pub(crate) tasks: Vec<TaskRef>,
    /// The inputs of every task, by key, one run per task.
    pub(crate) deps: Vec<u32>,
    pub(crate) keys: Vec<Rc<str>>,
    key_ids: HashMap<Rc<str>, u32>,
    func_ids: HashMap<String, u32>,
    scratch: String,
    /// Events of the file that are not spans (metadata).
    pub(crate) other_events: usize,
}

/// What a task's or a failed span's `args` say that the report uses.
#[derive(serde::Deserialize, Default)]
struct Args {
    key: Option<String>,
    #[serde(default)]
    deps: Vec<String>,
    status: Option<String>,
    error: Option<String>,
    first_item: Option<u64>,
}

/// One event as read from the file; its `args` stay JSON text until needed.
#[derive(serde::Deserialize)]
struct RawEvent {
    #[serde(default)]
    name: String,
    #[serde(default)]
    cat: String,
    #[serde(default)]
    ph: String,
    #[serde(default)]
    ts: f64,
    #[serde(default)]
    dur: f64,
    #[serde(default)]
    pid: u32,
    #[serde(default)]
    tid: u32,
    args: Option<Box<RawValue>>,
}

impl Trace {
    /// Reads a trace file (a JSON array of trace events, or an object with
    /// `traceEvents`) as a stream.
    pub fn read(path: impl AsRef<Path>) -> std::io::Result<Trace> {
        let file = BufReader::with_capacity(1 << 20, File::open(path)?);
        let mut de = serde_json::Deserializer::from_reader(file);
        let mut trace = Trace::default();
        Top(&mut trace).deserialize(&mut de)?;
        de.end()?;
        Ok(trace)
    }

    /// The compact form of events already in memory (through the same
    /// path as a file's).
    pub fn from_events(events: &[Event]) -> Trace {
        let mut trace = Trace::default();
        for e in events {
            let raw = RawEvent {
                name: e.name.clone(),
                cat: e.cat.clone(),
                ph: e.ph.clone(),
                ts: e.ts,
                dur: e.dur,
                pid: e.pid,
                tid: e.tid,
                args: serde_json::value::to_raw_value(&e.args).ok(),
            };
            // Arguments that came from JSON values parse back.
            let _ = trace.push_raw(raw);
        }
        trace
    }

    /// The number of events read, spans and metadata.
    pub fn events(&self) -> usize {
        self.spans.len() + self.other_events
    }

    fn keeps_detail(&self, args: &Args) -> bool {
        self.details.len() < DETAILS_KEPT || args.status.is_some()
    }

    fn push_raw(&mut self, e: RawEvent) -> serde_json::Result<()> {
        if e.ph != "X" {
            self.other_events += 1;
            return Ok(());
        }
        let raw = e.args.as_deref().map_or("{}", RawValue::get);
        let task = e.cat == "task";
        let args = if task || raw.contains("\"status\"") || raw.contains("\"first_item\"") {
            serde_json::from_str(raw)?
        } else {
            Args::default()
        };
        let detail = if self.keeps_detail(&args) {
            Some(detail_text(&serde_json::from_str::<Map<String, Value>>(
                raw,
            )?))
        } else {
            None
        };
        self.push(
            &e.name,
            &e.cat,
            (e.ts, e.dur, e.pid, e.tid),
            task,
            args,
            detail,
        );
        Ok(())
    }

    fn push(
        &mut self,
        name: &str,
        cat: &str,
        (ts, dur, pid, tid): (f64, f64, u32, u32),
        task: bool,
        args: Args,
        detail: Option<String>,
    ) {
        self.scratch.clear();
        self.scratch.push_str(cat);
        self.scratch.push('\u{1f}');
        self.scratch.push_str(name);
        let func = match self.func_ids.get(&self.scratch) {
            Some(&f) => f,
            None => {
                let f = self.funcs.len() as u32;
                self.funcs.push(Func {
                    name: name.to_owned(),
                    cat: cat.to_owned(),
                });
                self.func_ids.insert(self.scratch.clone(), f);
                f
            }
        };
        let status = Status::of(args.status.as_deref());
        let task = match (task, args.key) {
            (true, Some(key)) => {
                let key = self.key(&key);
                let from = self.deps.len();
                for d in &args.deps {
                    let d = self.key(d);
                    self.deps.push(d);
                }
                self.tasks.push(TaskRef {
                    key,
                    deps: from..self.deps.len(),
                });
                self.tasks.len() as u32 - 1
            }
            _ => NONE,
        };
        let detail = match detail {
            Some(text) => {
                self.details.push(Detail {
                    text,
                    error: args.error,
                });
                self.details.len() as u32 - 1
            }
            None => NONE,
        };
        self.spans.push(Span {
            ts,
            dur: dur.max(0.0),
            pid,
            tid,
            func,
            status,
            first: args.first_item == Some(0),
            detail,
            task,
        });
    }

    fn key(&mut self, key: &str) -> u32 {
        if let Some(&k) = self.key_ids.get(key) {
            return k;
        }
        let k = self.keys.len() as u32;
        let key: Rc<str> = key.into();
        self.keys.push(key.clone());
        self.key_ids.insert(key, k);
        k
    }

    /// The function of span `s`.
    pub(crate) fn func(&self, s: &Span) -> &Func {
        &self.funcs[s.func as usize]
    }
}

/// A span's details, `key=value` pairs separated by commas, without the
/// status and error (shown apart).
fn detail_text(args: &Map<String, Value>) -> String {
    struct Pairs<'a>(&'a Map<String, Value>);
    impl fmt::Display for Pairs<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let shown = self
                .0
                .iter()
                .filter(|(k, _)| *k != "status" && *k != "error");
            for (i, (k, v)) in shown.enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{k}={v}")?;
            }
            Ok(())
        }
    }
    Pairs(args).to_string()
}

/// The top of a trace file: an array of events, or an object whose
/// `traceEvents` is one.
struct Top<'a>(&'a mut Trace);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of trace events, or an object with `traceEvents`")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<RawEvent>()? {
            self.0.push_raw(e).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "traceEvents" {
                map.next_value_seed(Top(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_as_a_stream_in_either_form() {
        let dir = std::env::temp_dir().join(format!("report-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let events = r#"[
          {"name": "thread_name", "cat": "__metadata", "ph": "M", "ts": 0, "pid": 0, "tid": 1, "args": {"name": "worker 0"}},
          {"name": "load", "cat": "task", "ph": "X", "ts": 0, "dur": 10, "pid": 0, "tid": 1,
           "args": {"key": "load-0", "deps": []}},
          {"name": "sum", "cat": "task", "ph": "X", "ts": 10, "dur": 0, "pid": 0, "tid": 1,
           "args": {"key": "sum-1", "deps": ["load-0"], "status": "cancelled", "error": "not run"}},
          {"name": "sq", "cat": "map", "ph": "X", "ts": 20, "dur": 3, "pid": 1, "tid": 2,
           "args": {"items": 4}}
        ]"#;
        for (name, text) in [
            ("a.json", events.to_string()),
            (
                "o.json",
                format!(r#"{{"displayTimeUnit": "ms", "traceEvents": {events}}}"#),
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            let t = Trace::read(&path).unwrap();
            assert_eq!((t.spans.len(), t.events()), (3, 4));
            assert_eq!(t.tasks.len(), 2);
            assert_eq!(&*t.keys[t.deps[t.tasks[1].deps.start] as usize], "load-0");
            assert_eq!(t.spans[1].status, Status::Cancelled);
            let d = &t.details[t.spans[1].detail as usize];
            assert_eq!(d.error.as_deref(), Some("not run"));
            // In key order.
            assert_eq!(d.text, r#"deps=["load-0"], key="sum-1""#);
            assert_eq!(t.details[t.spans[2].detail as usize].text, "items=4");
            assert_eq!(t.func(&t.spans[2]).cat, "map");
        }
        std::fs::write(dir.join("bad.json"), "[{\"ph\": 3}]").unwrap();
        assert!(Trace::read(dir.join("bad.json")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
