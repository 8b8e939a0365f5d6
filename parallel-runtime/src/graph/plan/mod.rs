//! Running a graph: claim the nodes, count what each waits for, run them.
//!
//! `compute` first walks the graph from its roots (without recursion),
//! claiming every node it reaches, numbering them, and recording for each
//! node how many inputs it waits for and which nodes consume it (flat
//! arrays, no allocation per node). Then:
//!
//! - **threads**: the nodes with nothing to wait for are queued (or, when
//!   there are many, split among the threads of the shared rayon pool by
//!   `par_iter`), and threads of the pool take them; when a node finishes it
//!   decrements its consumers' counters, runs the first consumer that became
//!   ready itself (so a chain runs without scheduling at all) and queues the
//!   others for a thread of this compute that waits for work, or asks the
//!   pool for one ([`Handoff`]). No thread ever blocks waiting for a node.
//! - **serial**: the nodes run one after another, inputs first, in the
//!   order of the walk: deterministic, on the calling thread.
//!
//! A failure (panic or `Err`) marks its consumers cancelled and stops every
//! task that has not started; the compute then returns the first failure.
//!
//! **Who frees the graph.** A graph that nothing outside the compute can
//! reach (no handle to any of its nodes but the roots being computed: the
//! usual `compute(build(...))`) is *lent* to the plan (`walk.rs`): a node
//! that ran drops its input list, so each node is freed by the thread that
//! ran its last consumer, while the other threads go on, instead of the
//! whole graph on the calling thread after the run, with the pool idle.
//! Any other graph stays whole: its nodes are given back in the state the
//! compute left them in ([`Plan::release`]) for the handles that still
//! reach them, and freed with the last of those handles.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::error::{DelayedError, Failure, FailureKind};
use super::handoff::Handoff;
use super::key::TaskKey;
use super::node::{AnyNode, Claim, Deps};
use crate::config::Backend;

mod walk;

pub(crate) struct Plan {
    /// The claimed nodes, by index; these `Arc`s own no count (`held`).
    nodes: Vec<Arc<dyn AnyNode>>,
    /// The state of each node when it was claimed.
    prior: Vec<Claim>,
    /// Inputs each node still waits for.
    pending: Vec<AtomicU32>,
    /// Whether an input of each node failed: the node is cancelled.
    cancel: Vec<AtomicBool>,
    /// Consumers of node `i`: `succ[succ_off[i]..succ_off[i + 1]]`.
    succ_off: Vec<u32>,
    succ: Vec<u32>,
    /// Inputs before consumers, in the order of the walk.
    order: Vec<u32>,
    abort: AtomicBool,
    first: OnceLock<Arc<Failure>>,
    cancelled: AtomicUsize,
    /// With tracing on: when each node finished (µs, as `f64` bits).
    ends: Option<Vec<AtomicU64>>,
    /// With tracing on: this compute's id in the trace (issue 13, obs hook).
    call: u64,
    /// Nodes without consumers not yet completed: when none is left, every
    /// node is (each node has a path to one).
    sinks_left: AtomicUsize,
    /// With the live dashboard on, once [`Plan::run`] starts: this
    /// compute's progress, ended when the plan is dropped.
    live: OnceLock<crate::dashboard::Job>,
    /// Every edge `(input, consumer)`, kept for a compute across ranks.
    edges: Vec<(u32, u32)>,
    /// Lent ([`Plan::discover`]'s `lend`): each node is freed by the thread
    /// that ran its last consumer, during the run.
    lent: bool,
    /// The roots, once each. The `Arc`s in `nodes` own no count: `held`
    /// owns the roots, and each other node is owned by its consumers'
    /// input lists.
    held: Vec<Arc<dyn AnyNode>>,
}

/// `pending` of a node that ran to success in a lent plan: it may have been
/// freed since, so the plan touches it no more.
const RAN: u32 = u32::MAX;

/// At most this many input lists wait in [`Plan::exec`] to be freed while
/// a thread runs a chain of tasks.
const DEAD_BATCH: usize = 8;

/// Input lists waiting to be freed ([`DEAD_BATCH`] of them on the stack).
type Dead = smallvec::SmallVec<[Deps; DEAD_BATCH]>;

impl Plan {
    /// Runs every node on `backend`.
    pub(crate) fn run(&self, backend: Backend) {
        // The live dashboard: the tasks to run, named after the first root.
        if let (true, Some(root)) = (crate::dashboard::enabled(), self.nodes.first()) {
            let to_run = self.prior.iter().filter(|&&p| p == Claim::Idle).count();
            if let Some(job) = crate::dashboard::job("compute", root.head().site.name, to_run) {
                let _ = self.live.set(job);
            }
        }
        if self.nodes.is_empty() {
            return;
        }
        match backend {
            Backend::Serial => {
                for &i in &self.order {
                    self.complete(i);
                }
            }
            _ => {
                let ready: Vec<u32> = self
                    .order
                    .iter()
                    .copied()
                    .filter(|&i| self.pending[i as usize].load(Ordering::Relaxed) == 0)
                    .collect();
                let threads = rayon::current_num_threads();
                // Many nodes ready at the start (a wide map) are split
                // among the threads by rayon, without a shared queue; a few
                // (a chain, a stencil's first row) are queued for the
                // threads that wait for work.
                let wide = ready.len() > 4 * threads;
                let handoff = Handoff::new(threads, if wide { Vec::new() } else { ready.clone() });
                rayon::scope(|s| {
                    if wide {
                        use rayon::prelude::*;
                        ready.par_iter().for_each(|&i| self.exec(s, &handoff, i));
                    } else {
                        for _ in 1..ready.len().min(threads) {
                            if handoff.request() {
                                s.spawn(|s| {
                                    handoff.started();
                                    self.work(s, &handoff)
                                });
                            }
                        }
                    }
                    self.work(s, &handoff);
                });
            }
        }
    }

