//! What this rank waits in: the span of every communicator operation, which
//! the trace records and the hang watchdog (`crate::mpi::watchdog`) reads.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::record::{enabled, now_us, op_event};
use super::spans;

/// A message-passing operation in progress: recorded in the trace when
/// dropped (if tracing), published to the hang watchdog while it lasts
/// (if one watches), and a span of the `tracing` crate (with the feature).
pub(crate) struct OpSpan {
    trace: Option<(&'static str, f64)>,
    watched: bool,
    _span: spans::Entered,
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
        _span: spans::op(op),
        trace: enabled().then(|| (op, now_us())),
        watched,
    }
}

impl Drop for OpSpan {
    #[inline]
    fn drop(&mut self) {
        if let Some((op, start)) = self.trace {
            op_event(op, start, now_us());
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
pub(super) static WATCHED: AtomicBool = AtomicBool::new(false);
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
#[cfg(any(feature = "mpi", test))]
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
#[cfg(any(feature = "mpi", test))]
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
#[cfg(any(feature = "mpi", test))]
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
