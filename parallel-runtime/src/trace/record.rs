//! Recording: the switch that tracing costs when off, the trace's clock,
//! and the events that spans (chunks of a map, tasks of a graph) record
//! into their thread's buffer until it is flushed.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use super::buffer::emit;
use super::event::{current_tid, rank, Args, Raw};
use super::spans;

pub(super) static ENABLED: AtomicBool = AtomicBool::new(false);
pub(super) static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Whether events are being recorded: the one branch tracing costs when off.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether the chunks of a map are to be timed: a trace is being
/// recorded, or (with the `tracing` feature) a `tracing` subscriber wants
/// our spans.
#[inline(always)]
pub(crate) fn chunks_wanted() -> bool {
    enabled() || spans::wanted()
}

/// The next call's id (see [`next_call`]).
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for a map call or a compute that starts now, which
/// its events carry (`args.call`) so that the report draws each call as a
/// section of its own, however closely calls follow or overlap each other.
/// 0 (no id, nothing recorded) when tracing is off.
#[inline]
pub(crate) fn next_call() -> u64 {
    if enabled() {
        NEXT_CALL.fetch_add(1, Ordering::Relaxed)
    } else {
        0
    }
}

/// Microseconds since the trace's epoch.
pub(crate) fn now_us() -> f64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e6
}

/// Records one complete event, if a trace is being recorded.
#[inline]
fn push(name: Cow<'static, str>, cat: &'static str, start_us: f64, end_us: f64, args: Args) {
    if !enabled() {
        return;
    }
    emit(Raw {
        name,
        cat,
        ts: start_us,
        dur: (end_us - start_us).max(0.0),
        pid: rank(),
        tid: current_tid(),
        args,
    });
}

/// Records one complete event with free-form details.
pub(crate) fn record(
    name: &str,
    cat: &'static str,
    start_us: f64,
    end_us: f64,
    args: serde_json::Map<String, serde_json::Value>,
) {
    let args = if args.is_empty() {
        Args::None
    } else {
        Args::Map(Box::new(args))
    };
    if enabled() {
        push(Cow::Owned(name.to_owned()), cat, start_us, end_us, args);
    }
}

/// Records one communicator operation `op` (no allocation).
pub(super) fn op_event(op: &'static str, start_us: f64, end_us: f64) {
    push(Cow::Borrowed(op), "mpi", start_us, end_us, Args::None);
}

/// Records one task of a graph: its key, its dependencies' keys, the
/// dependency that finished last (the one it waited for), and, for a task
/// that did not succeed, its [`Outcome`]; `call` is its compute's id
/// ([`next_call`], 0 for none).
#[allow(clippy::too_many_arguments)]
pub(crate) fn task_event(
    call: u64,
    name: &str,
    key: String,
    deps: Vec<String>,
    waited_on: Option<String>,
    outcome: Option<Outcome>,
    start_us: f64,
    end_us: f64,
) {
    let mut args = serde_json::Map::new();
    if call != 0 {
        args.insert("call".into(), call.into());
    }
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
/// recorded when it is dropped (and, with the `tracing` feature, a span
/// of the `tracing` crate while it lasts).
pub(crate) struct ChunkSpan {
    /// The map call's id ([`next_call`], 0 for none).
    call: u64,
    name: &'static str,
    cat: &'static str,
    start: f64,
    first: usize,
    last: usize,
    items: usize,
    span: spans::Entered,
}

impl ChunkSpan {
    pub(crate) fn start(call: u64, name: &'static str, cat: &'static str) -> Self {
        ChunkSpan {
            call,
            name,
            cat,
            span: spans::chunk(name, cat),
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

    /// Notes item `index` of a chunk whose items come one after another in
    /// increasing order (a job rayon cut from a range, a piece of a
    /// schedule), never mixed with [`item`](Self::item): a store and an
    /// increment, the first item worked out at the end. A loop of trivial
    /// items stays vectorized with it (with `item`'s minimum and maximum it
    /// was not: 1.0 ms against 0.18 ms for 10^6 items of `x + 1` on one
    /// thread).
    #[inline]
    pub(crate) fn next_item(&mut self, index: usize) {
        self.last = index;
        self.items += 1;
    }
}

impl Drop for ChunkSpan {
    fn drop(&mut self) {
        if self.items == 0 {
            return;
        }
        if self.first == usize::MAX {
            // Recorded by `next_item`: consecutive items ending at `last`.
            self.first = self.last + 1 - self.items;
        }
        self.span.items(self.first, self.last, self.items);
        // Taken even when tracing has stopped meanwhile: a later chunk of
        // this thread must not inherit it.
        let noted = ITEM_FAILURE.with(|f| f.borrow_mut().take());
        // One read of the clock for both (each read is about 60 ns).
        let end = now_us();
        crate::dashboard::chunk(self.name, self.cat, end - self.start, self.items); // live view
        if !enabled() {
            return;
        }
        // An item of this chunk failed or panicked (issue 13: failures
        // visible in the report); a chunk dropped while unwinding from a
        // panic that no item noted is marked too.
        let failure = match noted {
            Some((index, outcome)) => Some((Some(index), outcome)),
            None if std::thread::panicking() => Some((
                None,
                Outcome {
                    status: "panicked",
                    error: format!(
                        "a panic unwound through items {}..={}",
                        self.first, self.last
                    ),
                },
            )),
            None => None,
        };
        let args = match failure {
            // The common case: a compact record, no allocation.
            None => Args::Items {
                call: self.call,
                first: self.first,
                last: self.last,
                items: self.items,
            },
            Some((index, outcome)) => {
                let mut args = serde_json::Map::new();
                if self.call != 0 {
                    args.insert("call".into(), self.call.into());
                }
                args.insert("first_item".into(), self.first.into());
                args.insert("last_item".into(), self.last.into());
                args.insert("items".into(), self.items.into());
                if let Some(index) = index {
                    args.insert("failed_item".into(), index.into());
                }
                outcome.write(&mut args);
                Args::Map(Box::new(args))
            }
        };
        push(Cow::Borrowed(self.name), self.cat, self.start, end, args);
    }
}
