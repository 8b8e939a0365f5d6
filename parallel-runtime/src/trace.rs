//! Traces: what ran, on which thread of which rank, from when to when.
//!
//! Turn tracing on for a whole run with `PARALLEL_TRACE=run.json`, or in code
//! with [`start`]. Every map chunk, every task of a graph and every
//! message-passing operation becomes one event of a
//! [Chrome trace-event](https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU)
//! JSON file, which opens in <https://ui.perfetto.dev> and `chrome://tracing`,
//! and in the HTML report of `parallel-report` (see `docs/observability.md`).
//!
//! The file is written at the end of every top-level parallel call (and by
//! [`flush`]), appending to what is there, so it is always valid JSON and
//! nothing is lost if the program stops later. With tracing off the whole
//! cost is one relaxed atomic load per map call, chunk of a reduction or task.
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

use std::cell::Cell;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Environment variable that turns tracing on and names the output file.
pub const ENV_TRACE: &str = "PARALLEL_TRACE";

static ENABLED: AtomicBool = AtomicBool::new(false);
static ENV_CONSUMED: AtomicBool = AtomicBool::new(false);
/// Under MPI: the file every rank's part is merged into (by rank 0).
static MERGED_PATH: Mutex<Option<PathBuf>> = Mutex::new(None);
/// Under MPI: this rank's clock when all ranks left the start-up barrier.
static SYNC_US: Mutex<f64> = Mutex::new(0.0);
static RANK: AtomicU32 = AtomicU32::new(0);
static STATE: Mutex<Option<Sink>> = Mutex::new(None);
static EPOCH: OnceLock<Instant> = OnceLock::new();

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

struct Sink {
    path: PathBuf,
    file: File,
    /// A regular file, rewritten in place to stay valid JSON; otherwise a
    /// pipe or device, streamed and closed at the end.
    seekable: bool,
    events: Vec<Event>,
    written: usize,
    named_threads: std::collections::BTreeSet<(u32, u32)>,
}

/// Stops tracing and writes what is left when dropped (see [`start`]).
#[derive(Debug)]
#[must_use = "tracing stops when the guard is dropped"]
pub struct TraceGuard(());

impl Drop for TraceGuard {
    fn drop(&mut self) {
        let _ = stop();
    }
}

/// Starts recording into `path` (created or truncated; a pipe or device
/// such as `/dev/stdout` is streamed to). Tracing stops, and the file is
/// complete, when the returned guard is dropped.
pub fn start(path: impl AsRef<Path>) -> std::io::Result<TraceGuard> {
    let path = path.as_ref().to_path_buf();
    let mut file = File::create(&path)?;
    let seekable = file.metadata()?.is_file();
    // A regular file is closed at once and reopened at each flush; a
    // stream gets its `]` when tracing stops.
    file.write_all(if seekable { b"[\n]\n" } else { b"[\n" })?;
    file.flush()?;
    EPOCH.get_or_init(Instant::now);
    let mut state = lock();
    *state = Some(Sink {
        path,
        file,
        seekable,
        events: Vec::new(),
        written: 0,
        named_threads: Default::default(),
    });
    ENABLED.store(true, Ordering::Release);
    Ok(TraceGuard(()))
}

/// For a trace that lasts for the whole run (`PARALLEL_TRACE`): writes
/// what is left, and a stream's closing `]`, when the process exits.
fn stop_at_exit() {
    #[cfg(unix)]
    {
        static REGISTERED: AtomicBool = AtomicBool::new(false);
        extern "C" fn at_exit() {
            // Nothing may unwind out of an `extern "C"` function.
            let _ = std::panic::catch_unwind(stop);
        }
        if !REGISTERED.swap(true, Ordering::AcqRel) {
            // SAFETY: `at_exit` is a plain function that lives as long as the
            // program; registering it has no other precondition.
            unsafe {
                libc::atexit(at_exit);
            }
        }
    }
}

