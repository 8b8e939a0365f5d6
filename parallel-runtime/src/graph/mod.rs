//! Lazy task graphs: the engine behind `#[delayed]` (Dask's `delayed`).
//!
//! Calling a `#[delayed]` function runs nothing: it records a task and
//! returns a [`Delayed<T>`], a cheap handle to the result to come. Handles
//! are passed to other delayed functions wherever a `T` is expected, which
//! builds a graph; [`Delayed::compute`] (or [`compute`] for several results
//! at once) runs the graph on the shared thread pool.
//!
//! ```
//! use parallel_runtime::prelude::*;
//!
//! #[delayed] fn inc(x: i64) -> i64 { x + 1 }
//! #[delayed] fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! let x = inc(1);                 // nothing has run yet
//! let y = inc(2);
//! let z = add(x, y);              // a graph of three tasks
//! assert_eq!(z.graph().len(), 3);
//! assert_eq!(z.compute().unwrap(), 5);
//! ```
//!
//! What a task receives, and how a graph behaves:
//!
//! - **Arguments.** A parameter of type `T` accepts a `T`, a `Delayed<T>`
//!   (moved: that task is its only consumer), or a `&Delayed<T>` (shared:
//!   needs `T: Clone + Sync`); a `Vec<T>` parameter also accepts a
//!   `Vec<Delayed<T>>` or a `&[Delayed<T>]`. Anything else is a type error
//!   ([`IntoDelayed`]).
//! - **Sharing.** A task runs once per graph, however many tasks consume its
//!   result; every consumer but the last gets a clone, the last gets the
//!   value itself.
//! - **Freeing.** A result is dropped as soon as its last consumer has read
//!   it, unless you still hold a handle to it, in which case it is kept so
//!   that computing that handle later costs nothing.
//! - **Backends.** `PARALLEL_BACKEND=serial` (or
//!   [`config::set_backend`](crate::config::set_backend)) runs the graph on
//!   the calling thread in a fixed order, inputs first; otherwise it runs on
//!   the shared pool ([`compute_with`] picks one for a single call).
//! - **Failure.** A panic, or an `Err` from a function that returns
//!   `Result`, cancels the tasks that depend on it and every task not yet
//!   started; `compute` returns a [`DelayedError`] naming the task.
//! - **Pictures and inspection.** [`Graph`] lists the tasks, their keys and
//!   dependencies, and draws them (DOT, SVG).

mod claim;
mod cloner;
mod closure;
pub(crate) mod cluster; // issue 12: graphs across MPI ranks (`compute_on`)
mod error;
mod handoff;
mod inspect;
mod key;
#[doc(hidden)]
pub mod layout;
mod node;
mod plan;
mod svg;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

pub use closure::{delayed_fn, DelayedFn, TaskFn};
pub use cluster::{compute_on, compute_on_root, last_cluster_stats, transferable, ClusterStats};
pub use error::{DelayedError, FailureKind};
pub use inspect::{Graph, NodeState, SvgEngine};
pub use key::{TaskKey, TaskSite};

#[doc(hidden)]
pub use node::{Inputs, TaskFail};

use node::{AnyNode, Deps, Node, TaskNode};
use plan::Plan;

use crate::config::Backend;

/// A result to come: a handle to one task of a lazy graph (Dask's
/// `Delayed`). Cheap to move; cloning it (for `T: Clone + Sync`) shares the
/// same task, which still runs once.
///
/// Nothing runs until [`compute`](Delayed::compute).
pub struct Delayed<T> {
    /// A `TaskNode<T, _>` (its task type erased): its typed part is a
    /// `Node<T>` ([`Delayed::typed`]).
    node: Arc<dyn AnyNode>,
    _result: PhantomData<fn() -> T>,
}

impl<T: Clone + Send + Sync + 'static> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        self.typed().cloner.set(<T as Clone>::clone);
        Delayed {
            node: self.node.clone(),
            _result: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Delayed({})", self.node.head().key())
    }
}

