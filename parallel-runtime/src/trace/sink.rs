//! The open trace's file, and the events serialized for it but not yet
//! written: owned by the trace's writer thread (see `writer`), which
//! serializes the buffers the recording threads hand it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use super::event::{track_names, Raw};

/// Serialized events waiting beyond this many bytes are written at once,
/// so that a long map does not hold its whole trace in memory.
const WRITE_AT: usize = 1 << 20;

/// The open trace.
pub(super) struct Sink {
    pub(super) path: PathBuf,
    pub(super) file: File,
    /// A regular file, rewritten in place to stay valid JSON; otherwise a
    /// pipe or device, streamed and closed at the end.
    pub(super) seekable: bool,
    /// Which trace this is: batches recorded for an earlier one (by a
    /// thread that was late to see it stop) are dropped.
    pub(super) generation: u64,
    /// Events serialized but not yet written: each is `{…}\n`, and all
    /// but the trace's first follow a `,`.
    pub(super) pending: Vec<u8>,
    /// Events in the trace so far (written or pending).
    pub(super) written: usize,
    /// The tracks (rank, thread) already named in the trace.
    pub(super) named_threads: BTreeSet<(u32, u32)>,
}

/// Events serialized by the thread that recorded them (a full buffer) or
/// by the trace's writer, before they join the sink.
pub(super) struct Batch {
    generation: u64,
    /// `{…}\n` per event, with a `,` between them.
    text: Vec<u8>,
    events: usize,
    /// The tracks (rank, thread) the events are on.
    tracks: BTreeSet<(u32, u32)>,
}

/// Serializes `events`, recorded for the trace `generation`, into `text`
/// (an emptied batch's, to be filled again: a new one of 1,024 events is
/// mapped afresh and its pages faulted in every time).
pub(super) fn serialize(
    generation: u64,
    events: &[Raw],
    mut text: Vec<u8>,
) -> std::io::Result<Batch> {
    text.clear();
    text.reserve(events.len() * 144);
    let mut tracks = BTreeSet::new();
    let mut last = None;
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        e.write_json(&mut text)?;
        text.push(b'\n');
        // A thread's events are all on one track: one insert per batch.
        if last != Some((e.pid, e.tid)) {
            last = Some((e.pid, e.tid));
            tracks.insert((e.pid, e.tid));
        }
    }
    Ok(Batch {
        generation,
        text,
        events: events.len(),
        tracks,
    })
}

impl Batch {
    /// How many events it holds.
    pub(super) fn len(&self) -> usize {
        self.events
    }
}

impl Sink {
    /// Adds `batch` (if it was recorded for this trace), after the names
    /// of the tracks it is the first on; writes when enough is waiting.
    /// Returns the batch's text, emptied, to be filled again.
    pub(super) fn append(&mut self, batch: Batch) -> std::io::Result<Vec<u8>> {
        if batch.generation != self.generation || batch.events == 0 {
            return Ok(batch.text);
        }
        for (pid, tid) in batch.tracks {
            if self.named_threads.insert((pid, tid)) {
                for e in track_names(pid, tid) {
                    self.separate();
                    serde_json::to_writer(&mut self.pending, &e).map_err(std::io::Error::other)?;
                    self.pending.push(b'\n');
                    self.written += 1;
                }
            }
        }
        self.separate();
        self.pending.extend_from_slice(&batch.text);
        self.written += batch.events;
        if self.pending.len() >= WRITE_AT {
            self.write_out()?;
        }
        Ok(batch.text)
    }

    /// The `,` before an event that is not the trace's first.
    fn separate(&mut self) {
        if self.written > 0 {
            self.pending.push(b',');
        }
    }

    /// Writes the pending events. A regular file stays valid JSON: its
    /// closing `]` is overwritten by the events and written again after
    /// them. A stream gets its `]` when tracing stops.
    pub(super) fn write_out(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.seekable {
            // Overwrite the closing "]\n" with the new events and close again.
            self.file.seek(SeekFrom::End(-2))?;
            self.pending.extend_from_slice(b"]\n");
        }
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        written?;
        self.file.flush()
    }

    /// Writes what is pending, and a stream's closing `]`: the trace is
    /// complete.
    pub(super) fn finish(mut self) -> std::io::Result<()> {
        self.write_out()?;
        if !self.seekable {
            self.file.write_all(b"]\n")?;
            self.file.flush()?;
        }
        Ok(())
    }
}