    /// A thread of the pool working for this compute: runs queued nodes,
    /// and what they make ready, until the queue stays empty for a while.
    fn work<'s>(&'s self, scope: &rayon::Scope<'s>, handoff: &'s Handoff) {
        while let Some(i) = handoff.pop().or_else(|| handoff.wait()) {
            self.exec(scope, handoff, i);
        }
    }

    /// Runs node `i` (its inputs are complete), then whatever it made ready.
    fn exec<'s>(&'s self, scope: &rayon::Scope<'s>, handoff: &'s Handoff, mut i: u32) {
        // Input lists taken from the nodes run here (a lent plan), dropped
        // once this thread has handed on what they made ready: freeing
        // nodes is then off the path from one task to the next.
        let mut dead: Dead = Dead::new();
        loop {
            let failed = self.complete_node(i, &mut dead);
            let consumers = self.consumers(i);
            if consumers.is_empty() && self.sinks_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                handoff.finish();
            }
            let mut next = None;
            for &c in consumers {
                if failed {
                    self.cancel[c as usize].store(true, Ordering::Relaxed);
                }
                if self.pending[c as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                    if next.is_none() {
                        next = Some(c);
                    } else if handoff.push(c) {
                        scope.spawn(move |s| {
                            handoff.started();
                            self.work(s, handoff)
                        });
                    }
                }
            }
            match next {
                Some(c) if dead.len() < DEAD_BATCH => i = c,
                Some(c) => {
                    dead.clear();
                    i = c;
                }
                None => return,
            }
        }
    }

    /// Serial form of [`Plan::exec`] for one node.
    fn complete(&self, i: u32) {
        let mut dead = Dead::new();
        if self.complete_node(i, &mut dead) {
            for &c in self.consumers(i) {
                self.cancel[c as usize].store(true, Ordering::Relaxed);
            }
        }
    }

    fn consumers(&self, i: u32) -> &[u32] {
        let (a, b) = (
            self.succ_off[i as usize] as usize,
            self.succ_off[i as usize + 1] as usize,
        );
        &self.succ[a..b]
    }

    /// Runs, cancels or skips node `i`; returns whether it ended failed (so
    /// its consumers must be cancelled).
    fn complete_node(&self, i: u32, dead: &mut Dead) -> bool {
        let node = &*self.nodes[i as usize];
        match self.prior[i as usize] {
            Claim::Idle => {}
            Claim::Failed => return true,
            // Complete before this compute: nothing to run.
            _ => return false,
        }
        if self.cancel[i as usize].load(Ordering::Relaxed) {
            let cause = node
                .head()
                .deps()
                .iter()
                // SAFETY: every input completed before this node became
                // ready; we hold the claim of the whole graph.
                .find_map(|d| unsafe { d.failure() })
                .unwrap_or_else(|| busy(node.head().key()).failure().clone());
            // A cancelled task is recorded too, with no length, so a report
            // can show it (issue 13: failures visible).
            if let Some(ends) = &self.ends {
                let outcome = crate::trace::Outcome {
                    status: "cancelled",
                    error: format!("not run: input `{}` failed: {}", cause.key, cause.message),
                };
                self.trace(ends, i, crate::trace::now_us(), Some(outcome));
            }
            // SAFETY: this plan holds the claim; the node is ready.
            unsafe { node.fail(cause) };
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        if self.abort.load(Ordering::Relaxed) {
            // Left as it is, to run in a later compute.
            return false;
        }
        // The live dashboard's span of this task (when it is on).
        let live = self.live.get().map(|job| job.task(node.head().site.name));
        let start = self.ends.as_ref().map(|_| crate::trace::now_us());
        let result = {
            let _span = crate::trace::task_span(node.head().site.name, &node.head().key());
            // SAFETY: this plan holds the claim, the prior state was `IDLE`,
            // every input completed without failure (else we were cancelled
            // above), and only this thread runs node `i`.
            unsafe { node.run() }
        };
        if let Some(task) = live {
            task.end(result.is_err()); // the live dashboard's task stream
        }
        if let (Some(ends), Some(start)) = (&self.ends, start) {
            // The event says how a task that did not succeed ended (issue 13).
            let outcome = result.as_ref().err().map(|f| crate::trace::Outcome {
                status: match f.kind {
                    FailureKind::Panicked => "panicked",
                    _ => "failed",
                },
                error: f.message.clone(),
            });
            self.trace(ends, i, start, outcome);
        }
        match result {
            Ok(()) => {
                if self.lent {
                    // Only a node with consumers can be freed during the run
                    // (the roots are `held`), and only one with inputs has
                    // any to let go of.
                    if !self.consumers(i).is_empty() {
                        self.pending[i as usize].store(RAN, Ordering::Relaxed);
                    }
                    if !node.head().deps().is_empty() {
                        // SAFETY: a lent plan: no handle outside sees this
                        // node, and only this thread reads its inputs (it
                        // ran them). Inputs whose last consumer this was are
                        // freed when `dead` is.
                        let mut deps = unsafe { node.head().take_deps() };
                        // Freed last input first, as a node dropped whole
                        // frees its inputs (`Drop for TaskNode`).
                        deps.reverse();
                        dead.push(deps);
                    }
                }
                false
            }
            Err(failure) => {
                let _ = self.first.set(failure);
                self.abort.store(true, Ordering::Relaxed);
                true
            }
        }
    }

    /// Records node `i`, which ran from `start`, in the trace: its key, its
    /// inputs' keys, and the input that finished last (the one it waited
    /// for).
    #[cold]
    fn trace(
        &self,
        ends: &[AtomicU64],
        i: u32,
        start: f64,
        outcome: Option<crate::trace::Outcome>,
    ) {
        let end = crate::trace::now_us();
        ends[i as usize].store(end.to_bits(), Ordering::Relaxed);
        let h = self.nodes[i as usize].head();
        let ended = |d: &Arc<dyn AnyNode>| {
            let j = d.head().index.load(Ordering::Relaxed) as usize;
            f64::from_bits(ends[j].load(Ordering::Relaxed))
        };
        let waited_on = h
            .deps()
            .iter()
            .max_by(|a, b| ended(a).total_cmp(&ended(b)))
            .map(|d| d.head().key().to_string());
        let deps = h
            .deps()
            .iter()
            .map(|d| d.head().key().to_string())
            .collect();
        crate::trace::task_event(
            self.call,
            h.site.name,
            h.key().to_string(),
            deps,
            waited_on,
            outcome,
            start,
            end,
        );
    }

    /// The first failure, if any, as the error of the compute.
    pub(crate) fn error(&self) -> Option<DelayedError> {
        let failure = self.first.get().cloned().or_else(|| {
            // A failure that happened before this compute.
            self.order.iter().find_map(|&i| {
                (self.prior[i as usize] == Claim::Failed)
                    // SAFETY: the node was complete when claimed.
                    .then(|| unsafe { self.nodes[i as usize].failure() })
                    .flatten()
            })
        })?;
        Some(DelayedError::new(
            failure,
            self.cancelled.load(Ordering::Relaxed) + self.count_skipped(),
        ))
    }

    fn count_skipped(&self) -> usize {
        if !self.abort.load(Ordering::Relaxed) {
            return 0;
        }
        self.nodes
            .iter()
            .zip(&self.prior)
            .zip(&self.pending)
            .filter(|((n, &p), ran)| {
                // A node that ran in a lent plan may be freed: not skipped.
                p == Claim::Idle
                    && ran.load(Ordering::Relaxed) != RAN
                    // SAFETY: the run is over; we hold the claim (the node is
                    // alive: it did not run, so nor did its consumers).
                    && unsafe { n.settle() } == Claim::Idle
            })
            .count()
    }

    /// Gives every node back, in the state the compute left it in (a lent
    /// plan's nodes are seen by nobody after it: they stay as they are).
    pub(crate) fn release(&self) {
        if self.lent {
            return;
        }
        for node in &self.nodes {
            // SAFETY: the run is over and the roots were read.
            let state = unsafe { node.settle() };
            node.head().state.store(state, Ordering::Release);
        }
    }
}

fn busy(key: TaskKey) -> DelayedError {
    DelayedError::new(
        Arc::new(Failure {
            key,
            kind: FailureKind::Busy,
            message: "another `compute` is running this task at the same moment (on another \
                      thread, or the compute of the task asking: a task cannot compute part of \
                      its own graph); compute both results in one call (`compute((a, b))`) \
                      instead"
                .to_owned(),
            error: Mutex::new(None),
        }),
        0,
    )
}

// ----- hook for graph/cluster (issue 12: graphs across MPI ranks) ------------
impl Plan {
    /// The walk's edges `(input, consumer)`, each consumer's in input order
    /// (empty unless kept); a node claimed complete has none.
    pub(crate) fn edges(&self) -> &[(u32, u32)] {
        &self.edges
    }

    /// The claimed graph, read-only, for an executor across ranks: the
    /// nodes (each one's `head().index` is its position here), the state
    /// each was claimed in, and the order of the walk (inputs first).
    pub(crate) fn claimed(&self) -> (&[Arc<dyn AnyNode>], &[Claim], &[u32]) {
        (&self.nodes, &self.prior, &self.order)
    }
}