impl<T: Send + 'static> Delayed<T> {
    fn erased(&self) -> Arc<dyn AnyNode> {
        self.node.clone()
    }

    /// The typed part of the node.
    #[inline]
    fn typed(&self) -> &Node<T> {
        Node::of(&*self.node)
    }

    /// Runs the graph behind this value and returns it, on the backend of
    /// the run (`PARALLEL_BACKEND`, default: the shared thread pool).
    /// Dask's `x.compute()`.
    ///
    /// # Errors
    /// The first task that panicked or returned `Err`, by key; see
    /// [`DelayedError`].
    pub fn compute(self) -> Result<T, DelayedError> {
        compute(self)
    }

    /// The key of this task, e.g. `load-3`.
    pub fn key(&self) -> TaskKey {
        self.node.head().key()
    }

    /// The keys of the tasks whose results are this task's inputs, in
    /// argument order.
    pub fn dependencies(&self) -> Vec<TaskKey> {
        self.node
            .head()
            .deps()
            .iter()
            .map(|d| d.head().key())
            .collect()
    }

    /// A snapshot of the graph behind this value, to inspect or draw.
    pub fn graph(&self) -> Graph {
        Graph::of(self)
    }

    /// The graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        self.graph().to_dot()
    }

    /// Writes the graph as SVG to `path` (Dask's `visualize`): through
    /// Graphviz `dot` when it is installed, else with the built-in layout.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write_svg(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<SvgEngine> {
        self.graph().write_svg(path)
    }
}

/// Something that can be passed to a `#[delayed]` function where a `T` is
/// expected: the `T` itself, a `Delayed<T>`, a `&Delayed<T>` (shared, for
/// `T: Clone + Sync`), and for `Vec<T>` a `Vec<Delayed<T>>` or
/// `&[Delayed<T>]` (Dask's lists of delayed values); a `String` parameter
/// also takes a `&str`.
///
/// Because several types fit, write the argument's type out where Rust
/// would infer it: `String::from("a")` or `"a"` rather than `"a".into()`,
/// `Vec::<u8>::new()` rather than `vec![]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed where a #[delayed] function expects `{T}`",
    label = "expected `{T}` or `Delayed<{T}>`",
    note = "a #[delayed] parameter of type `T` takes a `T`, a `Delayed<T>` or a `&Delayed<T>`, and `T` is `Send + 'static` (a task may run on another thread: not an `Rc` nor a borrow); a `Vec<T>` parameter also takes a `Vec<Delayed<T>>`"
)]
pub trait IntoDelayed<T>: Sized {
    #[doc(hidden)]
    type Input: Input<T>;
    #[doc(hidden)]
    fn into_input(self, deps: &mut DepList) -> Self::Input;
}

/// The inputs a new task depends on (written by the macro).
#[doc(hidden)]
#[derive(Default)]
pub struct DepList(Deps);

impl DepList {
    /// An empty list.
    pub fn new() -> Self {
        DepList(Deps::new())
    }

    fn push(&mut self, node: Arc<dyn AnyNode>) -> u32 {
        let i = self.0.len() as u32;
        self.0.push(node);
        i
    }

    /// Appends `nodes` (one `extend`) as the inputs of one `Vec` argument.
    fn extend<T>(&mut self, nodes: impl Iterator<Item = Arc<dyn AnyNode>>) -> Range<T> {
        let start = self.0.len() as u32;
        self.0.extend(nodes);
        Range(start, self.0.len() as u32, PhantomData)
    }
}

/// One argument of a task, as the task keeps it until it runs.
#[doc(hidden)]
pub trait Input<T>: Send + 'static {
    /// The argument's value, from the task's inputs.
    fn resolve(self, inputs: &Inputs<'_>) -> Result<T, TaskFail>;
}

/// A plain value.
#[doc(hidden)]
pub struct Ready<T>(T);
/// The result of input number `.0`.
#[doc(hidden)]
pub struct At<T>(u32, PhantomData<fn() -> T>);
/// The results of inputs `.0..,1`, as a `Vec`.
#[doc(hidden)]
pub struct Range<T>(u32, u32, PhantomData<fn() -> T>);

impl<T: Send + 'static> Input<T> for Ready<T> {
    #[inline(always)]
    fn resolve(self, _: &Inputs<'_>) -> Result<T, TaskFail> {
        Ok(self.0)
    }
}

#[inline(always)]
fn read<T: Send + 'static>(inputs: &Inputs<'_>, i: u32) -> Result<T, TaskFail> {
    let node = inputs.0[i as usize].as_any().downcast_ref::<Node<T>>();
    match node {
        // SAFETY: the input completed before this task started (the plan
        // runs a task only when all its inputs are done), and this task is
        // one of the reads counted for it, made once (`resolve` takes
        // `self`).
        Some(node) => unsafe { node.read() },
        None => unreachable!("parallel-runtime: input {i} of a task has another type"),
    }
}

impl<T: Send + 'static> Input<T> for At<T> {
    #[inline(always)]
    fn resolve(self, inputs: &Inputs<'_>) -> Result<T, TaskFail> {
        read(inputs, self.0)
    }
}