/// Starts tracing if `PARALLEL_TRACE` names a file (called at the first
/// parallel call). The trace then lasts for the whole run.
pub(crate) fn start_from_env() {
    if ENV_CONSUMED.swap(true, Ordering::AcqRel) {
        return;
    }
    if let Some(path) = std::env::var_os(ENV_TRACE).filter(|p| !p.is_empty()) {
        match start(&path) {
            Ok(guard) => {
                std::mem::forget(guard);
                stop_at_exit();
            }
            Err(e) => eprintln!(
                "parallel-runtime: cannot write the trace file {} named by {ENV_TRACE}: {e}",
                Path::new(&path).display()
            ),
        }
    }
}

/// What [`start_for_rank`] did with this rank's part of a merged trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RankPart {
    /// No `PARALLEL_TRACE` (or a job of one rank, traced as a plain run).
    NotRequested,
    /// The part is open and recording.
    Opened,
    /// The part could not be opened: the error, naming the file.
    Failed(String),
}

/// Under `#[mpi_main]`: records events as rank `rank`, and when
/// `PARALLEL_TRACE` is set in a job of several ranks, writes this rank's
/// events to `<trace>.rank<R>.part` (in the temporary directory when the
/// trace goes to a pipe or device) for [`merge_parts`] to join.
///
/// The ranks must then agree, with one collective call, that every part is
/// open: a rank that failed alone would otherwise skip the start-up barrier
/// and the final merge that the others make ([`abandon_part`] turns a
/// rank's part off when any rank failed).
pub(crate) fn start_for_rank(rank: u32, size: u32) -> RankPart {
    set_rank(rank);
    if size < 2 {
        start_from_env();
        return RankPart::NotRequested;
    }
    if ENV_CONSUMED.swap(true, Ordering::AcqRel) {
        return RankPart::NotRequested;
    }
    let Some(path) = std::env::var_os(ENV_TRACE).filter(|p| !p.is_empty()) else {
        return RankPart::NotRequested;
    };
    let path = PathBuf::from(path);
    let part = part_path(&path, rank);
    match start(&part) {
        Ok(guard) => {
            std::mem::forget(guard);
            *MERGED_PATH.lock().unwrap_or_else(|p| p.into_inner()) = Some(path);
            RankPart::Opened
        }
        Err(e) => RankPart::Failed(format!(
            "cannot write the trace part {}: {e}",
            part.display()
        )),
    }
}

/// Stops this rank's part of a merged trace and removes it: another rank
/// could not open its own, so nothing will be merged.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn abandon_part() {
    MERGED_PATH.lock().unwrap_or_else(|p| p.into_inner()).take();
    ENABLED.store(false, Ordering::Release);
    if let Some(sink) = lock().take() {
        let _ = std::fs::remove_file(sink.path);
    }
}

/// Where rank `rank` keeps its part of the trace `path`: beside it, or in
/// the temporary directory when `path` is a pipe or device (`/dev/stdout`),
/// beside which nothing can be created.
fn part_path(path: &Path, rank: u32) -> PathBuf {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    let mut name = if special {
        std::env::temp_dir()
            .join(format!("parallel-trace-{}", std::process::id()))
            .into_os_string()
    } else {
        path.as_os_str().to_owned()
    };
    name.push(format!(".rank{rank}.part"));
    PathBuf::from(name)
}

/// Whether this rank's trace part is to be merged at the end.
pub(crate) fn merging() -> bool {
    MERGED_PATH
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_some()
}

/// Notes this rank's clock as all ranks leave a barrier, to align clocks.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn mark_sync() {
    *SYNC_US.lock().unwrap_or_else(|p| p.into_inner()) = now_us();
}

