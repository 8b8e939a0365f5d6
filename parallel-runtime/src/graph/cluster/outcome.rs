//! The end of a run across ranks: every rank learns which task failed
//! where; errors, the kinds of failure as they travel, and the trace events
//! of tasks and transfers.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::exchange;
use crate::graph::error::{Failure, FailureKind};
use crate::graph::node::AnyNode;
use crate::graph::{Compute, DelayedError, Roots, TaskKey, TaskSite};
use crate::mpi::{Comm, ANY_SOURCE};

/// What each rank says at the end: its first failure (task, kind,
/// message), how many tasks it cancelled or skipped, whether it sent
/// `Abort`s.
#[derive(Serialize, Deserialize)]
struct Report {
    failure: Option<(u32, u8, String)>,
    cancelled: u64,
    aborted: bool,
}

/// The collective end of a run: every rank learns which task failed where,
/// and takes the `Abort`s sent to it that it has not received.
pub(super) fn finish(
    comm: &Comm,
    nodes: &[Arc<dyn AnyNode>],
    o: exchange::Outcome,
) -> Result<(), DelayedError> {
    let me = comm.rank();
    let mine = Report {
        failure: o
            .failure
            .as_ref()
            .map(|(i, f)| (*i, kind_code(f.kind), f.message.clone())),
        cancelled: o.cancelled as u64,
        aborted: o.aborted,
    };
    let comm_err =
        |e: crate::mpi::Error| error_at(nodes, 0, FailureKind::Comm, e.to_string()).on_rank(me);
    let all = comm.allgather(&mine).map_err(comm_err)?;
    let aborts = all
        .iter()
        .enumerate()
        .filter(|(r, a)| *r != me && a.aborted)
        .count();
    for _ in o.aborts_seen..aborts {
        comm.recv::<exchange::Msg>(ANY_SOURCE, exchange::TAG)
            .map_err(comm_err)?;
    }
    let cancelled = all.iter().map(|a| a.cancelled as usize).sum();
    let Some((rank, report)) = all.iter().enumerate().find(|(_, a)| a.failure.is_some()) else {
        return Ok(());
    };
    match (&o.failure, &report.failure) {
        (Some((_, f)), _) if rank == me => Err(DelayedError::new(f.clone(), cancelled).on_rank(me)),
        (_, Some((task, kind, message))) => {
            let e = error_at(nodes, *task, kind_of(*kind), message.clone());
            Err(DelayedError::new(e.failure().clone(), cancelled).on_rank(rank))
        }
        _ => Ok(()),
    }
}

pub(super) fn error_at(
    nodes: &[Arc<dyn AnyNode>],
    task: u32,
    kind: FailureKind,
    message: String,
) -> DelayedError {
    let key = nodes
        .get(task as usize)
        .map_or_else(fallback_key, |n| n.head().key());
    DelayedError::new(
        Arc::new(Failure {
            key,
            kind,
            message,
            error: Mutex::new(None),
        }),
        0,
    )
}

/// The key of an error that concerns no task (a graph of no task).
fn fallback_key() -> TaskKey {
    static SITE: TaskSite = TaskSite::new("compute_on");
    TaskKey {
        site: &SITE,
        seq: 0,
    }
}

pub(super) fn comm_error<C: Compute>(c: &C, e: crate::mpi::Error) -> DelayedError {
    let mut roots = Roots::default();
    c.roots(&mut roots);
    error_at(&roots.0, 0, FailureKind::Comm, e.to_string())
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
pub(super) fn trace_task(g: &exchange::Placed<'_>, i: u32, rank: u32, start: f64) {
    let end = crate::trace::now_us();
    let h = g.nodes[i as usize].head();
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
    g: &exchange::Placed<'_>,
    i: u32,
    from: u32,
    to: u32,
    bytes: usize,
    start: f64,
) {
    let end = crate::trace::now_us();
    let key = g.nodes[i as usize].head().key().to_string();
    let mut args = serde_json::Map::new();
    args.insert("key".into(), key.clone().into());
    args.insert("from".into(), from.into());
    args.insert("to".into(), to.into());
    args.insert("bytes".into(), bytes.into());
    crate::trace::record(&format!("transfer {key}"), "transfer", start, end, args);
}