impl<T: Send + 'static> Input<Vec<T>> for Range<T> {
    fn resolve(self, inputs: &Inputs<'_>) -> Result<Vec<T>, TaskFail> {
        // Sized up front: one allocation, where collecting a `Result`
        // iterator starts small and grows.
        let mut out = Vec::with_capacity((self.1 - self.0) as usize);
        for i in self.0..self.1 {
            out.push(read(inputs, i)?);
        }
        Ok(out)
    }
}

impl<T: Send + 'static> IntoDelayed<T> for T {
    type Input = Ready<T>;
    #[inline(always)]
    fn into_input(self, _: &mut DepList) -> Ready<T> {
        Ready(self)
    }
}

/// A string literal where a `String` is expected (`.into()` cannot be
/// inferred through `IntoDelayed`).
impl IntoDelayed<String> for &str {
    type Input = Ready<String>;
    #[inline(always)]
    fn into_input(self, _: &mut DepList) -> Ready<String> {
        Ready(self.to_owned())
    }
}

impl<T: Send + 'static> IntoDelayed<T> for Delayed<T> {
    type Input = At<T>;
    #[inline(always)]
    fn into_input(self, deps: &mut DepList) -> At<T> {
        At(deps.push(self.node), PhantomData)
    }
}

impl<T: Clone + Send + Sync + 'static> IntoDelayed<T> for &Delayed<T> {
    type Input = At<T>;
    #[inline(always)]
    fn into_input(self, deps: &mut DepList) -> At<T> {
        <Delayed<T> as IntoDelayed<T>>::into_input(self.clone(), deps)
    }
}

impl<T: Send + 'static> IntoDelayed<Vec<T>> for Vec<Delayed<T>> {
    type Input = Range<T>;
    fn into_input(self, deps: &mut DepList) -> Range<T> {
        deps.extend(self.into_iter().map(|d| d.node))
    }
}

impl<T: Clone + Send + Sync + 'static> IntoDelayed<Vec<T>> for &[Delayed<T>] {
    type Input = Range<T>;
    fn into_input(self, deps: &mut DepList) -> Range<T> {
        deps.extend(self.iter().map(|d| d.clone().node)) // no `Vec` between
    }
}

impl<T: Clone + Send + Sync + 'static> IntoDelayed<Vec<T>> for &Vec<Delayed<T>> {
    type Input = Range<T>;
    fn into_input(self, deps: &mut DepList) -> Range<T> {
        <&[Delayed<T>] as IntoDelayed<Vec<T>>>::into_input(self.as_slice(), deps)
    }
}

/// A new task (written by the macro): `f` runs once its inputs `deps` are
/// computed.
#[doc(hidden)]
#[inline]
pub fn task<T: Send + 'static>(
    site: &'static TaskSite,
    deps: DepList,
    f: impl FnOnce(&Inputs<'_>) -> Result<T, TaskFail> + Send + 'static,
) -> Delayed<T> {
    Delayed {
        node: Arc::new(TaskNode::new(site, deps.0, f)),
        _result: PhantomData,
    }
}

/// A plain value as a task of its own (Dask's `delayed(value)`): for
/// mixing values and delayed results in one `Vec`, or for sharing one big
/// input between tasks without cloning it up front.
///
/// ```
/// use parallel_runtime::prelude::*;
/// use parallel_runtime::graph::value;
///
/// #[delayed] fn total(xs: Vec<i64>) -> i64 { xs.iter().sum() }
/// #[delayed] fn inc(x: i64) -> i64 { x + 1 }
///
/// let parts = vec![value(10), inc(1), value(100)];
/// assert_eq!(total(parts).compute().unwrap(), 112);
/// ```
pub fn value<T: Send + 'static>(v: T) -> Delayed<T> {
    static SITE: TaskSite = TaskSite::new("value");
    task(&SITE, DepList::new(), move |_| Ok(v))
}

/// Result helpers for the macro.
#[doc(hidden)]
pub mod outcome;

/// The roots of one compute (written by [`Compute`] impls).
#[doc(hidden)]
#[derive(Default)]
pub struct Roots(Vec<Arc<dyn AnyNode>>);

/// What [`compute`] accepts: a `Delayed<T>`, a `Vec` of them, or a tuple
/// (of up to 8) of any of these; the results come back in the same shape.
/// All of them share one graph, so a task they have in common runs once
/// (Dask's `dask.compute(a, b)`).
pub trait Compute: Sized {
    /// The computed values, in the same shape.
    type Output;
    #[doc(hidden)]
    fn roots(&self, roots: &mut Roots);
    /// # Safety
    /// Only `compute` calls this, after a successful run of the graph of
    /// exactly these roots.
    #[doc(hidden)]
    unsafe fn finish(self) -> Result<Self::Output, DelayedError>;
}

