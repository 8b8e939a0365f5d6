//! The spans of a trace, held compactly: a trace of a million events is
//! read as a stream (never whole in memory, never as a million JSON maps)
//! into about 40 bytes per span, the function names and task keys
//! interned, and the details (`args`) of a bounded number of spans kept as
//! text for the page.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
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
    /// The map call or compute it belongs to (`args.call`, written by the
    /// runtime since issue 13), or 0 in a trace without call ids.
    pub(crate) call: u64,
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
}

/// Whether `args` (JSON text) say `"first_item": 0`, read without parsing
/// them (a million chunks each have one).
fn first_item_is_zero(args: &str) -> bool {
    uint_arg(args, "\"first_item\"") == Some(0)
}

/// The whole number that `args` (JSON text, an object of scalars and
/// arrays of strings) give the key `quoted` (with its quotes), read without
/// parsing them; `None` if there is none, or it is not a plain unsigned
/// integer (`01`, `0.5`, `-1`, `"3"`). A key inside a string cannot match:
/// its quotes are escaped there.
fn uint_arg(args: &str, quoted: &str) -> Option<u64> {
    let at = args.find(quoted)?;
    let value = args[at + quoted.len()..].trim_start();
    let value = value.strip_prefix(':')?.trim_start();
    let digits = value.len() - value.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (number, rest) = value.split_at(digits);
    let plain = !number.is_empty()
        && (number == "0" || !number.starts_with('0'))
        && !rest.starts_with(['.', 'e', 'E']);
    plain.then(|| number.parse().ok()).flatten()
}

/// One event as read from the file, borrowing its strings from the text;
/// its `args` stay JSON text until needed.
#[derive(serde::Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    cat: Cow<'a, str>,
    #[serde(borrow, default)]
    ph: Cow<'a, str>,
    #[serde(default)]
    ts: f64,
    #[serde(default)]
    dur: f64,
    #[serde(default)]
    pid: u32,
    #[serde(default)]
    tid: u32,
    #[serde(borrow)]
    args: Option<&'a RawValue>,
}

impl Trace {
    /// Reads a trace file: a JSON array of trace events (what the runtime
    /// writes) as a stream, one event at a time; an object with
    /// `traceEvents` (another tool's form) whole.
    pub fn read(path: impl AsRef<Path>) -> std::io::Result<Trace> {
        let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
        let mut trace = Trace::default();
        let first = loop {
            let buf = file.fill_buf()?;
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(at) => {
                    let b = buf[at];
                    file.consume(at);
                    break Some(b);
                }
                None if buf.is_empty() => break None,
                None => {
                    let n = buf.len();
                    file.consume(n);
                }
            }
        };
        if first == Some(b'[') {
            file.consume(1);
            stream_array(file, |event| trace.push_text(event))?;
        } else {
            let mut text = Vec::new();
            file.read_to_end(&mut text)?;
            let mut de = serde_json::Deserializer::from_slice(&text);
            Top(&mut trace).deserialize(&mut de)?;
            de.end()?;
        }
        Ok(trace)
    }

    /// The compact form of events already in memory (through the same
    /// path as a file's).
    pub fn from_events(events: &[Event]) -> Trace {
        let mut trace = Trace::default();
        for e in events {
            let args = serde_json::value::to_raw_value(&e.args).ok();
            let raw = RawEvent {
                name: Cow::Borrowed(&e.name),
                cat: Cow::Borrowed(&e.cat),
                ph: Cow::Borrowed(&e.ph),
                ts: e.ts,
                dur: e.dur,
                pid: e.pid,
                tid: e.tid,
                args: args.as_deref(),
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

    /// Adds the event whose JSON text is `text`.
    fn push_text(&mut self, text: &[u8]) -> serde_json::Result<()> {
        self.push_raw(serde_json::from_slice(text)?)
    }

    fn push_raw(&mut self, e: RawEvent<'_>) -> serde_json::Result<()> {
        if e.ph != "X" {
            self.other_events += 1;
            return Ok(());
        }
        let raw = e.args.map_or("{}", RawValue::get);
        let task = e.cat == "task";
        let args = if task || raw.contains("\"status\"") {
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
        let (name, cat) = (&*e.name, &*e.cat);
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
            ts: e.ts,
            dur: e.dur.max(0.0),
            pid: e.pid,
            tid: e.tid,
            func,
            status,
            first: first_item_is_zero(raw),
            detail,
            task,
            call: uint_arg(raw, "\"call\"").unwrap_or(0),
        });
        Ok(())
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
/// status and error (shown apart) and the call id (its section says it).
fn detail_text(args: &Map<String, Value>) -> String {
    struct Pairs<'a>(&'a Map<String, Value>);
    impl fmt::Display for Pairs<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let shown = self
                .0
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "status" | "error" | "call"));
            for (i, (k, v)) in shown.enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{k}={v}")?;
            }
            Ok(())
        }
    }
    Pairs(args).to_string()
}