/// At the end of an `#[mpi_main]` program: every rank sends its events to
/// rank 0, which writes them into the one trace file, one track group per
/// rank, each rank's clock shifted so the start-up barrier lines up.
pub(crate) fn merge_parts(world: &crate::mpi::Comm) -> std::io::Result<()> {
    let Some(merged) = MERGED_PATH.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return Ok(());
    };
    let part = stop()?;
    let events = match &part {
        Some(p) => read(p)?,
        None => Vec::new(),
    };
    let sync = *SYNC_US.lock().unwrap_or_else(|p| p.into_inner());
    // As JSON text: the arguments are free-form JSON values, which compact
    // binary codecs do not carry.
    let events = serde_json::to_string(&events).map_err(std::io::Error::other)?;
    let all = world
        .gather(0, &(sync, events))
        .map_err(std::io::Error::other)?;
    if let Some(p) = &part {
        let _ = std::fs::remove_file(p);
    }
    let Some(all) = all else { return Ok(()) };
    let base = all.first().map_or(0.0, |(s, _)| *s);
    let mut text = Vec::from(&b"[\n"[..]);
    let mut first = true;
    for (sync, events) in all {
        let events: Vec<Event> = serde_json::from_str(&events).map_err(std::io::Error::other)?;
        for mut e in events {
            if e.ph == "X" {
                e.ts += base - sync;
            }
            if !first {
                text.extend_from_slice(b",\n");
            }
            first = false;
            serde_json::to_writer(&mut text, &e).map_err(std::io::Error::other)?;
        }
    }
    text.extend_from_slice(b"\n]\n");
    std::fs::write(&merged, text)
}

/// Writes the events recorded so far and stops recording.
pub fn stop() -> std::io::Result<Option<PathBuf>> {
    ENABLED.store(false, Ordering::Release);
    flush()?;
    let Some(mut sink) = lock().take() else {
        return Ok(None);
    };
    if !sink.seekable {
        sink.file.write_all(b"]\n")?;
        sink.file.flush()?;
    }
    Ok(Some(sink.path))
}

/// The file being written, if tracing is on.
pub fn path() -> Option<PathBuf> {
    lock().as_ref().map(|s| s.path.clone())
}

/// Sets the rank recorded in events (`pid`), for MPI jobs.
pub fn set_rank(rank: u32) {
    RANK.store(rank, Ordering::Relaxed);
}

fn lock() -> std::sync::MutexGuard<'static, Option<Sink>> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

fn current_tid() -> u32 {
    rayon::current_thread_index().map_or(0, |i| i as u32 + 1)
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
        let thread = if tid == 0 {
            "main".to_string()
        } else {
            format!("worker {}", tid - 1)
        };
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

/// Appends the recorded events to the file, keeping it valid JSON.
pub fn flush() -> std::io::Result<()> {
    let mut state = lock();
    let Some(sink) = state.as_mut() else {
        return Ok(());
    };
    if sink.events.is_empty() {
        return Ok(());
    }
    let mut text = Vec::new();
    for e in sink.events.drain(..) {
        // A stream puts the comma before each later event and ends every
        // line: what else the program writes there lands on its own lines.
        match (sink.written > 0, sink.seekable) {
            (true, true) => text.extend_from_slice(b",\n"),
            (true, false) => text.push(b','),
            (false, _) => {}
        }
        serde_json::to_writer(&mut text, &e).map_err(std::io::Error::other)?;
        if !sink.seekable {
            text.push(b'\n');
        }
        sink.written += 1;
    }
    if sink.seekable {
        // Overwrite the closing "]\n" with the new events and close again.
        sink.file.seek(SeekFrom::End(-2))?;
        sink.file.write_all(&text)?;
        sink.file.write_all(b"\n]\n")?;
    } else {
        sink.file.write_all(&text)?;
    }
    sink.file.flush()?;
    Ok(())
}

/// Flushes at the end of a top-level parallel call (not inside the pool).
pub(crate) fn flush_if_top_level() {
    if enabled() && rayon::current_thread_index().is_none() {
        if let Err(e) = flush() {
            eprintln!("parallel-runtime: cannot write the trace: {e}");
        }
    }
}

/// Reads a trace file written by this module (or any Chrome trace-event
/// JSON array, or object with `traceEvents`).
pub fn read(path: impl AsRef<Path>) -> std::io::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)?;
    parse(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Parses trace-event JSON.
pub fn parse(text: &str) -> Result<Vec<Event>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum File {
        Array(Vec<Event>),
        Object {
            #[serde(rename = "traceEvents")]
            trace_events: Vec<Event>,
        },
    }
    Ok(match serde_json::from_str::<File>(text)? {
        File::Array(v) => v,
        File::Object { trace_events } => trace_events,
    })
}

