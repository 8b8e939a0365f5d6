//! The trace's writer: a thread of its own per trace, which writes the
//! events that threads hand it to the file, so that the thread that called
//! a map does not spend its time on that (at the end of a map of 7,000
//! events, writing them on the calling thread took 1.9 ms, five times the
//! map itself). A thread whose buffer is full turns it into JSON itself
//! (the threads of a long map do that in parallel) and hands the text
//! over; what a call leaves in the buffers at its end is handed over as
//! it is, and the writer turns it into JSON.
//!
//! Events go to the writer in order through one channel; [`flush`]
//! (and [`stop`], which then ends the thread and waits for it) waits until
//! everything handed over before it is in the file, so no event handed
//! over is lost and the file is complete when they return.
//!
//! [`flush`]: super::flush
//! [`stop`]: super::stop

use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::event::Raw;
use super::sink::{serialize, Batch, Sink};

static STATE: Mutex<Option<Writer>> = Mutex::new(None);

/// Events handed over but not yet written beyond which a thread that
/// hands more waits for the writer (about 50 MB of buffers): a program of
/// back-to-back maps of trivial items records faster than it is written.
const BACKLOG: usize = 1 << 19;

/// Emptied buffers kept for the threads to fill again (a new one would
/// cost an allocation and its pages' first touch), and emptied batches'
/// text likewise.
static SPARE: Mutex<Vec<Vec<Raw>>> = Mutex::new(Vec::new());
static SPARE_TEXT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const SPARES: usize = 64;
/// The smallest buffer kept spare: a thread's whole batch (see `buffer`).
const SPARE_FROM: usize = 1024;

/// The open trace, if tracing is on.
pub(super) fn lock() -> MutexGuard<'static, Option<Writer>> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// An emptied buffer of at least `capacity` events, if one is spare.
pub(super) fn spare(capacity: usize) -> Option<Vec<Raw>> {
    let mut spare = SPARE.lock().unwrap_or_else(|p| p.into_inner());
    let at = spare.iter().rposition(|b| b.capacity() >= capacity)?;
    Some(spare.swap_remove(at))
}

/// What the writer does once it has a message's events.
pub(super) enum Then {
    /// Nothing more: a full buffer handed over in the middle of a map.
    Keep,
    /// Writes them to the file (the end of a top-level call); an error is
    /// printed.
    Write,
    /// Writes them and sends the outcome (a [`flush`](super::flush)).
    Reply(SyncSender<std::io::Result<()>>),
}

/// Events handed to the writer.
pub(super) enum Part {
    /// As recorded (a buffer taken at the end of a call).
    Raw(Vec<Raw>),
    /// Already JSON (a full buffer, serialized by its thread).
    Text(Batch),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Raw(events) => events.len(),
            Part::Text(batch) => batch.len(),
        }
    }
}

/// The buffers taken at the end of a call, for the writer.
pub(super) fn raw(buffers: Vec<Vec<Raw>>) -> Vec<Part> {
    buffers.into_iter().map(Part::Raw).collect()
}

struct Msg {
    parts: Vec<Part>,
    events: usize,
    then: Then,
}

/// How many events are handed over and not yet written.
#[derive(Default)]
struct Backlog {
    events: Mutex<usize>,
    drained: Condvar,
}

