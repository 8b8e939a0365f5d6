//! One node of a task graph: the task, its inputs, and the slot its result
//! lives in between the moment it ran and the moment its last consumer read
//! it.
//!
//! A node is one allocation: a [`TaskNode`], the typed [`Node<T>`] (head,
//! result slot) followed by the task closure itself (not boxed), with the
//! inputs of a task of up to [`INLINE_DEPS`] inputs inline in the head
//! ([`Deps`]); so recording a task costs one allocation, not three.
//!
//! A node is shared through `Arc`s: one in each consumer's input list, one in
//! each [`Delayed`](super::Delayed) handle, one in the plan of a running
//! compute. Its mutable parts (the task and the result slot) are touched only
//! by the one compute that holds the node's *claim* (its `state` is
//! [`Claim::Claimed`]), following the protocol in [`Node::read`]; that is what makes
//! the `UnsafeCell`s below sound without a lock per node.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;

pub(crate) use super::claim::{AtomicClaim, Claim};
pub(crate) use super::cloner::Cloner;
use super::error::{Failure, FailureKind};
use super::key::{TaskKey, TaskSite};
use crate::panic::PayloadText;

/// Inputs kept inside the node without an allocation of their own: a
/// stencil's three, a chain's one, a binary reduction's two.
pub(crate) const INLINE_DEPS: usize = 3;

/// The inputs of a node, in argument order (inline up to [`INLINE_DEPS`]).
pub(crate) type Deps = SmallVec<[Arc<dyn AnyNode>; INLINE_DEPS]>;

/// The untyped part of a node.
pub(crate) struct Head {
    pub(crate) site: &'static TaskSite,
    pub(crate) seq: u64,
    pub(crate) state: AtomicClaim,
    /// A handle outside the running compute will want the result: read it
    /// by cloning, never by taking.
    pub(crate) kept: AtomicBool,
    /// Reads of the result left in the running compute.
    pub(crate) remaining: AtomicUsize,
    /// Position in the running compute's plan.
    pub(crate) index: AtomicU32,
    /// The nodes whose results are this node's inputs, in argument order
    /// ([`Head::deps`]). Never changed after construction (so inspection
    /// needs no lock), except by `Drop` and by [`Head::take_deps`].
    deps: UnsafeCell<Deps>,
}

// SAFETY: every field but `deps` is `Sync`; `deps` is only written by
// `take_deps`, whose caller guarantees that no other thread reads it.
unsafe impl Sync for Head {}

impl Head {
    /// The nodes whose results are this node's inputs, in argument order.
    #[inline]
    pub(crate) fn deps(&self) -> &Deps {
        // SAFETY: only `take_deps` writes the list, while nobody else can
        // read it (its contract).
        unsafe { &*self.deps.get() }
    }

    /// Takes the input list out of the node (which then has none).
    ///
    /// # Safety
    /// No other thread reads this node's inputs, now or later: the caller
    /// holds the node's claim in a compute that no handle outside can see
    /// (a *lent* plan, `plan.rs`), and the node's task has run.
    #[inline]
    pub(crate) unsafe fn take_deps(&self) -> Deps {
        // SAFETY: by the caller's contract nobody else reads the list.
        std::mem::take(unsafe { &mut *self.deps.get() })
    }

    pub(crate) fn key(&self) -> TaskKey {
        TaskKey {
            site: self.site,
            seq: self.seq,
        }
    }
}

/// What a task returns: its value, or why it failed (without the key, which
/// the node adds).
pub(crate) type TaskResult<T> = Result<T, TaskFail>;

/// A failure raised inside a task, before the node names it.
#[doc(hidden)]
pub struct TaskFail {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    pub(crate) error: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for TaskFail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFail")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .finish()
    }
}

enum Slot<T> {
    Empty,
    Value(T),
    Failed(Arc<Failure>),
    /// Sent to the ranks that consumed it, by a compute across ranks, and
    /// not kept here.
    Moved,
}

/// The inputs of a running task: the results of its dependencies.
#[doc(hidden)]
pub struct Inputs<'a>(pub(crate) &'a [Arc<dyn AnyNode>]);

