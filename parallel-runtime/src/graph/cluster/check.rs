//! The graph is checked before anything runs: every rank hashes the shape
//! of its graph (each task's function, by the module path, file and line
//! of its definition, and the positions of its
//! inputs, in the order of the walk, its pin to a rank, whether it was
//! made after the last task of its function before it in the walk, the
//! roots and where their results go), and the ranks compare
//! the hashes in one `allgather`. When they differ, a second `allgather`
//! exchanges the shapes themselves, and every rank returns an error naming
//! the first task that differs, on its side and on the other: never a
//! hang.
//!
//! The same `allgather` carries which tasks each rank already holds from
//! an earlier compute, for placement.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::lists::Lists;
use crate::graph::key::TaskSite;
use crate::graph::node::AnyNode;

use crate::mpi::{Comm, Error};

/// The shape of this rank's graph, by position in the plan.
pub(crate) struct Shape<'a> {
    pub(crate) origins: Vec<&'static str>,
    pub(crate) deps: &'a Lists,
    pub(crate) roots: &'a [u32],
    /// Each task's pin (`on_rank`), by position: placement follows pins,
    /// so ranks that pin differently would place differently and wait for
    /// results no rank sends.
    pub(crate) pins: &'a [Option<usize>],
    /// The rank that gets the results (`compute_on_root`), `None` for
    /// every rank (`compute_on`).
    pub(crate) results: Option<usize>,
    /// The nodes, for their keys as this rank prints them (`add-3`), in
    /// messages.
    pub(crate) nodes: &'a [Arc<dyn AnyNode>],
}

#[derive(Serialize, Deserialize)]
struct Hello {
    hash: u64,
    /// Tasks complete here before this compute.
    done: Vec<u32>,
    /// Those of them whose result this rank still holds (not sent away
    /// and dropped, nor failed).
    kept: Vec<u32>,
    /// Why this rank cannot compute the graph (its tasks are busy in
    /// another compute…), when it cannot.
    refused: Option<String>,
}

/// What one rank holds from earlier computes: the tasks complete there,
/// and those whose result it still holds.
pub(crate) struct Prior {
    pub(crate) done: Vec<u32>,
    pub(crate) kept: Vec<u32>,
}

/// A difference between this rank's graph and another's.
pub(crate) struct Mismatch {
    /// This rank's task at the first difference (or its last task, when
    /// the other graph is longer).
    pub(crate) task: Option<u32>,
    pub(crate) message: String,
}

impl Shape<'_> {
    /// For each task in walk order, whether it was made after the task of
    /// the same function met last before it in the walk (`None` for the
    /// first of its function). Every rank that builds the graph by the same
    /// calls in the same order has the same answers, whatever the keys'
    /// numbers (a rank may have made other tasks before, and in a local
    /// world the ranks share the counters); a graph whose inputs come in
    /// another order on some rank (from a `HashMap` built on each rank: its
    /// order is per process) has the same shape but not the same answers,
    /// and would run each rank's arguments under another rank's task.
    fn made_after(&self, mut each: impl FnMut(usize, Option<bool>)) {
        // The functions of a graph are few: a short list, searched from
        // its end (the function met last is the likeliest).
        let mut last: Vec<(*const TaskSite, u64)> = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let head = node.head();
            let site: *const TaskSite = head.site;
            match last.iter_mut().rev().find(|(s, _)| *s == site) {
                Some((_, seq)) => {
                    each(i, Some(head.seq > *seq));
                    *seq = head.seq;
                }
                None => {
                    last.push((site, head.seq));
                    each(i, None);
                }
            }
        }
    }

    /// A fingerprint of the shape, the same on every rank for the same
    /// graph: each task's function (hashed once while it repeats, as a graph's
    /// tasks mostly come in runs of one function), its number of inputs
    /// and their positions, then the roots. A few nanoseconds a task
    /// (SipHash, before, cost tens).
    fn hash(&self) -> u64 {
        let mut h = Mix(self.origins.len() as u64);
        let mut last: Option<(&str, u64)> = None;
        for (i, &origin) in self.origins.iter().enumerate() {
            let nh = match last {
                Some((l, v)) if std::ptr::eq(l, origin) => v,
                _ => {
                    let v = crate::codec::fnv1a(origin.as_bytes());
                    last = Some((origin, v));
                    v
                }
            };
            h.add(nh);
            h.add(self.deps[i].len() as u64);
            for &d in &self.deps[i] {
                h.add(u64::from(d));
            }
        }
        h.add(self.roots.len() as u64);
        for &r in self.roots {
            h.add(u64::from(r));
        }
        // Pins are few: only the pinned tasks are hashed, with their
        // positions.
        for (i, p) in self.pins.iter().enumerate() {
            if let Some(r) = p {
                h.add(i as u64);
                h.add(*r as u64);
            }
        }
        h.add(self.results.map_or(u64::MAX, |r| r as u64));
        self.made_after(|_, after| h.add(after.map_or(2, u64::from)));
        h.0
    }
}