/// Records one task of a graph: its key, its dependencies' keys, and the
/// dependency that finished last (the one it waited for).
#[allow(dead_code)] // called by the graph executor
pub(crate) fn task_event(
    name: &str,
    key: String,
    deps: Vec<String>,
    waited_on: Option<String>,
    start_us: f64,
    end_us: f64,
) {
    let mut args = serde_json::Map::new();
    args.insert("key".into(), key.into());
    args.insert("deps".into(), deps.into());
    if let Some(w) = waited_on {
        args.insert("waited_on".into(), w.into());
    }
    record(name, "task", start_us, end_us, args);
}

/// A message-passing operation in progress: recorded in the trace when
/// dropped (if tracing), and published to the hang watchdog while it lasts
/// (if one watches).
pub(crate) struct OpSpan {
    trace: Option<(&'static str, f64)>,
    watched: bool,
}

/// Starts the span of one communicator operation: one relaxed load and
/// branch each for tracing and for the watchdog when they are off.
#[inline]
pub(crate) fn op_span(op: &'static str) -> OpSpan {
    let watched = WATCHED.load(Ordering::Relaxed);
    if watched {
        activity_enter(op);
    }
    OpSpan {
        trace: enabled().then(|| (op, now_us())),
        watched,
    }
}

impl Drop for OpSpan {
    #[inline]
    fn drop(&mut self) {
        if let Some((op, start)) = self.trace {
            record(op, "mpi", start, now_us(), serde_json::Map::new());
        }
        if self.watched {
            activity_exit();
        }
    }
}

// ----- what this rank waits in, for the hang watchdog ---------------------
//
// A few atomics, written on entry to and exit from the outermost
// communicator operation of each thread (`recv` calls `recv_status`: the
// user's `recv` is what is published) and read every few tens of
// milliseconds by the watchdog thread (`crate::mpi::watchdog`). No clock is
// read on the hot path: the watchdog times an operation from the first poll
// that sees its sequence number in flight. Several threads of one rank
// share them: the rank counts as waiting while any thread is inside an
// operation, and any new operation counts as progress.

/// Whether a watchdog reads the activity (set once, at start-up).
static WATCHED: AtomicBool = AtomicBool::new(false);
/// In one word, so that entering costs one atomic add and leaving one
/// subtraction: the number of outermost operations entered so far (a
/// change is progress) above [`SEQ_SHIFT`], and the operations in flight
/// (one per thread at most) below it.
static OP_STATE: AtomicU64 = AtomicU64::new(0);
const SEQ_SHIFT: u32 = 20;
/// The name of the last operation entered, up to 16 bytes.
static OP_NAME: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

thread_local! {
    static NESTING: Cell<u32> = const { Cell::new(0) };
}

/// Publishes communicator operations from now on (the watchdog is running).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn watch_activity() {
    WATCHED.store(true, Ordering::Release);
}

#[inline]
fn activity_enter(op: &'static str) {
    let depth = NESTING.with(|n| {
        let d = n.get();
        n.set(d + 1);
        d
    });
    if depth == 0 {
        let mut name = [0u8; 16];
        let n = op.len().min(16);
        name[..n].copy_from_slice(&op.as_bytes()[..n]);
        let (a, b) = name.split_at(8);
        OP_NAME[0].store(
            u64::from_ne_bytes(a.try_into().unwrap_or_default()),
            Ordering::Relaxed,
        );
        OP_NAME[1].store(
            u64::from_ne_bytes(b.try_into().unwrap_or_default()),
            Ordering::Relaxed,
        );
        OP_STATE.fetch_add((1 << SEQ_SHIFT) + 1, Ordering::Release);
    }
}

