//! The trace file: started, flushed (a regular file is valid JSON after
//! every flush; a pipe or device is streamed), stopped, and read back.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::buffer::{collect, next_generation, wait_handed};
use super::event::Event;
use super::record::{enabled, ENABLED, EPOCH};
use super::sink::Sink;
use super::writer::{self, lock, raw, Then, Writer};

/// Environment variable that turns tracing on and names the output file.
pub const ENV_TRACE: &str = "PARALLEL_TRACE";

static ENV_CONSUMED: AtomicBool = AtomicBool::new(false);

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
    // An earlier trace still open is stopped first (its writer finishes).
    if let Some(earlier) = state.take() {
        let _ = earlier.finish(Vec::new());
    }
    *state = Some(Writer::spawn(Sink {
        path,
        file,
        seekable,
        generation: next_generation(),
        pending: Vec::new(),
        written: 0,
        named_threads: Default::default(),
    })?);
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

/// The file `PARALLEL_TRACE` names, to the first caller only: the variable
/// starts one trace for the whole run (a plain one, or this rank's part).
pub(super) fn claim_env() -> Option<OsString> {
    if ENV_CONSUMED.swap(true, Ordering::AcqRel) {
        return None;
    }
    std::env::var_os(ENV_TRACE).filter(|p| !p.is_empty())
}

/// Starts tracing if `PARALLEL_TRACE` names a file (called at the first
/// parallel call). The trace then lasts for the whole run.
pub(crate) fn start_from_env() {
    if let Some(path) = claim_env() {
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

/// One flush at a time, and none while the trace stops: a flush takes the
/// buffered events before it hands them to the writer, so a `stop` between
/// the two (a map ending on another thread flushes) would lose them.
static FLUSHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_flush() -> std::sync::MutexGuard<'static, ()> {
    FLUSHING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the events recorded so far and stops recording; returns when
/// the file is complete (everything handed to the trace's writer thread
/// written).
pub fn stop() -> std::io::Result<Option<PathBuf>> {
    ENABLED.store(false, Ordering::Release);
    let one = one_flush();
    let Some(generation) = lock().as_ref().map(|w| w.generation) else {
        return Ok(None);
    };
    let rest = raw(collect(generation));
    // Full buffers that threads took before the collect go to the writer,
    // still open for them: they may hold the events of a map that has
    // returned (a thread's buffer filled in a chunk of another map).
    wait_handed(&one);
    let Some(writer) = lock().take() else {
        return Ok(None);
    };
    // A later trace, which a `start` on another thread opened meanwhile
    // (finishing this one), stops too, without this one's events.
    let rest = if writer.generation == generation {
        rest
    } else {
        Vec::new()
    };
    writer.finish(rest).map(Some)
}

/// The file being written, if tracing is on.
pub fn path() -> Option<PathBuf> {
    lock().as_ref().map(|w| w.path.clone())
}

/// Appends the recorded events to the file, keeping it valid JSON: what
/// every thread has recorded so far, the pool's threads (which never
/// exit) and the threads that have exited included. Returns once they
/// are written.
pub fn flush() -> std::io::Result<()> {
    let one = one_flush();
    let Some(generation) = lock().as_ref().map(|w| w.generation) else {
        return Ok(());
    };
    let parts = raw(collect(generation));
    // As in `stop`: full buffers taken before the collect are handed first.
    wait_handed(&one);
    writer::write_now(generation, parts)
}

/// At the end of a top-level parallel call (not inside the pool): hands
/// the call's events to the trace's writer thread, which appends them to
/// the file while the program goes on (an error writing them is printed).
pub(crate) fn flush_if_top_level() {
    if enabled() && rayon::current_thread_index().is_none() {
        let _one = one_flush();
        let Some(generation) = lock().as_ref().map(|w| w.generation) else {
            return;
        };
        writer::hand(generation, raw(collect(generation)), Then::Write);
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