/// A running hash of words: each folded in by a full 64×64→128-bit
/// multiply (as foldhash and wyhash mix).
struct Mix(u64);

impl Mix {
    fn add(&mut self, x: u64) {
        let p = u128::from(self.0 ^ x) * 0x9E37_79B9_7F4A_7C15_u128;
        self.0 = (p as u64 ^ (p >> 64) as u64).wrapping_add(0x2545_F491_4F6C_DD1D);
    }
}

/// The shape as it travels.
#[derive(Serialize, Deserialize)]
struct Wire {
    origins: Vec<String>,
    /// The keys as this rank prints them, for messages only.
    keys: Vec<String>,
    inputs: Vec<Vec<u32>>,
    roots: Vec<u32>,
    pins: Vec<Option<usize>>,
    results: Option<usize>,
    /// [`Shape::made_after`], by position.
    made_after: Vec<Option<bool>>,
}

impl Wire {
    /// The same graph, keys apart (their numbers differ between ranks).
    fn same(&self, o: &Wire) -> bool {
        (
            &self.origins,
            &self.inputs,
            &self.roots,
            &self.pins,
            self.results,
            &self.made_after,
        ) == (
            &o.origins,
            &o.inputs,
            &o.roots,
            &o.pins,
            o.results,
            &o.made_after,
        )
    }
}

/// Checks that every rank built the same graph; returns, for each rank,
/// what it holds from earlier computes.
pub(crate) fn check(
    comm: &Comm,
    shape: &Shape<'_>,
    prior: Prior,
    refused: Option<String>,
) -> Result<Result<Vec<Prior>, Mismatch>, Error> {
    let hash = shape.hash();
    let Prior { done, kept } = prior;
    let hellos = comm.allgather(&Hello {
        hash,
        done,
        kept,
        refused,
    })?;
    // A rank that cannot compute the graph: every rank says why (each sees
    // the same hellos, so all stop here).
    if let Some((r, why)) = hellos
        .iter()
        .enumerate()
        .find_map(|(r, h)| h.refused.as_ref().map(|w| (r, w)))
    {
        return Ok(Err(Mismatch {
            task: None,
            message: format!("rank {r} could not start this compute: {why}"),
        }));
    }
    if hellos.iter().all(|h| h.hash == hash) {
        let each = |h: Hello| Prior {
            done: h.done,
            kept: h.kept,
        };
        return Ok(Ok(hellos.into_iter().map(each).collect()));
    }
    let mut made_after = vec![None; shape.nodes.len()];
    shape.made_after(|i, a| made_after[i] = a);
    let mine = Wire {
        origins: shape.origins.iter().map(|n| n.to_string()).collect(),
        keys: shape
            .nodes
            .iter()
            .map(|n| n.head().key().to_string())
            .collect(),
        inputs: shape.deps.to_vecs(),
        roots: shape.roots.to_vec(),
        pins: shape.pins.to_vec(),
        results: shape.results,
        made_after,
    };
    let all = comm.allgather(&mine)?;
    let me = comm.rank();
    // The lowest other rank whose graph differs from this one's (a rank
    // whose graph equals this one's differs from some other rank: compare
    // with rank 0's then).
    let other = (0..all.len())
        .find(|&r| r != me && !all[r].same(&mine))
        .unwrap_or(0);
    Ok(Err(differ(&mine, me, &all[other], other)))
}

/// Task `i` of a rank's graph, for a message: its key, its function's
/// origin when `origin` (two functions of one name differ there), and its
/// inputs, the first [`SHOWN`] of them (a task may have thousands).
fn describe(s: &Wire, i: usize, origin: bool) -> String {
    let all = &s.inputs[i];
    let mut inputs: Vec<String> = all.iter().take(SHOWN).map(|d| format!("#{d}")).collect();
    if all.len() > SHOWN {
        inputs.push(format!("… {} in all", all.len()));
    }
    let defined = if origin {
        format!(", of `{}`", s.origins[i])
    } else {
        String::new()
    };
    format!(
        "task #{i} `{}`{defined} (inputs [{}])",
        s.keys[i],
        inputs.join(", ")
    )
}