/// The typed part of a node: what a consumer reads (found by downcasting
/// [`AnyNode::as_any`]), whatever the type of the task that fills it.
pub(crate) struct Node<T> {
    pub(crate) head: Head,
    slot: UnsafeCell<Slot<T>>,
    /// `T::clone`, recorded when a handle is cloned (which needs
    /// `T: Clone`): a result read by several consumers is cloned for all
    /// but the last.
    pub(crate) cloner: Cloner<T>,
}

/// A whole node: the typed part, then the task `F` in the same allocation
/// (`None` once run or dropped). The typed part is found through
/// [`AnyNode::as_any`] ([`Node::of`]).
pub(crate) struct TaskNode<T, F> {
    pub(crate) node: Node<T>,
    task: UnsafeCell<Option<F>>,
}

// SAFETY: `task` and `slot` are only touched by the compute that holds the
// node's claim (`state == CLAIMED`, won by compare-and-swap), by `Drop`
// (`&mut self`), and by readers that follow the protocol of `Node::read`:
// the writer of the slot finished before any reader started (the readiness
// counters of the plan are decremented with `AcqRel` after the write), and
// the one reader that takes the value does so only after every other reader
// has finished. A `&T` is used by several threads at once only when the
// result has several readers, and a result can have several readers only
// through a cloned handle, which `Delayed: Clone` allows only for
// `T: Clone + Sync`; with one reader the value just moves (`T: Send`).
unsafe impl<T: Send> Sync for Node<T> {}
// SAFETY: the node owns a `T` and a `Send` task; both may move threads.
unsafe impl<T: Send> Send for Node<T> {}
// SAFETY: as for `Node<T>`: the task is only touched by the holder of the
// claim (and taken out to run, never shared), or by `Drop`.
unsafe impl<T: Send, F: Send> Sync for TaskNode<T, F> {}

/// A node, whatever its result type.
pub(crate) trait AnyNode: Send + Sync + 'static {
    fn head(&self) -> &Head;
    fn as_any(&self) -> &dyn Any;
    /// For `Drop`: moves the dependency list onto `stack`, in order (to
    /// free long chains without recursion).
    fn move_deps(&mut self, stack: &mut Vec<Arc<dyn AnyNode>>);

    /// Runs the task and stores its value or failure.
    ///
    /// # Safety
    /// The caller holds the claim, the node's prior state was `IDLE`, every
    /// dependency completed without failure, and no other thread touches
    /// this node's task or slot until this returns.
    unsafe fn run(&self) -> Result<(), Arc<Failure>>;

    /// Drops the task and stores `failure` as the node's result.
    ///
    /// # Safety
    /// As for [`AnyNode::run`], except that dependencies may have failed.
    unsafe fn fail(&self, failure: Arc<Failure>);

    /// Drops the task without running it (its result came from elsewhere).
    ///
    /// # Safety
    /// The caller holds the claim.
    unsafe fn drop_task(&self);

    /// The stored failure, if the node failed.
    ///
    /// # Safety
    /// The node completed (ran, failed, or was already complete when
    /// claimed) and the caller holds the claim or is one of its readers.
    unsafe fn failure(&self) -> Option<Arc<Failure>>;

    /// The state to leave the node in when the compute releases its claim.
    ///
    /// # Safety
    /// The caller holds the claim and every reader has finished.
    unsafe fn settle(&self) -> Claim;
}

impl<T, F> TaskNode<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Inputs<'_>) -> TaskResult<T> + Send + 'static,
{
    pub(crate) fn new(site: &'static TaskSite, deps: Deps, task: F) -> Self {
        TaskNode {
            node: Node {
                head: Head {
                    site,
                    seq: site.next(),
                    state: AtomicClaim::new(Claim::Idle),
                    kept: AtomicBool::new(false),
                    remaining: AtomicUsize::new(0),
                    index: AtomicU32::new(u32::MAX),
                    deps: UnsafeCell::new(deps),
                },
                slot: UnsafeCell::new(Slot::Empty),
                cloner: Cloner::new(),
            },
            task: UnsafeCell::new(Some(task)),
        }
    }
}