impl Backlog {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The open trace as the recording threads see it: where its events go.
pub(super) struct Writer {
    /// The file.
    pub(super) path: PathBuf,
    /// Which trace this is: buffers recorded for an earlier one (by a
    /// thread that was late to see it stop) are dropped.
    pub(super) generation: u64,
    tx: Sender<Msg>,
    backlog: Arc<Backlog>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Writer {
    /// Starts the thread that writes `sink`.
    pub(super) fn spawn(sink: Sink) -> std::io::Result<Writer> {
        let (tx, rx) = channel();
        let backlog = Arc::new(Backlog::default());
        let (path, generation) = (sink.path.clone(), sink.generation);
        let thread = std::thread::Builder::new()
            .name("parallel-trace".into())
            .spawn({
                let backlog = Arc::clone(&backlog);
                move || run(sink, &rx, &backlog)
            })?;
        Ok(Writer {
            path,
            generation,
            tx,
            backlog,
            thread,
        })
    }

    /// Hands `parts`, recorded for the trace `generation`, to the writer
    /// (dropped if they belong to an earlier trace). Waits while too much
    /// is waiting to be written. `false` if the writer has gone (its
    /// thread failed): `then` is dropped.
    pub(super) fn hand(&self, generation: u64, parts: Vec<Part>, then: Then) -> bool {
        if generation != self.generation {
            return true;
        }
        let events = parts.iter().map(Part::len).sum();
        {
            let mut waiting = self.backlog.lock();
            while *waiting > BACKLOG {
                waiting = self
                    .backlog
                    .drained
                    .wait(waiting)
                    .unwrap_or_else(|p| p.into_inner());
            }
            *waiting += events;
        }
        let msg = Msg {
            parts,
            events,
            then,
        };
        self.tx.send(msg).is_ok()
    }

    /// Hands over `rest`, the trace's last events, and ends the writer
    /// once it has written everything handed over, a stream's closing `]`
    /// included; returns the file, or the first error writing `rest` or
    /// finishing the file.
    pub(super) fn finish(self, rest: Vec<Part>) -> std::io::Result<PathBuf> {
        let (tx, rx) = sync_channel(1);
        self.hand(self.generation, rest, Then::Reply(tx));
        drop(self.tx);
        let finished = match self.thread.join() {
            Ok(written) => written.map(|()| self.path),
            Err(_) => Err(std::io::Error::other("the trace's writer thread panicked")),
        };
        match rx.try_recv() {
            Ok(Err(e)) => Err(e),
            _ => finished,
        }
    }
}

/// The writer's thread: writes every message's events in the order they
/// were handed over, until the trace stops.
fn run(mut sink: Sink, rx: &Receiver<Msg>, backlog: &Backlog) -> std::io::Result<()> {
    for msg in rx {
        let mut done = Ok(());
        for part in msg.parts {
            let batch = match part {
                Part::Text(batch) => Ok(batch),
                Part::Raw(events) => {
                    let batch = serialize(sink.generation, &events, spare_text());
                    recycle(events);
                    batch
                }
            };
            if done.is_ok() {
                done = batch.and_then(|b| sink.append(b)).map(recycle_text);
            }
        }
        {
            let mut waiting = backlog.lock();
            *waiting -= msg.events;
            if *waiting <= BACKLOG {
                backlog.drained.notify_all();
            }
        }
        if !matches!(msg.then, Then::Keep) {
            done = done.and_then(|()| sink.write_out());
        }
        match msg.then {
            Then::Reply(reply) => {
                let _ = reply.send(done);
            }
            Then::Keep | Then::Write => {
                if let Err(e) = done {
                    eprintln!("parallel-runtime: cannot write the trace: {e}");
                }
            }
        }
    }
    sink.finish()
}

/// Keeps `buffer`, emptied, for a thread to fill again.
pub(super) fn recycle(mut buffer: Vec<Raw>) {
    buffer.clear();
    let mut spare = SPARE.lock().unwrap_or_else(|p| p.into_inner());
    if spare.len() < SPARES && buffer.capacity() >= SPARE_FROM {
        spare.push(buffer);
    }
}

/// An emptied batch's text, to serialize into.
pub(super) fn spare_text() -> Vec<u8> {
    let mut spare = SPARE_TEXT.lock().unwrap_or_else(|p| p.into_inner());
    spare.pop().unwrap_or_default()
}

fn recycle_text(text: Vec<u8>) {
    let mut spare = SPARE_TEXT.lock().unwrap_or_else(|p| p.into_inner());
    if spare.len() < SPARES {
        spare.push(text);
    }
}

/// Hands `parts` to the open trace's writer and waits until they are
/// written (with everything handed over before them).
pub(super) fn write_now(generation: u64, parts: Vec<Part>) -> std::io::Result<()> {
    let (tx, rx) = sync_channel(1);
    let handed = match lock().as_ref() {
        Some(w) => w.hand(generation, parts, Then::Reply(tx)),
        None => return Ok(()),
    };
    match rx.recv() {
        Ok(done) => done,
        // Dropped unanswered: an earlier trace's events, or no writer.
        Err(_) if handed => Ok(()),
        Err(_) => Err(std::io::Error::other(
            "the trace's writer thread has stopped",
        )),
    }
}

/// Hands `parts` to the open trace's writer, without waiting.
pub(super) fn hand(generation: u64, parts: Vec<Part>, then: Then) {
    if let Some(w) = lock().as_ref() {
        if !w.hand(generation, parts, then) {
            eprintln!("parallel-runtime: cannot write the trace: its writer thread has stopped");
        }
    }
}
