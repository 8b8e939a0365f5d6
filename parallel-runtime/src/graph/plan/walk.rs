//! Walking a graph from its roots: claiming its nodes, numbering them,
//! counting what each waits for, and deciding who frees them (whoever drops
//! the roots after the compute, or, when the plan is *lent*, the threads
//! that ran their consumers, during the run).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::{busy, Plan};
use crate::graph::error::DelayedError;
use crate::graph::node::{AnyNode, Claim};

/// The largest number of nodes (and of edges) a walk reserves room for
/// before it has seen the graph: small enough that a small graph computed
/// after a large one does not pay for arrays from `mmap`.
const HINT_CAP: usize = 1 << 12;

thread_local! {
    /// The nodes and edges of this thread's last walk.
    static WALK_HINT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

impl Plan {
    /// Claims every node reachable from `roots`; with `keep_edges`, keeps
    /// the edges of the walk ([`Plan::edges`]), from which a compute across
    /// ranks places and checks the graph.
    ///
    /// With `lend`, when no handle outside the compute can reach any node of
    /// the graph (no node is `kept`: its only owners are this plan, its
    /// consumers' input lists and the roots' handles being computed), the
    /// plan *lends* the graph: a node that ran drops its input list, so a
    /// node is freed as soon as its last consumer ran, on that consumer's
    /// thread, instead of all of them on the calling thread after the run
    /// (where 2,000 nodes cost about 110 µs, with every thread of the pool
    /// idle). Nobody can observe the nodes' states after such a compute,
    /// so they are not given back either ([`Plan::release`]).
    pub(crate) fn discover(
        roots: Vec<Arc<dyn AnyNode>>,
        keep_edges: bool,
        lend: bool,
    ) -> Result<Plan, DelayedError> {
        // Sized from this thread's last walk (up to `HINT_CAP`): a program
        // computes graphs of one size again and again, and growing eight
        // arrays by doubling copies each of them about twice.
        let (hint_n, hint_e) = WALK_HINT.with(Cell::get);
        let mut plan = Plan {
            nodes: Vec::with_capacity(hint_n),
            prior: Vec::with_capacity(hint_n),
            pending: Vec::with_capacity(hint_n),
            cancel: Vec::with_capacity(hint_n),
            succ_off: Vec::new(),
            succ: Vec::new(),
            order: Vec::with_capacity(hint_n),
            abort: AtomicBool::new(false),
            first: OnceLock::new(),
            cancelled: AtomicUsize::new(0),
            ends: None,
            call: crate::trace::next_call(), // obs hook: the compute's trace id
            sinks_left: AtomicUsize::new(0),
            live: OnceLock::new(),
            edges: Vec::new(),
            lent: false,
            held: Vec::new(),
        };
        let mut root_at: Vec<u32> = Vec::new();
        // Reads of each node's result: one per consuming edge, one per root.
        let mut reads: Vec<u32> = Vec::with_capacity(hint_n);
        let mut edges: Vec<(u32, u32)> = Vec::with_capacity(hint_e);
        let mut stack: Vec<(u32, u32)> = Vec::new();
        for root in roots {
            let known = plan.nodes.len();
            let r = match plan.visit(&root, &mut reads, &mut stack) {
                Ok(r) => r,
                Err(e) => {
                    plan.release();
                    return Err(e);
                }
            };
            // The walk's `Arc`s own nothing: `held` keeps each root (once)
            // and with it the whole graph alive.
            if r as usize >= known {
                plan.held.push(root);
                root_at.push(r);
            }
            reads[r as usize] += 1;
            while let Some(top) = stack.last_mut() {
                let (i, k) = *top;
                // SAFETY: the node is alive while the walk runs (reachable
                // from `held`), wherever `plan.nodes` moves when it grows.
                let node: &dyn AnyNode = unsafe { &*Arc::as_ptr(&plan.nodes[i as usize]) };
                let deps = node.head().deps();
                if (k as usize) < deps.len() {
                    top.1 += 1;
                    let dep = &deps[k as usize];
                    // An input already claimed (a stencil's, read by three
                    // tasks) is found without cloning its `Arc`.
                    let d = match plan.mine(dep) {
                        Some(d) => d,
                        None => match plan.visit(dep, &mut reads, &mut stack) {
                            Ok(d) => d,
                            Err(e) => {
                                plan.release();
                                return Err(e);
                            }
                        },
                    };
                    reads[d as usize] += 1;
                    *plan.pending[i as usize].get_mut() += 1;
                    edges.push((d, i));
                } else {
                    stack.pop();
                    plan.order.push(i);
                }
            }
        }
        let n = plan.nodes.len();
        WALK_HINT.with(|h| h.set((n.min(HINT_CAP), edges.len().min(HINT_CAP))));
        // Consumers as flat arrays (a counting sort of the edges).
        let mut off = vec![0u32; n + 1];
        for &(d, _) in &edges {
            off[d as usize + 1] += 1;
        }
        for i in 0..n {
            off[i + 1] += off[i];
        }
        let mut fill = off.clone();
        let mut succ = vec![0u32; edges.len()];
        for &(d, c) in &edges {
            succ[fill[d as usize] as usize] = c;
            fill[d as usize] += 1;
        }
        if keep_edges {
            plan.edges = edges;
        }
        let sinks = (0..n).filter(|&i| off[i] == off[i + 1]).count();
        *plan.sinks_left.get_mut() = sinks;
        plan.succ_off = off;
        plan.succ = succ;
        if crate::trace::enabled() {
            plan.ends = Some((0..n).map(|_| AtomicU64::new(0)).collect());
        }
        // A node whose `Arc` is held by more than its consuming edges, the
        // handles of the roots being computed and `held` (one more count
        // for a root, corrected below) has a handle outside: keep its
        // result for it.
        let mut kept_nodes = 0usize;
        for (node, &r) in plan.nodes.iter().zip(&reads) {
            let kept = Arc::strong_count(node) > r as usize;
            kept_nodes += usize::from(kept);
            let h = node.head();
            h.kept.store(kept, Ordering::Relaxed);
            h.remaining.store(r as usize, Ordering::Relaxed);
        }
        for &r in &root_at {
            let node = &plan.nodes[r as usize];
            if Arc::strong_count(node) == reads[r as usize] as usize + 1 {
                // Only `held` made it look kept.
                node.head().kept.store(false, Ordering::Relaxed);
                kept_nodes -= 1;
            }
        }
        let any_kept = kept_nodes > 0;
        // Lent: nothing outside reaches the graph. Each node stays alive
        // while the plan may touch it: a root through `held`, any other node
        // through the input list of a consumer that has not run yet (it has
        // one: it was reached through an edge); once its consumers ran, the
        // plan touches it no more. A plan not lent takes no input list, so
        // every node stays reachable from `held` until the plan is dropped.
        plan.lent = lend && !any_kept;
        Ok(plan)
    }

    /// The index of `node` if this plan has claimed it already.
    fn mine(&self, node: &Arc<dyn AnyNode>) -> Option<u32> {
        let h = node.head();
        if h.state.load(Ordering::Acquire) != Claim::Claimed {
            return None;
        }
        let i = h.index.load(Ordering::Relaxed);
        let m = self.nodes.get(i as usize)?;
        std::ptr::addr_eq(Arc::as_ptr(m), Arc::as_ptr(node)).then_some(i)
    }

    /// Claims `node` (or finds it already claimed by this plan) and returns
    /// its index; pushes it on `stack` if its inputs must be walked.
    fn visit(
        &mut self,
        node: &Arc<dyn AnyNode>,
        reads: &mut Vec<u32>,
        stack: &mut Vec<(u32, u32)>,
    ) -> Result<u32, DelayedError> {
        let h = node.head();
        let mut s = h.state.load(Ordering::Acquire);
        loop {
            if s == Claim::Claimed {
                let i = h.index.load(Ordering::Relaxed);
                return match self.nodes.get(i as usize) {
                    Some(mine) if std::ptr::addr_eq(Arc::as_ptr(mine), Arc::as_ptr(node)) => Ok(i),
                    _ => Err(busy(h.key())),
                };
            }
            match h
                .state
                .compare_exchange(s, Claim::Claimed, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        let i = self.nodes.len();
        let Ok(i32) = u32::try_from(i) else {
            panic!("parallel-runtime: a task graph is limited to 2^32 - 1 nodes")
        };
        h.index.store(i32, Ordering::Relaxed);
        // SAFETY: a copy of `node`'s pointer that owns no count: `Drop for
        // Plan` forgets it. The node outlives the plan's use of it (see the
        // end of `discover`).
        self.nodes.push(unsafe { Arc::from_raw(Arc::as_ptr(node)) });
        self.prior.push(s);
        self.pending.push(AtomicU32::new(0));
        self.cancel.push(AtomicBool::new(false));
        reads.push(0);
        if s == Claim::Idle {
            stack.push((i32, 0));
        } else {
            self.order.push(i32);
        }
        Ok(i32)
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        // These `Arc`s own nothing (`visit`): forgotten, not dropped.
        // `held` then lets go of the roots, and with them of every node
        // still alive.
        // SAFETY: a length of 0 is within the capacity, and the elements
        // need no drop (they own no count).
        unsafe { self.nodes.set_len(0) };
    }
}
