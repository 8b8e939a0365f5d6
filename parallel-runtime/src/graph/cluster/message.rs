//! What ranks say to each other while a graph runs, and how it shows in
//! the trace: the frames about tasks (on the compute's [`Lane`]), the
//! kinds of failure as they travel, the events of tasks (with their rank)
//! and of transfers.
//!
//! A frame's payload is a task's value (`VALUE`, the task, then its
//! type's fingerprint and the value, written by the type's `Encode`), or
//! any other [`Msg`] (`OTHER`, then the message).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::types::Encode;
use crate::graph::error::FailureKind;
use crate::graph::node::AnyNode;
use crate::mpi::{Lane, Tag};
use crate::panic::PayloadText;

/// The tag of a graph's frames (and the next, for long ones), on the
/// compute's own communicator.
pub(super) const TAG: Tag = 32_100;

/// The first byte of a frame's payload: a task's value.
const VALUE: u8 = 0;
/// The first byte of a frame's payload: a [`Msg`].
const OTHER: u8 = 1;

/// One message between ranks about task `task` (a position in the plan),
/// other than its value.
#[derive(Serialize, Deserialize, Clone)]
pub(super) enum Msg {
    /// It failed, or was cancelled because task `origin` failed.
    Failed {
        task: u32,
        origin: u32,
        kind: u8,
        message: String,
    },
    /// It did not run (the compute is being aborted).
    Skipped { task: u32 },
    /// A task of the sender failed: skip what has not started.
    Abort,
}

/// A frame received, parsed.
pub(super) enum Frame<'a> {
    /// Task `task`'s value, as its type's `Encode` wrote it.
    Value {
        task: u32,
        bytes: &'a [u8],
    },
    Other(Msg),
}

/// The frame of task `task`'s value, encoded by `encode` from `node`.
///
/// # Safety
/// As for the `Encode` of `node`'s type.
pub(super) unsafe fn value_frame(
    task: u32,
    node: &dyn AnyNode,
    encode: Encode,
) -> Result<Vec<u8>, String> {
    let mut frame = Lane::blank();
    frame.push(VALUE);
    frame.extend_from_slice(&task.to_le_bytes());
    // SAFETY: forwarded.
    unsafe { encode(node, frame) }
}

/// Runs `f`, user code that encodes or decodes a value (`Serialize`,
/// `Deserialize`): a panic in it is an error of its task, as a panic in
/// the task is, and not a panic of the rank's thread (on a worker of the
/// pool, that left the rank waiting for the task forever, and every other
/// rank with it).
pub(super) fn no_panic<R>(what: &str, f: impl FnOnce() -> Result<R, String>) -> Result<R, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = format!("{what} panicked: {}", PayloadText(&*payload));
            crate::panic::drop_payload(payload);
            Err(message)
        }
    }
}

/// The frame of `msg`.
pub(super) fn msg_frame(msg: &Msg) -> Vec<u8> {
    let mut frame = Lane::blank();
    frame.push(OTHER);
    crate::codec::encode_bare_after(msg, frame)
        .unwrap_or_else(|e| unreachable!("a graph's message always encodes: {e}"))
}

/// The task a value frame is about (for the trace of a transfer).
pub(super) fn value_task(frame: &[u8]) -> Option<u32> {
    match Lane::payload(frame) {
        [VALUE, a, b, c, d, ..] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Reads a frame's payload.
pub(super) fn parse(payload: &[u8]) -> Result<Frame<'_>, String> {
    match payload {
        [VALUE, a, b, c, d, bytes @ ..] => Ok(Frame::Value {
            task: u32::from_le_bytes([*a, *b, *c, *d]),
            bytes,
        }),
        [OTHER, msg @ ..] => crate::codec::decode_bare(msg)
            .map(Frame::Other)
            .map_err(|e| e.to_string()),
        _ => Err(format!(
            "a frame of {} bytes that is no graph message",
            payload.len()
        )),
    }
}

/// A [`FailureKind`] as it travels.
pub(super) fn kind_code(k: FailureKind) -> u8 {
    match k {
        FailureKind::Panicked => 0,
        FailureKind::Error => 1,
        FailureKind::Unavailable => 2,
        FailureKind::Busy => 3,
        FailureKind::GraphMismatch => 4,
        FailureKind::NotPlaceable => 5,
        FailureKind::Comm => 6,
    }
}

pub(super) fn kind_of(code: u8) -> FailureKind {
    match code {
        0 => FailureKind::Panicked,
        1 => FailureKind::Error,
        2 => FailureKind::Unavailable,
        3 => FailureKind::Busy,
        4 => FailureKind::GraphMismatch,
        5 => FailureKind::NotPlaceable,
        _ => FailureKind::Comm,
    }
}

/// Records task `i`, run on this rank from `start`: its key, its inputs'
/// keys, and the rank (`args.rank`, for the report to colour by rank).
#[cold]
pub(super) fn trace_task(nodes: &[Arc<dyn AnyNode>], i: u32, rank: u32, start: f64) {
    let end = crate::trace::now_us();
    let h = nodes[i as usize].head();
    let mut args = serde_json::Map::new();
    args.insert("key".into(), h.key().to_string().into());
    let deps: Vec<String> = h
        .deps()
        .iter()
        .map(|d| d.head().key().to_string())
        .collect();
    args.insert("deps".into(), deps.into());
    args.insert("rank".into(), rank.into());
    crate::trace::record(h.site.name, "task", start, end, args);
}

/// Records the move of task `i`'s result from rank `from` to rank `to`
/// (on the rank that sends, and on the rank that receives).
#[cold]
pub(super) fn trace_transfer(
    nodes: &[Arc<dyn AnyNode>],
    i: u32,
    from: u32,
    to: u32,
    bytes: usize,
    start: f64,
) {
    let end = crate::trace::now_us();
    let key = nodes[i as usize].head().key().to_string();
    let mut args = serde_json::Map::new();
    args.insert("key".into(), key.clone().into());
    args.insert("from".into(), from.into());
    args.insert("to".into(), to.into());
    args.insert("bytes".into(), bytes.into());
    crate::trace::record(&format!("transfer {key}"), "transfer", start, end, args);
}
