//! Per-thread buffers: recording an event takes no lock that another
//! thread takes on its own path.
//!
//! Each thread that records appends to its own buffer (a slot behind its
//! own lock, which only [`collect`] ever contends for). A full buffer is
//! serialized by its thread and handed to the trace's writer thread (see
//! `writer`) as one batch; at a flush, [`collect`] takes what every thread's
//! buffer holds, pool threads that live forever included, and the buffers
//! of threads that have exited since are dropped once emptied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::event::Raw;
use super::sink;
use super::writer::{self, Part, Then};

/// Events a thread buffers before it hands them to the writer: big enough
/// that handing over is rare, small enough (about 100 kB) that a flush
/// has little left to serialize.
const BATCH: usize = 1024;

/// The trace being recorded, counted from 1: events recorded for an
/// earlier trace are dropped when they are met.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Every thread's buffer.
static SLOTS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Slot> = register();
}

/// One thread's buffer.
struct Slot(Mutex<Buffer>);

struct Buffer {
    generation: u64,
    events: Vec<Raw>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `event`; returns the buffer's events when it is full.
    #[inline]
    fn push(&self, generation: u64, event: Raw) -> Option<Vec<Raw>> {
        let mut b = self.lock();
        if b.generation != generation {
            b.generation = generation;
            b.events.clear();
        }
        if b.events.capacity() == 0 {
            b.events = writer::spare(BATCH).unwrap_or_else(|| Vec::with_capacity(BATCH));
        }
        b.events.push(event);
        (b.events.len() >= BATCH).then(|| std::mem::take(&mut b.events))
    }
}

fn register() -> Arc<Slot> {
    let slot = Arc::new(Slot(Mutex::new(Buffer {
        generation: 0,
        events: Vec::new(),
    })));
    SLOTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arc::clone(&slot));
    slot
}

/// Starts a new trace: what the buffers hold from an earlier one is
/// dropped. Returns its generation.
pub(super) fn next_generation() -> u64 {
    GENERATION.fetch_add(1, Ordering::AcqRel) + 1
}

/// Records `event` in this thread's buffer. Every event of the trace
/// passes through here.
pub(crate) fn emit(event: Raw) {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut event = Some(event);
    let full = LOCAL.try_with(|slot| event.take().and_then(|e| slot.push(generation, e)));
    match (full, event) {
        // Serialized here: the threads of a long map do it in parallel.
        (Ok(Some(full)), _) => match sink::serialize(generation, &full, writer::spare_text()) {
            Ok(batch) => {
                writer::recycle(full);
                writer::hand(generation, vec![Part::Text(batch)], Then::Keep);
            }
            Err(e) => eprintln!("parallel-runtime: cannot write the trace: {e}"),
        },
        // This thread is exiting and its buffer is gone: straight to the writer.
        (Err(_), Some(e)) => writer::hand(generation, vec![Part::Raw(vec![e])], Then::Keep),
        _ => {}
    }
}

/// Takes the buffers of events every thread has recorded for the trace
/// `generation` (as they are: nothing is copied), and forgets the buffers
/// of threads that have exited.
pub(super) fn collect(generation: u64) -> Vec<Vec<Raw>> {
    let mut out = Vec::new();
    SLOTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|slot| {
            let mut b = slot.lock();
            if b.generation == generation {
                if !b.events.is_empty() {
                    out.push(std::mem::take(&mut b.events));
                }
            } else {
                b.events.clear();
            }
            // Held by its thread too while that thread lives.
            Arc::strong_count(slot) > 1
        });
    out
}
