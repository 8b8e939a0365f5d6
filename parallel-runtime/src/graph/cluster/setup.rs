//! From the claimed graph to a run on this rank: the shape checked on
//! every rank, the tasks placed, the destinations of each result and the
//! types that move, then the run and its collective end.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::lists::Lists;
use super::message::TAG;
use super::outcome::{error_at, finish};
use super::types::{self, GraphType};
use super::{check, coordinator, exchange, pin_of, pins, placement, ClusterStats, LAST};
use crate::graph::error::FailureKind;
use crate::graph::node::{AnyNode, Claim};
use crate::graph::plan::Plan;
use crate::graph::{Compute, DelayedError, Roots};
use crate::mpi::{Comm, Lane};

/// Checks, places and runs the claimed graph; `Ok(true)` when this rank
/// holds the results.
pub(super) fn placed<C: Compute>(
    comm: &Comm,
    root: Option<usize>,
    plan: &Plan,
    c: &C,
) -> Result<bool, DelayedError> {
    let (nodes, prior, order) = plan.claimed();
    let (me, size) = (comm.rank(), comm.size());
    let n = nodes.len();
    let index = |d: &Arc<dyn AnyNode>| d.head().index.load(Ordering::Relaxed);
    // Each task's inputs, in order, from the walk's edges (a node claimed
    // complete has none).
    let deps = Lists::grouped(n, |each| {
        for &(d, c) in plan.edges() {
            each(c, d);
        }
    });
    let mut roots = Roots::default();
    c.roots(&mut roots);
    let root_ix: Vec<u32> = roots.0.iter().map(index).collect();
    drop(roots);
    let pinned: Vec<Option<usize>> = {
        let pins = pins().lock().unwrap_or_else(|p| p.into_inner());
        if pins.is_empty() {
            vec![None; n]
        } else {
            nodes.iter().map(|node| pin_of(node, &pins)).collect()
        }
    };
    let shape = check::Shape {
        origins: nodes.iter().map(|n| n.head().site.origin).collect(),
        deps: &deps,
        roots: &root_ix,
        pins: &pinned,
        results: root,
        nodes,
    };
    let mine = check::Prior {
        done: (0..n as u32)
            .filter(|&i| prior[i as usize] != Claim::Idle)
            .collect(),
        kept: (0..n as u32)
            .filter(|&i| prior[i as usize] == Claim::Done)
            .collect(),
    };
    let all = match check::check(comm, &shape, mine, None) {
        Ok(Ok(all)) => all,
        Ok(Err(m)) => {
            let at = m.task.or(root_ix.first().copied()).unwrap_or(0);
            return Err(error_at(nodes, at, FailureKind::GraphMismatch, m.message).on_rank(me));
        }
        Err(e) => return Err(error_at(nodes, 0, FailureKind::Comm, e.to_string()).on_rank(me)),
    };
    // Where each task is complete already, by rank: the lowest rank that
    // still holds its result, else the lowest where it is complete (its
    // result sent away and dropped there, or failed). A rank that computed
    // a result and sent it to the rank of its consumers, which kept it
    // (the consumers did not run: a compute that failed), is not where the
    // result is.
    let mut done_on: Vec<Option<u32>> = vec![None; n];
    let mut kept_on: Vec<Option<u32>> = vec![None; n];
    let mut here = vec![false; n];
    for (r, p) in all.iter().enumerate().rev() {
        for &i in &p.done {
            done_on[i as usize] = Some(r as u32);
            here[i as usize] |= r == me;
        }
        for &i in &p.kept {
            kept_on[i as usize] = Some(r as u32);
        }
    }
    for (d, k) in done_on.iter_mut().zip(&kept_on) {
        if k.is_some() {
            *d = *k;
        }
    }
    let done: Vec<Vec<u32>> = all.into_iter().map(|p| p.done).collect();
    let not_placeable = |i: usize, message: String| {
        Err(error_at(
            nodes,
            i as u32,
            FailureKind::NotPlaceable,
            message,
        ))
    };
    if let Some(i) = (0..n).find(|&i| pinned[i].is_some_and(|r| r >= size)) {
        let r = pinned[i].unwrap_or(0);
        return not_placeable(
            i,
            format!("it is pinned to rank {r}, and the world has {size} ranks"),
        );
    }
    if let Some(r) = root.filter(|&r| r >= size) {
        let at = root_ix.first().copied().unwrap_or(0) as usize;
        return not_placeable(
            at,
            format!("its result was asked for on rank {r}, and the world has {size} ranks"),
        );
    }
    let tasks: Vec<placement::Task<'_>> = (0..n)
        .map(|i| placement::Task {
            deps: &deps[i],
            pin: pinned[i].map(|r| r as u32),
            done_on: done_on[i],
        })
        .collect();
    let owner = placement::place(&tasks, order, size as u32).owner;
    drop(tasks);
    let results: Vec<u32> = match root {
        Some(r) => vec![r as u32],
        None => (0..size as u32).collect(),
    };
    let complete_on = |i: usize, r: u32| {
        done.get(r as usize)
            .is_some_and(|l| l.binary_search(&(i as u32)).is_ok())
    };
    // The ranks each result goes to: its consumers' and, for a root, the
    // ranks that get the results; not its own, nor one that holds it.
    // Only the edges between ranks: most results stay where they are made.
    let pairs = |each: &mut dyn FnMut(u32, u32)| {
        for &(d, c) in plan.edges() {
            let to = owner[c as usize];
            if to != owner[d as usize] {
                each(d, to);
            }
        }
        for &r in &root_ix {
            for &to in &results {
                each(r, to);
            }
        }
    };
    let dests = Lists::grouped(n, pairs).sorted_unique(|i, r| r == owner[i] || complete_on(i, r));
    let mut reads = vec![0u32; n];
    for c in 0..n {
        for &d in &deps[c] {
            reads[d as usize] += u32::from(owner[c] == me as u32);
        }
    }
    for &r in &root_ix {
        reads[r as usize] += u32::from(results.contains(&(me as u32)));
    }
    // A type that cannot move makes this rank refuse to run (below): every
    // rank that refuses tells the ranks waiting for its results, so that
    // no rank waits forever when the ranks' registries differ (a type
    // registered by `transferable`, or by a first call of a `#[delayed]`
    // function, on some ranks only: each process has its own registry).
    let (types, refused) = match transfer_types(nodes, &owner, &dests) {
        Ok(types) => (types, None),
        Err((i, message)) => {
            let e = error_at(nodes, i, FailureKind::NotPlaceable, message);
            (vec![None; n], Some((i, e.failure().clone())))
        }
    };
    let g = exchange::Placed {
        nodes,
        prior,
        order,
        deps: &deps,
        owner: &owner,
        dests: &dests,
        types: &types,
        here: &here,
        reads: &reads,
    };
    let comm_err =
        |e: crate::mpi::Error| error_at(nodes, 0, FailureKind::Comm, e.to_string()).on_rank(me);
    let mut lane = Lane::new(comm, TAG).map_err(comm_err)?;
    let outcome = match refused {
        None => coordinator::run(&g, &mut lane),
        Some(failure) => coordinator::refuse(&g, &mut lane, failure),
    }
    .map_err(comm_err)?;
    let mine = owner.iter().filter(|&&o| o == me as u32).count();
    LAST.with(|l| {
        l.set(Some(ClusterStats {
            rank: me,
            tasks: mine,
            sent: outcome.sent,
            received: outcome.received,
        }))
    });
    finish(comm, &mut lane, nodes, outcome)?;
    Ok(results.contains(&(me as u32)))
}

