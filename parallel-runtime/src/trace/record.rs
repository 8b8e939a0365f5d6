//! Recording: the switch that tracing costs when off, the trace's clock, and
//! the events that spans (chunks of a map, tasks of a graph) add to the open
//! trace until it is flushed.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

pub(super) static ENABLED: AtomicBool = AtomicBool::new(false);
static RANK: AtomicU32 = AtomicU32::new(0);
static STATE: Mutex<Option<Sink>> = Mutex::new(None);
pub(super) static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Whether events are being recorded: the one branch tracing costs when off.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Microseconds since the trace's epoch.
pub(crate) fn now_us() -> f64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e6
}

/// One complete event ("ph": "X").
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// What ran: the function's name, or the operation's.
    pub name: String,
    /// `map`, `reduce`, `task` or `mpi`.
    pub cat: String,
    /// Always `"X"` (complete event) for spans, `"M"` for metadata.
    pub ph: String,
    /// Start, in microseconds since the trace's epoch.
    pub ts: f64,
    /// Duration in microseconds.
    #[serde(default)]
    pub dur: f64,
    /// The rank (0 outside MPI).
    pub pid: u32,
    /// The thread: 0 for a thread outside the pool, 1 + index for workers.
    pub tid: u32,
    /// Details: items of a chunk, key and dependencies of a task, bytes of
    /// a message.
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
}

/// The open trace: the file, and the events recorded since the last flush.
pub(super) struct Sink {
    pub(super) path: PathBuf,
    pub(super) file: File,
    /// A regular file, rewritten in place to stay valid JSON; otherwise a
    /// pipe or device, streamed and closed at the end.
    pub(super) seekable: bool,
    pub(super) events: Vec<Event>,
    pub(super) written: usize,
    pub(super) named_threads: BTreeSet<(u32, u32)>,
}

/// Sets the rank recorded in events (`pid`), for MPI jobs.
pub fn set_rank(rank: u32) {
    RANK.store(rank, Ordering::Relaxed);
}

/// The open trace, if tracing is on.
pub(super) fn lock() -> MutexGuard<'static, Option<Sink>> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

fn current_tid() -> u32 {
    rayon::current_thread_index().map_or(0, |i| i as u32 + 1)
}

/// The name of the thread `tid` of a trace (the `tid` of its events), as
/// the trace writes it in its `thread_name` entries and the report labels
/// its tracks: `main` for a thread outside the pool (0), `worker i` for
/// the pool's worker `i` (`tid` `i + 1`).
pub fn thread_name(tid: u32) -> String {
    if tid == 0 {
        "main".to_string()
    } else {
        format!("worker {}", tid - 1)
    }
}

/// Records one complete event.
pub(crate) fn record(
    name: &str,
    cat: &'static str,
    start_us: f64,
    end_us: f64,
    args: serde_json::Map<String, serde_json::Value>,
) {
    let (pid, tid) = (RANK.load(Ordering::Relaxed), current_tid());
    let mut state = lock();
    let Some(sink) = state.as_mut() else { return };
    if sink.named_threads.insert((pid, tid)) {
        let thread = thread_name(tid);
        for (name, value) in [
            ("process_name", format!("rank {pid}")),
            ("thread_name", thread),
        ] {
            let mut a = serde_json::Map::new();
            a.insert("name".into(), value.into());
            sink.events.push(Event {
                name: name.into(),
                cat: "__metadata".into(),
                ph: "M".into(),
                ts: 0.0,
                dur: 0.0,
                pid,
                tid,
                args: a,
            });
        }
    }
    sink.events.push(Event {
        name: name.to_owned(),
        cat: cat.to_owned(),
        ph: "X".into(),
        ts: start_us,
        dur: (end_us - start_us).max(0.0),
        pid,
        tid,
        args,
    });
}