impl<T: Send + 'static> Node<T> {
    /// The typed part of `n`, a node whose result is a `T`.
    ///
    /// # Panics
    /// If `n`'s result is of another type (a bug of this crate: handles
    /// and registered types are typed).
    #[inline]
    pub(crate) fn of(n: &dyn AnyNode) -> &Node<T> {
        match n.as_any().downcast_ref::<Node<T>>() {
            Some(node) => node,
            None => unreachable!("parallel-runtime: a node of another result type"),
        }
    }

    /// One read of the result by a consumer (or by `compute` for a root).
    ///
    /// The protocol: the compute counted every read in `remaining`. A reader
    /// that is not the last clones the value and only then decrements
    /// `remaining`; so when a reader sees `remaining == 1`, every other
    /// reader has finished with the value and it may take it. A node whose
    /// result a handle outside the compute still wants (`kept`) is always
    /// cloned. When the last reader cloned (two readers raced past the
    /// check), it drops the value right away, so an intermediate result
    /// never outlives its last consumer.
    ///
    /// # Safety
    /// The node completed in the compute the caller belongs to, and the
    /// caller is one of the reads counted in `remaining`, made once.
    pub(crate) unsafe fn read(&self) -> TaskResult<T> {
        let h = &self.head;
        let kept = h.kept.load(Ordering::Relaxed);
        let slot = self.slot.get();
        if !kept && h.remaining.load(Ordering::Acquire) == 1 {
            h.remaining.store(0, Ordering::Relaxed);
            // SAFETY: we are the last reader and every other reader has
            // finished (they decrement after reading, with `Release`, and we
            // loaded with `Acquire`); the writer finished before any reader
            // started. So nobody else touches the slot now.
            let slot = unsafe { &mut *slot };
            return match std::mem::replace(slot, Slot::Empty) {
                Slot::Value(v) => Ok(v),
                other => {
                    let e = self.unavailable_in(&other);
                    *slot = other;
                    Err(e)
                }
            };
        }
        // The read is counted even when `T::clone` panics, so that the
        // readers after it still find the last of them.
        let _counted = Counted(self, kept);
        // SAFETY: a shared read; the only writer (the last reader, above)
        // waits until our decrement, when `_counted` is dropped.
        match unsafe { &*slot } {
            Slot::Value(v) => match self.cloner.get() {
                Some(clone) => Ok(clone(v)),
                None => Err(self.unavailable()),
            },
            other => Err(self.unavailable_in(other)),
        }
    }

    /// [`Node::unavailable`], or why a result sent to other ranks is not
    /// here.
    fn unavailable_in(&self, slot: &Slot<T>) -> TaskFail {
        if !matches!(slot, Slot::Moved) {
            return self.unavailable();
        }
        TaskFail {
            kind: FailureKind::Unavailable,
            message: format!(
                "the result of `{}` was sent to the ranks that consumed it by an earlier compute \
                 across ranks, and not kept on this rank (its consumers' results are on those \
                 ranks); compute what needs it across the ranks (`compute_on`), which moves \
                 results where they are needed: a local `compute()` has this rank's alone",
                self.head.key()
            ),
            error: None,
        }
    }

    fn unavailable(&self) -> TaskFail {
        TaskFail {
            kind: FailureKind::Unavailable,
            message: format!(
                "the result of `{}` is no longer available: it was handed on to its consumers \
                 (a handle to it was cloned while a compute was running); keep a clone of the \
                 handle before computing to keep its result",
                self.head.key()
            ),
            error: None,
        }
    }
}

/// One read by cloning of [`Node::read`], counted when dropped: the last
/// reader drops the value (unless a handle keeps it, or the read is
/// unwinding from a panicking `T::clone`: then the node's own drop frees
/// it, so that a panicking `Drop` of `T` cannot abort the process).
struct Counted<'a, T>(&'a Node<T>, bool);

impl<T> Drop for Counted<'_, T> {
    fn drop(&mut self) {
        let Counted(node, kept) = *self;
        if node.head.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && !kept
            && !std::thread::panicking()
        {
            // SAFETY: we were the last reader; everybody else has finished.
            drop(std::mem::replace(
                unsafe { &mut *node.slot.get() },
                Slot::Empty,
            ));
        }
    }
}

impl<T, F> AnyNode for TaskNode<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Inputs<'_>) -> TaskResult<T> + Send + 'static,
{
    fn head(&self) -> &Head {
        &self.node.head
    }

