//! Running a placed graph on this rank: its own tasks on the thread pool,
//! the results other ranks consume sent to them point to point, the
//! results it consumes received from their owners.
//!
//! The calling thread coordinates: it posts the sends that workers hand
//! it, receives (one receive posted at a time, any source, this module's
//! tag), stores each value received in its node and releases the tasks
//! waiting on it. Workers never block: as on one machine, a worker that
//! completes a task runs the first consumer it made ready itself and
//! spawns the others. With a pool of one thread (one rank per core, as
//! MPI programs run), the coordinating thread runs every task itself,
//! between polls, and never wakes the pool's worker: two busy threads per
//! core, and a wake-up per step, cost more than the task (issue 12).
//!
//! Every message a rank expects comes: a task that fails sends its failure
//! instead of its value to each rank that consumes it (which cancels the
//! dependents there, and so on), a task that is skipped sends that it was
//! skipped. A rank whose task fails also tells every other rank to skip
//! the tasks it has not started (`Abort`), and the end of a compute (a
//! collective) tells every rank which task failed where.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::lists::Lists;
use super::message::{kind_code, msg_frame, no_panic, trace_task, value_frame, Msg};
use super::types::GraphType;
use crate::graph::error::{Failure, FailureKind};
use crate::graph::node::{AnyNode, Claim};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Ok,
    Failed,
    Skipped,
}

const CANCEL: u8 = 1;
const SKIP: u8 = 2;

/// What a worker hands the coordinating thread.
pub(super) enum Out {
    /// A frame (see `message.rs`) to a rank.
    Send(u32, Vec<u8>),
    Abort,
    /// The last task of this rank completed.
    Wake,
}

/// The graph as placed, for this rank.
pub(crate) struct Placed<'a> {
    pub(crate) nodes: &'a [Arc<dyn AnyNode>],
    pub(crate) prior: &'a [Claim],
    pub(crate) order: &'a [u32],
    pub(crate) deps: &'a Lists,
    pub(crate) owner: &'a [u32],
    /// The ranks each task's result goes to.
    pub(crate) dests: &'a Lists,
    /// The result type of each task whose result crosses ranks.
    pub(crate) types: &'a [Option<GraphType>],
    /// Tasks this rank holds from an earlier compute.
    pub(crate) here: &'a [bool],
    /// Reads of each result on this rank (local consumers and roots).
    pub(crate) reads: &'a [u32],
}

/// How the run went on this rank.
pub(crate) struct Outcome {
    /// This rank's first failure: the task and why.
    pub(crate) failure: Option<(u32, Arc<Failure>)>,
    pub(crate) cancelled: usize,
    /// Whether this rank told the others to abort.
    pub(crate) aborted: bool,
    /// The ranks whose `Abort` came.
    pub(crate) aborts_from: Vec<usize>,
    pub(crate) sent: usize,
    pub(crate) received: usize,
}

pub(super) struct Exec<'a> {
    pub(super) g: &'a Placed<'a>,
    pub(super) me: u32,
    /// Consumers of each task on this rank: `succ[succ_off[i]..succ_off[i+1]]`.
    pub(super) succ_off: Vec<u32>,
    pub(super) succ: Vec<u32>,
    pub(super) pending: Vec<AtomicU32>,
    pub(super) flags: Vec<AtomicU8>,
    pub(super) abort: AtomicBool,
    pub(super) first: OnceLock<(u32, Arc<Failure>)>,
    pub(super) cancelled: AtomicUsize,
    pub(super) left: AtomicUsize,
    /// To the coordinator (a `Sender` is `Sync`: workers send without a lock).
    pub(super) tx: Sender<Out>,
    pub(super) trace: bool,
    /// With the live dashboard on: this rank's part of the compute, its
    /// progress and task stream, as on one machine (issue 13).
    pub(super) live: Option<crate::dashboard::Job>,
    /// With a pool of one thread: the ready tasks, which the coordinating
    /// thread runs itself (see the module's doc) instead of spawning them.
    pub(super) here: Option<Mutex<VecDeque<u32>>>,
}