impl<T: Send + 'static> Compute for Delayed<T> {
    type Output = T;
    fn roots(&self, roots: &mut Roots) {
        roots.0.push(self.erased());
    }
    unsafe fn finish(self) -> Result<T, DelayedError> {
        // SAFETY: the graph ran; this root is one of the counted reads.
        unsafe { outcome::read_root(self.typed()) }
    }
}

impl<C: Compute> Compute for Vec<C> {
    type Output = Vec<C::Output>;
    fn roots(&self, roots: &mut Roots) {
        for c in self {
            c.roots(roots);
        }
    }
    unsafe fn finish(self) -> Result<Self::Output, DelayedError> {
        // SAFETY: forwarded.
        self.into_iter().map(|c| unsafe { c.finish() }).collect()
    }
}

macro_rules! tuple_compute {
    ($($name:ident)+) => {
        impl<$($name: Compute),+> Compute for ($($name,)+) {
            type Output = ($($name::Output,)+);
            #[allow(non_snake_case)]
            fn roots(&self, roots: &mut Roots) {
                let ($($name,)+) = self;
                $($name.roots(roots);)+
            }
            #[allow(non_snake_case)]
            unsafe fn finish(self) -> Result<Self::Output, DelayedError> {
                let ($($name,)+) = self;
                // SAFETY: forwarded.
                Ok(($(unsafe { $name.finish() }?,)+))
            }
        }
    };
}
tuple_compute!(A);
tuple_compute!(A B);
tuple_compute!(A B C);
tuple_compute!(A B C D);
tuple_compute!(A B C D E);
tuple_compute!(A B C D E F);
tuple_compute!(A B C D E F G);
tuple_compute!(A B C D E F G H);

/// Computes several results that share one graph, on the backend of the run
/// (Dask's `dask.compute(a, b)`): a `Delayed`, a `Vec` of them, or a tuple.
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[delayed] fn inc(x: i64) -> i64 { x + 1 }
/// #[delayed] fn add(x: i64, y: i64) -> i64 { x + y }
///
/// let x = inc(1);
/// let sum = add(&x, 10);          // `&x`: `x` is also wanted below
/// let (x, sum) = compute((x, sum)).unwrap();
/// assert_eq!((x, sum), (2, 12));
/// let all = compute((0..4).map(inc).collect::<Vec<_>>()).unwrap();
/// assert_eq!(all, [1, 2, 3, 4]);
/// ```
///
/// # Errors
/// The first task that failed; see [`DelayedError`].
pub fn compute<C: Compute>(c: C) -> Result<C::Output, DelayedError> {
    compute_with(crate::config::run_backend().unwrap_or(Backend::Threads), c)
}

/// [`compute`] on the given backend, whatever `PARALLEL_BACKEND` says:
/// `Serial` runs every task on the calling thread, inputs first, in a fixed
/// order (Dask's `scheduler="synchronous"`); `Threads` the shared pool; `Mpi`
/// the ranks `#[mpi_main]` installed here, as [`compute_on`] (else `Threads`).
///
/// # Errors
/// The first task that failed; see [`DelayedError`].
pub fn compute_with<C: Compute>(backend: Backend, c: C) -> Result<C::Output, DelayedError> {
    // A task may call `compute` itself, recursively: continue on a new
    // stack segment when the worker's stack runs low, so that depth is
    // limited by memory (as plain recursion is), not by a 2 MiB stack.
    cluster::or_here(backend, c, |c| {
        crate::pool::deep(|| compute_here(backend, c))
    })
}

fn compute_here<C: Compute>(backend: Backend, c: C) -> Result<C::Output, DelayedError> {
    // Starts the pool, and tracing if `PARALLEL_TRACE` asks for it.
    crate::config::ensure_pool();
    let mut roots = Roots::default();
    c.roots(&mut roots);
    let plan = Plan::discover(roots.0, false, true)?;
    // A destructor of the user's that panics during the run (of a value or
    // a task the run frees, outside any task) ends the compute with its
    // panic, once the claims are released: else every handle of the graph
    // stayed claimed, and each later compute of one said `Busy`.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan.run(backend)));
    if let Err(panic) = run {
        plan.release();
        drop(plan);
        std::panic::resume_unwind(panic);
    }
    let out = match plan.error() {
        Some(e) => Err(e),
        // SAFETY: the graph of these roots ran without failure.
        None => unsafe { c.finish() },
    };
    plan.release();
    // What is left of a lent graph (its roots) is freed here, before
    // `compute` returns; the rest went during the run (`plan/mod.rs`).
    drop(plan);
    crate::trace::flush_if_top_level();
    out
}

#[cfg(test)]
mod tests;
