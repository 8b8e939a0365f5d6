//! Graphs across MPI ranks (dask-mpi's cluster, without the scheduler):
//! every rank builds the same graph, [`compute_on`] runs it across the
//! ranks of a communicator, each task on exactly one rank.
//!
//! - **Placement** is computed from the graph alone, identically on every
//!   rank (see `placement.rs`): results already held stay where they are,
//!   pinned tasks ([`Delayed::on_rank`]) go to their rank, sources are
//!   spread in blocks, other tasks follow most of their inputs, with a
//!   balance cap. Each rank runs its tasks on its own thread pool.
//! - **Data** moves point to point, on the object path, only to the ranks
//!   that consume it (or ask for it as a result), and is dropped after its
//!   last reader on each rank. Only types that are
//!   `Serialize + DeserializeOwned` can move: a graph that would move
//!   another type is an error before anything runs, on every rank.
//! - **Checked first**: the ranks compare a fingerprint of the graph; a
//!   difference is an error naming the first task that differs.
//! - **Failure**: a panic or `Err` cancels the dependents on every rank
//!   and skips what has not started; every rank returns the same
//!   [`DelayedError`], naming the task and the rank
//!   ([`DelayedError::rank`]).

mod check;
mod exchange;
mod placement;
mod types;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde::{Deserialize, Serialize};

use super::error::{Failure, FailureKind};
use super::node::{AnyNode, Claim};
use super::plan::Plan;
use super::{Compute, Delayed, DelayedError, Roots, TaskKey};
use crate::config::Backend;
use crate::mpi::{Comm, ANY_SOURCE};

pub use types::transferable;
#[doc(hidden)]
pub use types::{register, GraphNamed, GraphOpaque, GraphProbe, GraphType, GraphViaSerde};

impl<T: Send + 'static> Delayed<T> {
    /// Runs the graph behind this value across the ranks of `comm` and
    /// returns it on every rank (dask-mpi's `client.compute(x).result()`);
    /// see [`compute_on`]. Every rank must call it on the same graph.
    ///
    /// # Errors
    /// As [`compute_on`].
    pub fn compute_on(self, comm: &Comm) -> Result<T, DelayedError> {
        compute_on(comm, self)
    }

    /// Pins this task to `rank` when its graph is computed across ranks
    /// (Dask's `client.compute(x, workers=…)`): a rank that holds a big
    /// input, or a GPU. Pin a group by pinning each task. Ignored on one
    /// machine. A pin to a rank the world does not have is an error of
    /// [`compute_on`], on every rank.
    #[must_use = "`on_rank` returns the pinned handle"]
    pub fn on_rank(self, rank: usize) -> Self {
        let erased = self.erased();
        let mut pins = pins().lock().unwrap_or_else(|p| p.into_inner());
        // Forget the pins of freed tasks (their `Weak` keeps only the
        // allocation, so an address is never reused while pinned).
        if pins.len() > 64 && pins.len().is_power_of_two() {
            pins.retain(|_, (w, _)| w.strong_count() > 0);
        }
        let addr = Arc::as_ptr(&erased) as *const () as usize;
        pins.insert(addr, (Arc::downgrade(&erased), rank));
        self
    }
}

type Pins = Mutex<HashMap<usize, (Weak<dyn AnyNode>, usize)>>;

fn pins() -> &'static Pins {
    static PINS: OnceLock<Pins> = OnceLock::new();
    PINS.get_or_init(Pins::default)
}

fn pin_of(
    node: &Arc<dyn AnyNode>,
    pins: &HashMap<usize, (Weak<dyn AnyNode>, usize)>,
) -> Option<usize> {
    let addr = Arc::as_ptr(node) as *const () as usize;
    pins.get(&addr).map(|(_, r)| *r)
}