/// Records one task of a graph: its key, its dependencies' keys, the
/// dependency that finished last (the one it waited for), and, for a task
/// that did not succeed, its [`Outcome`].
pub(crate) fn task_event(
    name: &str,
    key: String,
    deps: Vec<String>,
    waited_on: Option<String>,
    outcome: Option<Outcome>,
    start_us: f64,
    end_us: f64,
) {
    let mut args = serde_json::Map::new();
    args.insert("key".into(), key.into());
    args.insert("deps".into(), deps.into());
    if let Some(w) = waited_on {
        args.insert("waited_on".into(), w.into());
    }
    if let Some(outcome) = outcome {
        outcome.write(&mut args);
    }
    record(name, "task", start_us, end_us, args);
}

/// How a task or an item that did not succeed ended, as its event says
/// (`args.status` and `args.error`), so that a report can mark it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// `failed` (returned an error), `panicked`, or `cancelled` (an input
    /// failed, so it never ran).
    pub(crate) status: &'static str,
    /// What went wrong, in words.
    pub(crate) error: String,
}

impl Outcome {
    fn write(self, args: &mut serde_json::Map<String, serde_json::Value>) {
        args.insert("status".into(), self.status.into());
        args.insert("error".into(), self.error.into());
    }
}

thread_local! {
    /// The first item of the chunk running on this thread that did not
    /// succeed, for the chunk's event ([`ChunkSpan`]'s drop takes it).
    static ITEM_FAILURE: std::cell::RefCell<Option<(usize, Outcome)>> =
        const { std::cell::RefCell::new(None) };
}

/// Notes that item `index` of the chunk running on this thread failed
/// (`status` `failed`) or panicked: its chunk's event will say so. Called on
/// the failure path only; nothing is kept when tracing is off.
#[cold]
pub(crate) fn item_failed(index: usize, status: &'static str, error: Option<&str>) {
    if !enabled() {
        return;
    }
    let error = match error {
        Some(e) => format!("item {index}: {e}"),
        None if status == "panicked" => format!("item {index} panicked"),
        None => format!("item {index} returned an error"),
    };
    ITEM_FAILURE.with(|f| {
        f.borrow_mut()
            .get_or_insert((index, Outcome { status, error }));
    });
}

/// A chunk of a map being traced: created when a piece of work starts,
/// recorded when it is dropped.
pub(crate) struct ChunkSpan {
    name: &'static str,
    cat: &'static str,
    start: f64,
    first: usize,
    last: usize,
    items: usize,
}

impl ChunkSpan {
    pub(crate) fn start(name: &'static str, cat: &'static str) -> Self {
        ChunkSpan {
            name,
            cat,
            start: now_us(),
            first: usize::MAX,
            last: 0,
            items: 0,
        }
    }

    #[inline]
    pub(crate) fn item(&mut self, index: usize) {
        self.first = self.first.min(index);
        self.last = self.last.max(index);
        self.items += 1;
    }
}

impl Drop for ChunkSpan {
    fn drop(&mut self) {
        if self.items == 0 {
            return;
        }
        let mut args = serde_json::Map::new();
        args.insert("first_item".into(), self.first.into());
        args.insert("last_item".into(), self.last.into());
        args.insert("items".into(), self.items.into());
        // An item of this chunk failed or panicked (issue 13: failures
        // visible in the report); a chunk dropped while unwinding from a
        // panic that no item noted is marked too.
        let failure = ITEM_FAILURE.with(|f| f.borrow_mut().take());
        match failure {
            Some((index, outcome)) => {
                args.insert("failed_item".into(), index.into());
                outcome.write(&mut args);
            }
            None if std::thread::panicking() => Outcome {
                status: "panicked",
                error: format!(
                    "a panic unwound through items {}..={}",
                    self.first, self.last
                ),
            }
            .write(&mut args),
            None => {}
        }
        crate::dashboard::chunk(self.name, self.cat, now_us() - self.start, self.items); // live view
        record(self.name, self.cat, self.start, now_us(), args);
    }
}