impl Exec<'_> {
    pub(super) fn consumers(&self, i: u32) -> &[u32] {
        let (a, b) = (
            self.succ_off[i as usize] as usize,
            self.succ_off[i as usize + 1] as usize,
        );
        &self.succ[a..b]
    }

    pub(super) fn send(&self, out: Out) {
        // The coordinator outlives every worker: the send cannot fail.
        let _ = self.tx.send(out);
    }

    /// Runs task `i` of this rank (its inputs are here), then whatever it
    /// made ready.
    pub(super) fn exec<'s>(&'s self, s: &rayon::Scope<'s>, mut i: u32) {
        while let Some(c) = self.step(s, i) {
            i = c;
        }
    }

    /// Runs task `i` alone; returns the first consumer it made ready (and
    /// spawns the others). The coordinating thread runs the task a value
    /// it received made ready this way, without waking a worker (the
    /// latency of a step across ranks), and spawns what that task makes
    /// ready.
    pub(super) fn step<'s>(&'s self, s: &rayon::Scope<'s>, i: u32) -> Option<u32> {
        let status = self.complete(i);
        let status = self.publish(i, status);
        let next = self.release(s, i, status);
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.send(Out::Wake);
        }
        next
    }

    /// Marks the consumers of `i` on this rank; returns the first that
    /// became ready and spawns the others.
    pub(super) fn release<'s>(
        &'s self,
        s: &rayon::Scope<'s>,
        i: u32,
        status: Status,
    ) -> Option<u32> {
        let flag = match status {
            Status::Ok => 0,
            Status::Failed => CANCEL,
            Status::Skipped => SKIP,
        };
        let mut next = None;
        for &c in self.consumers(i) {
            if flag != 0 {
                self.flags[c as usize].fetch_or(flag, Ordering::Relaxed);
            }
            if self.pending[c as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                if next.is_none() {
                    next = Some(c);
                } else {
                    self.ready(s, c);
                }
            }
        }
        next
    }

    /// Task `c` is ready: spawned on the pool, or queued for the
    /// coordinating thread (a pool of one thread), at the front when it
    /// is to run next.
    fn hand<'s>(&'s self, s: &rayon::Scope<'s>, c: u32, next: bool) {
        let Some(q) = &self.here else {
            return s.spawn(move |s| self.exec(s, c));
        };
        let mut q = q.lock().unwrap_or_else(PoisonError::into_inner);
        if next {
            q.push_front(c);
        } else {
            q.push_back(c);
        }
    }

    /// Task `c` is ready (after those already queued).
    pub(super) fn ready<'s>(&'s self, s: &rayon::Scope<'s>, c: u32) {
        self.hand(s, c, false);
    }

    /// The next task the coordinating thread runs itself, if any.
    pub(super) fn next_here(&self) -> Option<u32> {
        let q = self.here.as_ref()?;
        q.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }

    /// Runs task `i` on the coordinating thread; what it made ready first
    /// runs next (depth first, as `exec` does on a worker).
    pub(super) fn run_here<'s>(&'s self, s: &rayon::Scope<'s>, i: u32) {
        if let Some(next) = self.step(s, i) {
            self.hand(s, next, true);
        }
    }

    /// Runs, cancels or skips task `i`.
    fn complete(&self, i: u32) -> Status {
        let node = &*self.g.nodes[i as usize];
        match self.g.prior[i as usize] {
            Claim::Idle => {}
            Claim::Failed => {
                // SAFETY: the node was complete when claimed.
                if let Some(f) = unsafe { node.failure() } {
                    self.failed(i, f);
                }
                return Status::Failed;
            }
            _ => return Status::Ok,
        }
        let flags = self.flags[i as usize].load(Ordering::Relaxed);
        if flags & CANCEL != 0 {
            let cause = self.g.deps[i as usize]
                .iter()
                // SAFETY: every input completed (here, or its failure was
                // received) before this task became ready.
                .find_map(|&d| unsafe { self.g.nodes[d as usize].failure() });
            if let Some(cause) = cause {
                // SAFETY: this compute holds the claim; the task is ready.
                unsafe { node.fail(cause) };
            }
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return Status::Failed;
        }
        if flags & SKIP != 0 || self.abort.load(Ordering::Relaxed) {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return Status::Skipped;
        }
        let start = self.trace.then(crate::trace::now_us);
        let name = node.head().site.name;
        let live = self.live.as_ref().map(|job| job.task(name));
        let result = {
            // The `tracing` span of the task, with its rank, as on one machine.
            let _span = crate::trace::task_span(name, &node.head().key());
            // SAFETY: this compute holds the claim, the prior state was
            // `Idle`, every input completed without failure, and only this
            // thread runs task `i`.
            unsafe { node.run() }
        };
        if let Some(task) = live {
            task.end(result.is_err());
        }
        if let Some(start) = start {
            trace_task(self.g.nodes, i, self.me, start);
        }
        match result {
            Ok(()) => Status::Ok,
            Err(f) => {
                self.failed(i, f);
                Status::Failed
            }
        }
    }

    /// Records this rank's first failure and asks for an abort.
    pub(super) fn failed(&self, i: u32, f: Arc<Failure>) {
        if self.first.set((i, f)).is_ok() {
            self.abort.store(true, Ordering::Relaxed);
            self.send(Out::Abort);
        }
    }

    /// Hands the result (or failure) of task `i` to the coordinator for
    /// each rank that consumes it; drops a value with no reader left here.
    fn publish(&self, i: u32, mut status: Status) -> Status {
        let dests = &self.g.dests[i as usize];
        if dests.is_empty() {
            return status;
        }
        let node = &*self.g.nodes[i as usize];
        let ty = self.g.types[i as usize];
        if status == Status::Ok {
            let Some((encode, _)) = ty.and_then(|t| t.wire) else {
                unreachable!("parallel-runtime: a task sent across ranks without an encoder")
            };
            let encoded = no_panic("its `Serialize`", || {
                // SAFETY: the task completed and its consumers are not
                // released yet: nobody reads the value.
                unsafe { value_frame(i, node, encode) }
            });
            match encoded {
                Ok(frame) => {
                    // The frame moves to the last rank (most results have
                    // one): a copy only for each further rank.
                    let Some((&last, others)) = dests.split_last() else {
                        return status;
                    };
                    for &d in others {
                        self.send(Out::Send(d, frame.clone()));
                    }
                    self.send(Out::Send(last, frame));
                    let h = node.head();
                    if self.g.reads[i as usize] == 0 && !h.kept.load(Ordering::Relaxed) {
                        if let Some(t) = ty {
                            // SAFETY: no reader on this rank.
                            unsafe { (t.clear)(node) };
                        }
                    }
                    return Status::Ok;
                }
                Err(e) => {
                    let f = Arc::new(Failure {
                        key: node.head().key(),
                        kind: FailureKind::Comm,
                        message: format!(
                            "its result could not be encoded for rank {}: {e}",
                            dests[0]
                        ),
                        error: Mutex::new(None),
                    });
                    // SAFETY: as above.
                    unsafe { node.fail(f.clone()) };
                    self.failed(i, f);
                    status = Status::Failed;
                }
            }
        }
        let msg = match status {
            Status::Skipped => Msg::Skipped { task: i },
            _ => {
                // SAFETY: the task completed.
                let f = unsafe { node.failure() };
                let (origin, kind, message) = match f {
                    Some(f) => (
                        self.index_of(&f).unwrap_or(i),
                        kind_code(f.kind),
                        f.message.clone(),
                    ),
                    None => (i, kind_code(FailureKind::Unavailable), String::new()),
                };
                Msg::Failed {
                    task: i,
                    origin,
                    kind,
                    message,
                }
            }
        };
        let frame = msg_frame(&msg);
        for &d in dests {
            self.send(Out::Send(d, frame.clone()));
        }
        status
    }

    /// The position of the task that failed with `f` (a rare path: a scan).
    fn index_of(&self, f: &Failure) -> Option<u32> {
        self.g
            .nodes
            .iter()
            .position(|n| n.head().key() == f.key)
            .map(|i| i as u32)
    }
}