/// The inputs of a task a message lists.
const SHOWN: usize = 8;

const SPMD: &str = "every rank must build the same graph (SPMD) before computing it across ranks";
const LEFT: &str = "A result that an earlier compute left on some ranks only (`compute_on_root`, \
                    or a handle to an intermediate task) makes the graphs differ: ask for it on \
                    every rank with `compute_on`";

/// The first difference between this rank's graph and rank `other`'s: in
/// the tasks, their number, the results asked for, the pins, the order
/// the tasks were made in, then where the results go.
fn differ(mine: &Wire, me: usize, theirs: &Wire, other: usize) -> Mismatch {
    let n = mine.origins.len().min(theirs.origins.len());
    let at = |i: usize, message: String| Mismatch {
        task: Some(i as u32),
        message,
    };
    let (a, b) = (mine, theirs);
    if let Some(i) = (0..n).find(|&i| a.origins[i] != b.origins[i] || a.inputs[i] != b.inputs[i]) {
        // The same function, without inputs on one side only: a result
        // held there from an earlier compute.
        let held = a.origins[i] == b.origins[i] && a.inputs[i].is_empty() != b.inputs[i].is_empty();
        let held = if held {
            format!(". {LEFT}")
        } else {
            String::new()
        };
        let origin = a.origins[i] != b.origins[i];
        let (da, db) = (describe(a, i, origin), describe(b, i, origin));
        return at(
            i,
            format!(
                "the ranks built different graphs: {da} on rank {me}, but {db} on rank {other}; \
                 {SPMD}{held}"
            ),
        );
    }
    if a.origins.len() != b.origins.len() {
        let (la, lb) = (a.origins.len(), b.origins.len());
        return Mismatch {
            task: la.checked_sub(1).map(|i| i as u32),
            message: format!(
                "the ranks built different graphs: {la} tasks on rank {me}, {lb} on rank {other} \
                 (the first {n} agree); {SPMD}. {LEFT}"
            ),
        };
    }
    if a.roots != b.roots {
        return Mismatch {
            task: a.roots.first().copied(),
            message: format!(
                "the ranks asked for different results: tasks {:?} on rank {me}, {:?} on rank \
                 {other}; {SPMD}",
                a.roots, b.roots
            ),
        };
    }
    if let Some(i) = (0..n).find(|&i| a.pins[i] != b.pins[i]) {
        let pin = |p: Option<usize>| match p {
            Some(r) => format!("pinned to rank {r}"),
            None => "not pinned".to_owned(),
        };
        let (da, pa, pb) = (describe(a, i, false), pin(a.pins[i]), pin(b.pins[i]));
        return at(
            i,
            format!(
                "the ranks pinned the tasks differently: {da} is {pa} on rank {me}, but {pb} on \
                 rank {other}; pin the same tasks to the same ranks on every rank (`.on_rank(r)` \
                 with an `r` that does not depend on the rank), or no rank can know where a \
                 result is computed"
            ),
        );
    }
    if a.results != b.results {
        let to = |r: Option<usize>| match r {
            Some(r) => format!("on rank {r} only (`compute_on_root`)"),
            None => "on every rank (`compute_on`)".to_owned(),
        };
        return Mismatch {
            task: a.roots.first().copied(),
            message: format!(
                "the ranks asked for the results in different places: {} on rank {me}, but {} on \
                 rank {other}; every rank must make the same call, with the same root",
                to(a.results),
                to(b.results)
            ),
        };
    }
    let i = (0..n)
        .find(|&i| a.made_after[i] != b.made_after[i])
        .unwrap_or(0);
    let made = |m: Option<bool>| match m {
        Some(true) => "after",
        Some(false) => "before",
        None => "as the first",
    };
    let (da, ma, mb) = (
        describe(a, i, false),
        made(a.made_after[i]),
        made(b.made_after[i]),
    );
    at(
        i,
        format!(
            "the ranks built the same shape from calls in another order: {da} was made {ma} the \
             task of its function before it in the graph on rank {me}, but {mb} on rank {other}, \
             so the ranks would run other arguments under the same task. A graph built by \
             iterating a `HashMap` or `HashSet` made on each rank (its order is per process) \
             does this: iterate a `BTreeMap`, a `BTreeSet` or a sorted `Vec` instead (and build \
             the graph on one thread: tasks made on several threads at once are numbered in any \
             order)"
        ),
    )
}
