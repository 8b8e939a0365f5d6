//! A trace of several ranks: each rank records its part beside the trace
//! file, and rank 0 merges the parts into the one trace at the end.

use std::path::{Path, PathBuf};
#[cfg(feature = "mpi")]
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use super::event::{set_rank, Event};
use super::file::{claim_env, read, start, start_from_env, stop};
#[cfg(feature = "mpi")]
use super::record::{now_us, ENABLED};
#[cfg(feature = "mpi")]
use super::writer::lock;

/// Under MPI: the file every rank's part is merged into (by rank 0).
static MERGED_PATH: Mutex<Option<PathBuf>> = Mutex::new(None);
/// Under MPI: this rank's clock when all ranks left the start-up barrier.
static SYNC_US: Mutex<f64> = Mutex::new(0.0);

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
    let Some(path) = claim_env() else {
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
#[cfg(feature = "mpi")]
pub(crate) fn abandon_part() {
    MERGED_PATH.lock().unwrap_or_else(|p| p.into_inner()).take();
    ENABLED.store(false, Ordering::Release);
    if let Some(writer) = lock().take() {
        let path = writer.path.clone();
        let _ = writer.finish(Vec::new());
        let _ = std::fs::remove_file(path);
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
#[cfg(feature = "mpi")]
pub(crate) fn mark_sync() {
    *SYNC_US.lock().unwrap_or_else(|p| p.into_inner()) = now_us();
}

/// At the end of an `#[mpi_main]` program: every rank sends its events to
/// rank 0, which writes them into the one trace file, one track group per
/// rank, each rank's clock shifted so the start-up barrier lines up.
///
/// `gather` is the world's gather to rank 0 (`MPI_Gather`): it takes this
/// rank's part (its clock at the barrier, its events as JSON) and returns,
/// on rank 0, every rank's part in rank order, and `None` elsewhere.
pub(crate) fn merge_parts(
    gather: impl FnOnce(&(f64, String)) -> std::io::Result<Option<Vec<(f64, String)>>>,
) -> std::io::Result<()> {
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
    let all = gather(&(sync, events))?;
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
