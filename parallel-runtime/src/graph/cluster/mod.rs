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
mod coordinator;
mod exchange;
mod lists;
mod message;
mod outcome;
mod placement;
mod setup;
#[cfg(test)]
mod tests;
mod types;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::node::AnyNode;
use super::plan::Plan;
use super::{Compute, Delayed, DelayedError, Roots};
use crate::config::Backend;
#[cfg(doc)]
use crate::graph::FailureKind;
use crate::mpi::Comm;

pub use types::transferable;
#[doc(hidden)]
pub use types::{register, GraphNamed, GraphOpaque, GraphProbe, GraphViaSerde};

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

/// `compute()` on `backend`: with `Mpi`, across the world `#[mpi_main]`
/// (or a local world) installed on this thread, else `here(c)`.
pub(crate) fn or_here<C: Compute>(
    backend: Backend,
    c: C,
    here: impl FnOnce(C) -> Result<C::Output, DelayedError>,
) -> Result<C::Output, DelayedError> {
    if backend != Backend::Mpi || !crate::mpi::world::active() {
        return here(c);
    }
    // A handle, so that the installed communicator is not borrowed while
    // the graph runs (a task may compute or map itself).
    match installed_handle() {
        Some(comm) => run_on(&comm, false, None, c)
            .map(|o| o.unwrap_or_else(|| unreachable!("every rank gets the results"))),
        None => here(c),
    }
}

/// A handle on the maps' and graphs' duplicate of the installed
/// communicator, made by its first use (a collective call, which the hang
/// watchdog names as this compute's).
fn installed_handle() -> Option<Comm> {
    let _span = crate::trace::op_span("compute_on");
    crate::mpi::world::with_comm(Comm::handle)
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

fn run_on<C: Compute>(
    comm: &Comm,
    dup: bool,
    root: Option<usize>,
    c: C,
) -> Result<Option<C::Output>, DelayedError> {
    if dup && crate::mpi::world::is_installed(comm) {
        // The world of this thread: computed on the duplicate `compute()`
        // takes with the `mpi` backend (`or_here`), so that ranks that
        // compute the graph by either call meet in the same collectives.
        if let Some(handle) = installed_handle() {
            return run_on(&handle, false, root, c);
        }
    }
    crate::pool::deep(|| {
        crate::config::ensure_pool();
        let own;
        let comm = if dup {
            own = {
                let _span = crate::trace::op_span("compute_on");
                comm.dup().map_err(|e| outcome::comm_error(&c, e))?
            };
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
    let plan = match Plan::discover(roots.0, true, false) {
        Ok(plan) => plan,
        Err(e) => {
            // The other ranks must not wait: show them an empty graph.
            let shape = check::Shape {
                origins: Vec::new(),
                deps: &lists::Lists::default(),
                roots: &[],
                pins: &[],
                results: root,
                nodes: &[],
            };
            let _ = check::check(
                comm,
                &shape,
                check::Prior {
                    done: Vec::new(),
                    kept: Vec::new(),
                },
                Some(e.to_string()),
            );
            return Err(e.on_rank(comm.rank()));
        }
    };
    let out = setup::placed(comm, root, &plan, &c);
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
