//! The end of a run across ranks: every rank learns which task failed
//! where; errors, the kinds of failure as they travel, and the trace events
//! of tasks and transfers.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::exchange;
use super::message::{kind_code, kind_of};
use crate::graph::error::{Failure, FailureKind};
use crate::graph::node::AnyNode;
use crate::graph::{Compute, DelayedError, Roots, TaskKey, TaskSite};
use crate::mpi::{Comm, Lane};

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
    lane: &mut Lane<'_>,
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
    // The `Abort`s still on their way here: received (their content is
    // known), so that none is left for a later compute.
    for (r, _) in all
        .iter()
        .enumerate()
        .filter(|(r, a)| *r != me && a.aborted)
    {
        if !o.aborts_from.contains(&r) {
            lane.expect(r, 1).map_err(comm_err)?;
        }
    }
    while lane.expected() > 0 {
        if let Some((_, frame)) = lane.poll().map_err(comm_err)? {
            lane.recycle(frame);
        }
    }
    lane.flush().map_err(comm_err)?;
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