/// Computes a graph across the ranks of `comm` (dask-mpi's
/// `client.compute`): a `Delayed`, a `Vec` of them or a tuple, as
/// [`compute`](super::compute); the results come back on every rank.
/// Every rank must call it with the same graph (SPMD), as a collective.
///
/// On a world of one rank (a program run without `mpirun`) it is
/// [`compute`](super::compute) on the thread pool; in a
/// [`local`](crate::mpi::local) world of threads it runs across the
/// threads as across processes.
///
/// ```no_run
/// use parallel_runtime::prelude::*;
/// use parallel_runtime::graph::compute_on;
///
/// #[delayed] fn load(i: u64) -> Vec<u64> { (0..1000).map(|x| x * i).collect() }
/// #[delayed] fn total(xs: Vec<u64>) -> u64 { xs.iter().sum() }
/// #[delayed] fn sum(xs: Vec<u64>) -> u64 { xs.iter().sum() }
///
/// #[mpi_main]
/// fn main(world: Comm) {
///     let parts: Vec<_> = (0..8).map(|i| total(load(i))).collect();
///     let all = compute_on(&world, sum(parts)).unwrap(); // on every rank
///     assert_eq!(all, (0..8).map(|i| 499_500 * i).sum::<u64>());
/// }
/// ```
/// (runnable: `examples/delayed_mpi.rs`).
///
/// # Errors
/// On every rank, the same [`DelayedError`]: the first task that failed
/// (with [`DelayedError::rank`], where it failed); a graph that differs
/// between ranks ([`FailureKind::GraphMismatch`], naming the first task
/// that differs); a result that must move between ranks and whose type
/// cannot ([`FailureKind::NotPlaceable`]); a failed message
/// ([`FailureKind::Comm`]).
pub fn compute_on<C: Compute>(comm: &Comm, c: C) -> Result<C::Output, DelayedError> {
    let out = run_on(comm, true, None, c)?;
    Ok(out.unwrap_or_else(|| unreachable!("every rank gets the results")))
}

/// [`compute_on`], with the results on rank `root` only (`Some` there,
/// `None` elsewhere): a graph whose result only rank 0 prints or writes
/// is not broadcast.
///
/// # Errors
/// As [`compute_on`], on every rank; `root` out of range is a
/// [`FailureKind::NotPlaceable`] error.
pub fn compute_on_root<C: Compute>(
    comm: &Comm,
    root: usize,
    c: C,
) -> Result<Option<C::Output>, DelayedError> {
    run_on(comm, true, Some(root), c)
}

/// `compute()` with the `mpi` backend: across the world `#[mpi_main]` (or
/// a local world) installed on this thread; `Err(c)` when there is none.
pub(crate) fn compute_installed<C: Compute>(
    backend: Backend,
    c: C,
) -> Result<Result<C::Output, DelayedError>, C> {
    if backend != Backend::Mpi || !crate::mpi::world::active() {
        return Err(c);
    }
    let mut c = Some(c);
    let out = crate::mpi::world::with_comm(|comm| {
        let Some(c) = c.take() else {
            unreachable!("with_comm calls its closure once")
        };
        run_on(comm, false, None, c)
    });
    match (out, c) {
        (Some(r), _) => Ok(r.map(|o| o.unwrap_or_else(|| unreachable!("every rank")))),
        (None, Some(c)) => Err(c),
        (None, None) => unreachable!("with_comm ran its closure but returned nothing"),
    }
}

/// What the last graph computed across ranks on this thread did on this
/// rank: to check placement, or to measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// This rank.
    pub rank: usize,
    /// Tasks placed on this rank.
    pub tasks: usize,
    /// Results sent to other ranks (one per value and destination).
    pub sent: usize,
    /// Results received from other ranks.
    pub received: usize,
}

thread_local! {
    static LAST: Cell<Option<ClusterStats>> = const { Cell::new(None) };
}

/// The [`ClusterStats`] of the last [`compute_on`] (or `compute()` across
/// ranks) on this thread; `None` before any.
pub fn last_cluster_stats() -> Option<ClusterStats> {
    LAST.with(Cell::get)
}