#[inline]
fn activity_exit() {
    let depth = NESTING.with(|n| {
        let d = n.get().saturating_sub(1);
        n.set(d);
        d
    });
    if depth == 0 {
        OP_STATE.fetch_sub(1, Ordering::Release);
    }
}

/// This process's communicator operation, as the watchdog sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Activity {
    /// Whether some thread is inside a communicator operation.
    pub(crate) in_flight: bool,
    /// The sequence number of the last operation entered: a change is progress.
    pub(crate) seq: u64,
    /// Its name (`recv`, `barrier`…).
    pub(crate) op: String,
}

/// Reads the published activity. The name may be a moment stale when
/// another operation starts during the read; the sequence number is what
/// tells progress apart from waiting.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn activity() -> Activity {
    let state = OP_STATE.load(Ordering::Acquire);
    let seq = state >> SEQ_SHIFT;
    let in_flight = state & ((1 << SEQ_SHIFT) - 1) > 0;
    let mut name = [0u8; 16];
    name[..8].copy_from_slice(&OP_NAME[0].load(Ordering::Relaxed).to_ne_bytes());
    name[8..].copy_from_slice(&OP_NAME[1].load(Ordering::Relaxed).to_ne_bytes());
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Activity {
        in_flight,
        seq,
        op: String::from_utf8_lossy(&name[..end]).into_owned(),
    }
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
        record(self.name, self.cat, self.start, now_us(), args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tracing and the activity are process-wide: these tests take turns
    /// (a span of one would land in the trace of another).
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn activity_publishes_the_outermost_operation_while_it_lasts() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        watch_activity();
        let before = activity().seq;
        {
            let _outer = op_span("recv");
            {
                let _inner = op_span("recv_status");
                let a = activity();
                assert!(a.in_flight);
                assert_eq!(a.op, "recv");
            }
            let a = activity();
            assert!(
                a.in_flight && a.op == "recv" && a.seq == before + 1,
                "{a:?}"
            );
        }
        assert!(!activity().in_flight);
        {
            let _long = op_span("all_reduce_with_a_long_name");
            assert_eq!(activity().op, "all_reduce_with_");
        }
        assert_eq!(activity().seq, before + 2);
    }

    /// The cost of publishing an operation, printed for the record
    /// (`cargo test -p parallel-runtime --release --lib -- op_span_cost --nocapture`).
    #[test]
    fn op_span_cost() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let n = 2_000_000u32;
        let time = |watched: bool| {
            WATCHED.store(watched, Ordering::Relaxed);
            let t = Instant::now();
            for _ in 0..n {
                let s = op_span(std::hint::black_box("send"));
                std::hint::black_box(&s);
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        };
        let (off, on) = (time(false), time(true));
        WATCHED.store(true, Ordering::Relaxed);
        println!("op_span: {off:.1} ns with the watchdog off, {on:.1} ns with it on");
        // Generous: a debug build on a loaded machine.
        assert!(on < 2_000.0, "{on} ns");
    }

    #[test]
    fn file_is_valid_json_after_every_flush() {
        let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("trace-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.json");
        let guard = start(&path).unwrap();
        assert!(read(&path).unwrap().is_empty());
        record("a", "map", 1.0, 2.0, Default::default());
        flush().unwrap();
        let first = read(&path).unwrap();
        assert_eq!(first.iter().filter(|e| e.ph == "X").count(), 1);
        {
            let mut c = ChunkSpan::start("b", "map");
            c.item(3);
            c.item(5);
        }
        drop(guard);
        let all = read(&path).unwrap();
        let spans: Vec<_> = all.iter().filter(|e| e.ph == "X").collect();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[1].args["first_item"], 3);
        assert_eq!(spans[1].args["items"], 2);
        assert!(!enabled());
    }
}
