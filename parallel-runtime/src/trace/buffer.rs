//! Per-thread buffers: recording an event takes no lock that another
//! thread takes on its own path.
//!
//! Each thread that records appends to its own buffer (a slot behind its
//! own lock, which only [`collect`] ever contends for). A full buffer is
//! serialized by its thread and handed to the trace's writer thread (see
//! `writer`) as one batch; at a flush, [`collect`] takes what every thread's
//! buffer holds, pool threads that live forever included, and the buffers
//! of threads that have exited since are dropped once emptied.
//!
//! A full buffer is out of its slot, and not yet with the writer, while
//! its thread serializes it: [`collect`] cannot see it. It may hold the
//! events of a map that has already returned (the buffer filled during a
//! chunk of another map, on a thread both ran on). So a flush or stop
//! that must find every event waits for such hand-overs after its
//! collect ([`wait_handed`]), while the trace's writer is still open to
//! take them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::event::Raw;
use super::sink;
use super::writer::{self, Part, Then};

/// Events a thread buffers before it hands them to the writer: big enough
/// that handing over is rare, small enough (about 100 kB) that a flush
/// has little left to serialize.
pub(super) const BATCH: usize = 1024;

/// The trace being recorded, counted from 1: events recorded for an
/// earlier trace are dropped when they are met.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Full buffers taken out of their slot and not yet handed to the writer
/// (see the module's doc), and the signal that a count fell.
static HANDING: Mutex<InFlight> = Mutex::new(InFlight {
    era: 0,
    count: [0, 0],
});
static HANDED: Condvar = Condvar::new();

/// Hand-overs under way, counted in two eras: a flush waits only for
/// those of the era that its collect closed, not for hand-overs that
/// threads still recording keep starting after it.
struct InFlight {
    era: usize,
    count: [usize; 2],
}

#[cfg(test)]
thread_local! {
    /// Tests: what this thread does with a full buffer out of its slot,
    /// before it hands it over (to hold it there).
    pub(super) static WHILE_HANDING: std::cell::Cell<Option<fn()>> =
        const { std::cell::Cell::new(None) };
}

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
    fn push(&self, generation: u64, event: Raw) -> Option<Handing> {
        let mut b = self.lock();
        if b.generation != generation {
            b.generation = generation;
            b.events.clear();
        }
        if b.events.capacity() == 0 {
            b.events = writer::spare(BATCH).unwrap_or_else(|| Vec::with_capacity(BATCH));
        }
        b.events.push(event);
        (b.events.len() >= BATCH).then(|| {
            // Counted before the slot's lock is released: a `collect`
            // that finds the slot emptied by this then sees the count.
            let mut h = handing();
            let era = h.era;
            h.count[era] += 1;
            Handing {
                events: std::mem::take(&mut b.events),
                era,
            }
        })
    }
}

fn handing() -> MutexGuard<'static, InFlight> {
    HANDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// A full buffer on its way to the writer: counted in `HANDING` until
/// dropped (handed over, or dropped on an error).
struct Handing {
    events: Vec<Raw>,
    era: usize,
}

impl Drop for Handing {
    fn drop(&mut self) {
        handing().count[self.era] -= 1;
        HANDED.notify_all();
    }
}

/// Waits until every full buffer taken out of its slot before the
/// [`collect`] just made (which saw it taken) has been handed to the
/// writer. Callers take turns (`file`'s one flush at a time, whose guard
/// `_turn` is): each closes the era the last one opened.
pub(super) fn wait_handed<T>(_turn: &MutexGuard<'_, T>) {
    let mut h = handing();
    let era = h.era;
    h.era = 1 - era;
    while h.count[era] > 0 {
        h = HANDED.wait(h).unwrap_or_else(|p| p.into_inner());
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
        (Ok(Some(mut full)), _) => {
            #[cfg(test)]
            if let Some(hold) = WHILE_HANDING.with(std::cell::Cell::get) {
                hold();
            }
            match sink::serialize(generation, &full.events, writer::spare_text()) {
                Ok(batch) => {
                    writer::recycle(std::mem::take(&mut full.events));
                    writer::hand(generation, vec![Part::Text(batch)], Then::Keep);
                }
                Err(e) => eprintln!("parallel-runtime: cannot write the trace: {e}"),
            }
            // Handed over (or lost to an error): a flush waiting for it may go on.
            drop(full);
        }
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