/// What each rank says at the end: its first failure (task, kind,
/// message), how many tasks it cancelled or skipped, whether it sent
/// `Abort`s.
#[derive(Serialize, Deserialize)]
struct Report {
    failure: Option<(u32, u8, String)>,
    cancelled: u64,
    aborted: bool,
}

fn run_on<C: Compute>(
    comm: &Comm,
    dup: bool,
    root: Option<usize>,
    c: C,
) -> Result<Option<C::Output>, DelayedError> {
    crate::pool::deep(|| {
        crate::config::ensure_pool();
        let own;
        let comm = if dup {
            own = comm.dup().map_err(|e| comm_error(&c, e))?;
            &own
        } else {
            comm
        };
        let out = run_plan(comm, root, c);
        crate::trace::flush_if_top_level();
        out
    })
}

fn run_plan<C: Compute>(
    comm: &Comm,
    root: Option<usize>,
    c: C,
) -> Result<Option<C::Output>, DelayedError> {
    let mut roots = Roots::default();
    c.roots(&mut roots);
    let plan = match Plan::discover(roots.0) {
        Ok(plan) => plan,
        Err(e) => {
            // The other ranks must not wait: show them an empty graph.
            let shape = check::Shape {
                names: Vec::new(),
                deps: &[],
                roots: &[],
                nodes: &[],
            };
            let _ = check::check(comm, &shape, Vec::new());
            return Err(e.on_rank(comm.rank()));
        }
    };
    let out = placed(comm, root, &plan, &c);
    let out = match out {
        Ok(true) => {
            // SAFETY: the graph of these roots ran without failure, and
            // this rank holds every root.
            unsafe { c.finish() }.map(Some)
        }
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    plan.release();
    out
}

/// Checks, places and runs the claimed graph; `Ok(true)` when this rank
/// holds the results.
fn placed<C: Compute>(
    comm: &Comm,
    root: Option<usize>,
    plan: &Plan,
    c: &C,
) -> Result<bool, DelayedError> {
    let (nodes, prior, order) = plan.claimed();
    let (me, size) = (comm.rank(), comm.size());
    let n = nodes.len();
    let index = |d: &Arc<dyn AnyNode>| d.head().index.load(Ordering::Relaxed);
    let deps: Vec<Vec<u32>> = nodes
        .iter()
        .zip(prior)
        .map(|(node, &p)| match p {
            Claim::Idle => node.head().deps.iter().map(index).collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut roots = Roots::default();
    c.roots(&mut roots);
    let root_ix: Vec<u32> = roots.0.iter().map(index).collect();
    drop(roots);
    let shape = check::Shape {
        names: nodes.iter().map(|n| n.head().site.name).collect(),
        deps: &deps,
        roots: &root_ix,
        nodes,
    };
    let done: Vec<u32> = (0..n as u32)
        .filter(|&i| prior[i as usize] != Claim::Idle)
        .collect();
    let done = match check::check(comm, &shape, done) {
        Ok(Ok(done)) => done,
        Ok(Err(m)) => {
            let at = m.task.or(root_ix.first().copied()).unwrap_or(0);
            return Err(error_at(nodes, at, FailureKind::GraphMismatch, m.message).on_rank(me));
        }
        Err(e) => return Err(error_at(nodes, 0, FailureKind::Comm, e.to_string()).on_rank(me)),
    };
    // Where each task is complete already, by rank.
    let mut done_on: Vec<Option<u32>> = vec![None; n];
    let mut here = vec![false; n];
    for (r, list) in done.iter().enumerate().rev() {
        for &i in list {
            done_on[i as usize] = Some(r as u32);
            here[i as usize] |= r == me;
        }
    }
    let pinned: Vec<Option<usize>> = {
        let pins = pins().lock().unwrap_or_else(|p| p.into_inner());
        nodes.iter().map(|node| pin_of(node, &pins)).collect()
    };
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
    let mut dests: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut reads = vec![0u32; n];
    for c in 0..n {
        for &d in &deps[c] {
            dests[d as usize].push(owner[c]);
            reads[d as usize] += u32::from(owner[c] == me as u32);
        }
    }
    for &r in &root_ix {
        dests[r as usize].extend_from_slice(&results);
        reads[r as usize] += u32::from(results.contains(&(me as u32)));
    }
    for (i, list) in dests.iter_mut().enumerate() {
        list.sort_unstable();
        list.dedup();
        list.retain(|&r| r != owner[i] && !complete_on(i, r));
    }
    let types = match transfer_types(nodes, &owner, &dests) {
        Ok(t) => t,
        Err(e) => return Err(e),
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
    let outcome = exchange::run(&g, comm)
        .map_err(|e| error_at(nodes, 0, FailureKind::Comm, e.to_string()).on_rank(me))?;
    let mine = owner.iter().filter(|&&o| o == me as u32).count();
    LAST.with(|l| {
        l.set(Some(ClusterStats {
            rank: me,
            tasks: mine,
            sent: outcome.sent,
            received: outcome.received,
        }))
    });
    finish(comm, nodes, outcome)?;
    Ok(results.contains(&(me as u32)))
}

/// The type of each task whose result crosses ranks; an error, the same
/// on every rank, for the first that cannot.
fn transfer_types(
    nodes: &[Arc<dyn AnyNode>],
    owner: &[u32],
    dests: &[Vec<u32>],
) -> Result<Vec<Option<GraphType>>, DelayedError> {
    let mut seen: HashMap<std::any::TypeId, Option<GraphType>> = HashMap::new();
    let mut types = vec![None; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let Some(&to) = dests[i].first() else {
            continue;
        };
        let t = *seen
            .entry(node.as_any().type_id())
            .or_insert_with(|| types::lookup(&**node));
        if t.and_then(|t| t.wire).is_none() {
            let ty = t.map_or_else(
                || "its type (made by `value` or `delayed_fn`, never registered)".to_owned(),
                |t| format!("its type `{}`", t.name),
            );
            let message = format!(
                "its result must move from rank {} to rank {to}, which consumes it, and {ty} is not \
                 `Serialize + DeserializeOwned`: derive them (and call \
                 `parallel_runtime::graph::transferable::<T>()` for a type no #[delayed] function \
                 returns), or pin the task and its consumers to one rank with `.on_rank(r)`",
                owner[i]
            );
            return Err(error_at(
                nodes,
                i as u32,
                FailureKind::NotPlaceable,
                message,
            ));
        }
        types[i] = t;
    }
    Ok(types)
}

/// The collective end of a run: every rank learns which task failed where,
/// and takes the `Abort`s sent to it that it has not received.
fn finish(
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

fn error_at(
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
    static SITE: super::TaskSite = super::TaskSite::new("compute_on");
    TaskKey {
        site: &SITE,
        seq: 0,
    }
}

fn comm_error<C: Compute>(c: &C, e: crate::mpi::Error) -> DelayedError {
    let mut roots = Roots::default();
    c.roots(&mut roots);
    error_at(&roots.0, 0, FailureKind::Comm, e.to_string())
}

/// A [`FailureKind`] as it travels.
fn kind_code(k: FailureKind) -> u8 {
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

fn kind_of(code: u8) -> FailureKind {
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
fn trace_task(g: &exchange::Placed<'_>, i: u32, rank: u32, start: f64) {
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
fn trace_transfer(g: &exchange::Placed<'_>, i: u32, from: u32, to: u32, bytes: usize, start: f64) {
    let end = crate::trace::now_us();
    let key = g.nodes[i as usize].head().key().to_string();
    let mut args = serde_json::Map::new();
    args.insert("key".into(), key.clone().into());
    args.insert("from".into(), from.into());
    args.insert("to".into(), to.into());
    args.insert("bytes".into(), bytes.into());
    crate::trace::record(&format!("transfer {key}"), "transfer", start, end, args);
}