/// The type of each task whose result crosses ranks; for the first that
/// cannot, its position and why (the same on every rank whose registry of
/// types is the same).
fn transfer_types(
    nodes: &[Arc<dyn AnyNode>],
    owner: &[u32],
    dests: &Lists,
) -> Result<Vec<Option<GraphType>>, (u32, String)> {
    let mut seen: HashMap<std::any::TypeId, Option<GraphType>> = HashMap::new();
    let mut types = vec![None; nodes.len()];
    let mut last: Option<(std::any::TypeId, Option<GraphType>)> = None;
    for (i, node) in nodes.iter().enumerate() {
        let Some(&to) = dests[i].first() else {
            continue;
        };
        // Neighbouring tasks mostly share a type: the last one is kept.
        let id = node.as_any().type_id();
        let t = match last {
            Some((l, t)) if l == id => t,
            _ => {
                let t = *seen.entry(id).or_insert_with(|| types::lookup(&**node));
                last = Some((id, t));
                t
            }
        };
        if t.and_then(|t| t.wire).is_none() {
            let ty = t.map_or_else(
                || "its type (made by `value` or `delayed_fn`, never registered)".to_owned(),
                |t| format!("its type `{}`", t.name),
            );
            let message = format!(
                "its result must move from rank {} to rank {to}, which consumes it, and {ty} is not \
                 `Serialize + DeserializeOwned`: derive them (and call \
                 `parallel_runtime::graph::transferable::<T>()`, on every rank, for a type no \
                 #[delayed] function of the graph returns), or pin the task and its consumers \
                 to one rank with `.on_rank(r)`",
                owner[i]
            );
            return Err((i as u32, message));
        }
        types[i] = t;
    }
    Ok(types)
}
