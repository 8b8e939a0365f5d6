//! What ranks say to each other while a graph runs, and how it shows in
//! the trace: the messages about tasks, the kinds of failure as they
//! travel, the events of tasks (with their rank) and of transfers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::graph::error::FailureKind;
use crate::graph::node::AnyNode;
use crate::mpi::Tag;

/// The tag of a graph's messages, on the compute's own communicator.
pub(super) const TAG: Tag = 32_100;

/// One message between ranks about task `task` (a position in the plan).
#[derive(Serialize, Deserialize, Clone)]
pub(super) enum Msg {
    /// Its result.
    Value { task: u32, bytes: Vec<u8> },
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
    let deps: Vec<String> = h.deps.iter().map(|d| d.head().key().to_string()).collect();
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