    fn as_any(&self) -> &dyn Any {
        &self.node
    }

    fn move_deps(&mut self, stack: &mut Vec<Arc<dyn AnyNode>>) {
        stack.extend(self.node.head.deps.get_mut().drain(..));
    }

    unsafe fn run(&self) -> Result<(), Arc<Failure>> {
        let this = &self.node;
        // SAFETY: the caller holds the claim: nobody else touches the task.
        let task = unsafe { (*self.task.get()).take() };
        let outcome = match task {
            Some(task) => {
                let inputs = Inputs(this.head.deps());
                match catch_unwind(AssertUnwindSafe(|| task(&inputs))) {
                    Ok(r) => r,
                    // The payload is kept (not dropped here, where its
                    // destructor could panic) for `DelayedError::take_panic`.
                    Err(payload) => Err(TaskFail {
                        kind: FailureKind::Panicked,
                        message: PayloadText(&*payload).to_string(),
                        error: Some(payload),
                    }),
                }
            }
            None => Err(this.unavailable()),
        };
        let (slot, result) = match outcome {
            Ok(v) => (Slot::Value(v), Ok(())),
            Err(fail) => {
                let failure = Arc::new(Failure {
                    key: this.head.key(),
                    kind: fail.kind,
                    message: fail.message,
                    error: Mutex::new(fail.error),
                });
                (Slot::Failed(failure.clone()), Err(failure))
            }
        };
        // SAFETY: as above; readers start only after this returns.
        unsafe { *this.slot.get() = slot };
        result
    }

    unsafe fn fail(&self, failure: Arc<Failure>) {
        // SAFETY: the caller holds the claim.
        unsafe { self.drop_task() };
        // SAFETY: as above.
        unsafe { *self.node.slot.get() = Slot::Failed(failure) };
    }

    unsafe fn drop_task(&self) {
        // SAFETY: the caller holds the claim.
        let task = unsafe { (*self.task.get()).take() };
        drop(task);
    }

    unsafe fn failure(&self) -> Option<Arc<Failure>> {
        // SAFETY: the node completed; failures are never written again in
        // this compute.
        match unsafe { &*self.node.slot.get() } {
            Slot::Failed(f) => Some(f.clone()),
            _ => None,
        }
    }

    unsafe fn settle(&self) -> Claim {
        // SAFETY: the caller holds the claim and all readers finished.
        let has_task = unsafe { (*self.task.get()).is_some() };
        if has_task {
            return Claim::Idle;
        }
        // SAFETY: as above.
        match unsafe { &*self.node.slot.get() } {
            Slot::Value(_) => Claim::Done,
            Slot::Failed(_) => Claim::Failed,
            Slot::Empty | Slot::Moved => Claim::Empty,
        }
    }
}

impl<T, F> Drop for TaskNode<T, F> {
    /// Frees the inputs without recursion: a chain of a million nodes
    /// would otherwise drop itself a million frames deep.
    fn drop(&mut self) {
        // The task may capture handles too (inside plain values); dropping
        // it first keeps the order of frees natural.
        drop(self.task.get_mut().take());
        // Inputs whose last handle this node held, to free after it; a
        // `Vec` only once there is one (most inputs of a graph dropped
        // whole are still held by the plan or by other consumers).
        // Last input first, each one's own inputs before the next (the
        // order of a stack).
        let mut stack: Vec<Arc<dyn AnyNode>> = Vec::new();
        while let Some(dep) = self.node.head.deps.get_mut().pop() {
            free_input(dep, &mut stack);
            while let Some(dep) = stack.pop() {
                free_input(dep, &mut stack);
            }
        }
    }
}

/// Drops one input of a node being dropped; if that was its last handle,
/// its own inputs are moved onto `stack` first.
fn free_input(mut dep: Arc<dyn AnyNode>, stack: &mut Vec<Arc<dyn AnyNode>>) {
    // `get_mut` locks the weak count: skip it for an input that other
    // consumers still hold (the common case of a shared one).
    if Arc::strong_count(&dep) == 1 {
        if let Some(node) = Arc::get_mut(&mut dep) {
            node.move_deps(stack);
        }
    }
    drop(dep);
}

mod hooks;