/// Calls `event` with the text of each element of a JSON array whose `[`
/// was read already, one element at a time: only the element being read is
/// held (an element that straddles two reads is copied once). The elements
/// are found by their brackets, outside strings; each is then parsed from
/// its slice, which is several times faster than parsing from a reader.
fn stream_array(
    mut file: impl BufRead,
    mut event: impl FnMut(&[u8]) -> serde_json::Result<()>,
) -> std::io::Result<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let buf = file.fill_buf()?;
        if buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the trace ends inside its array (no closing `]`)",
            ));
        }
        let n = buf.len();
        let mut start = (depth > 0).then_some(0);
        let mut done = false;
        for (i, &b) in buf.iter().enumerate() {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    if depth == 0 {
                        start = Some(i);
                    }
                    depth += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        let from = start.take().unwrap_or(0);
                        let text = if pending.is_empty() {
                            &buf[from..=i]
                        } else {
                            pending.extend_from_slice(&buf[from..=i]);
                            &pending[..]
                        };
                        event(text).map_err(std::io::Error::from)?;
                        pending.clear();
                    }
                }
                b']' => {
                    done = true;
                    break;
                }
                b',' if depth == 0 => {}
                b if depth == 0 && !b.is_ascii_whitespace() => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("a trace event is not an object (found `{}`)", b as char),
                    ));
                }
                _ => {}
            }
        }
        if let Some(from) = start {
            pending.extend_from_slice(&buf[from..]);
        }
        if done {
            return Ok(());
        }
        file.consume(n);
    }
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
        while let Some(e) = seq.next_element::<RawEvent<'de>>()? {
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
        for bad in ["[{\"ph\": 3}]", "[1]", "[{\"ph\": \"X\"}"] {
            std::fs::write(dir.join("bad.json"), bad).unwrap();
            assert!(Trace::read(dir.join("bad.json")).is_err(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Elements are found whole whatever the reads cut, and brackets in
    /// strings (escaped quotes too) do not count.
    #[test]
    fn elements_straddling_reads_and_brackets_in_strings() {
        let text =
            br#" {"name": "a]}\"{[", "args": {"k": [1, {"x": "]"}]}} , {"name": "b"} ] trailing"#;
        for capacity in [1, 2, 3, 7, 64, 1 << 10] {
            let mut seen = Vec::new();
            let reader = BufReader::with_capacity(capacity, &text[..]);
            stream_array(reader, |e| {
                let v: Value = serde_json::from_slice(e)?;
                seen.push(v["name"].as_str().unwrap_or_default().to_owned());
                Ok(())
            })
            .unwrap();
            assert_eq!(seen, ["a]}\"{[", "b"], "capacity {capacity}");
        }
    }

    #[test]
    fn the_first_chunk_of_a_map_is_told_without_parsing() {
        for (args, zero) in [
            (r#"{"first_item":0,"items":3}"#, true),
            (r#"{"first_item" : 0}"#, true),
            (r#"{"first_item":01}"#, false),
            (r#"{"first_item":10,"items":3}"#, false),
            (r#"{"first_item":0.5}"#, false),
            (r#"{"items":0}"#, false),
        ] {
            assert_eq!(first_item_is_zero(args), zero, "{args}");
        }
    }

    #[test]
    fn the_call_id_is_read_without_parsing() {
        for (args, call) in [
            (r#"{"call":12,"first_item":0,"items":3}"#, Some(12)),
            (r#"{"call" : 7 }"#, Some(7)),
            (r#"{"call":0}"#, Some(0)),
            (r#"{"key":"call","deps":[]}"#, None),
            (r#"{"key":"a\"call\":3","deps":[]}"#, None),
            (r#"{"call":"3"}"#, None),
            (r#"{"call":1.5}"#, None),
            (r#"{"call":-1}"#, None),
            (r#"{"items":3}"#, None),
        ] {
            assert_eq!(uint_arg(args, "\"call\""), call, "{args}");
        }
    }
}
