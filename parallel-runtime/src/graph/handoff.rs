//! Handing ready nodes between the threads of one compute without going
//! through the pool's sleep and wake-up.
//!
//! When a node finishes and makes several consumers ready, its thread runs
//! the first itself and hands the others on. Handing them to the pool
//! (`rayon::Scope::spawn`) costs a heap job and, worse, waking a worker
//! that went idle (rayon's idle loop calls `sched_yield` between its
//! searches, then sleeps on a futex): microseconds, where a stencil whose
//! every step needs both threads has a microsecond to spend. So a thread that runs out of work in a compute first *waits for
//! this compute's next ready node* for a short while (spinning, as an MPI
//! rank polls), and a thread with a node to hand on puts it in this
//! compute's queue; it asks the pool for a thread only when nobody waits.
//!
//! The protocol (no node is ever stranded): the producer pushes, then
//! reads `waiting`; a waiter that gives up decrements `waiting`, then
//! looks at the queue once more. Both are sequentially consistent, so at
//! least one of them sees the other: the producer asks the pool for a
//! thread, or the waiter takes the node (possibly both: a thread from the
//! pool that finds the queue empty just leaves). A producer does not ask
//! for more threads than the pool has while earlier requests have not
//! started yet: those will drain the queue (a request marks itself started
//! before it looks at the queue, and the producer pushed before it counted
//! the requests).
//!
//! One node at a time goes through a single slot, without the queue's lock:
//! in a stencil of two threads, every step hands exactly one node from the
//! thread that made it ready to the one that waits, and the lock and the
//! queue's bookkeeping cost more than the node's whole run. A push tries
//! the slot first and a pop looks at it first, so "pushed" and "looked at
//! the queue" above cover the slot too.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a thread waits for the compute's next ready node before it
/// gives its thread back to the pool: long enough to cover the step of a
/// fine-grained graph, short enough not to hold a core that other work
/// wants for long.
const PATIENCE: Duration = Duration::from_micros(50);

/// The slot holds no node.
const EMPTY: u32 = u32::MAX;

pub(crate) struct Handoff {
    /// One queued node, handed over without the lock ([`EMPTY`] when none).
    slot: AtomicU32,
    queue: Mutex<VecDeque<u32>>,
    /// The queue's length, read without the lock.
    queued: AtomicUsize,
    /// Threads waiting in [`Handoff::wait`].
    waiting: AtomicUsize,
    /// Requests for a thread made to the pool and not started yet.
    requested: AtomicUsize,
    /// The most requests outstanding at once: the pool's size.
    threads: usize,
    /// Every node completed: waiters leave at once.
    finished: AtomicBool,
}

impl Handoff {
    /// A queue for a pool of `threads` threads, holding the nodes `ready`
    /// at the start.
    pub(crate) fn new(threads: usize, ready: Vec<u32>) -> Self {
        let queue = VecDeque::from(ready);
        Handoff {
            slot: AtomicU32::new(EMPTY),
            queued: AtomicUsize::new(queue.len()),
            queue: Mutex::new(queue),
            waiting: AtomicUsize::new(0),
            requested: AtomicUsize::new(0),
            threads: threads.max(1),
            finished: AtomicBool::new(false),
        }
    }

    /// Queues ready node `i`; returns whether the caller must ask the pool
    /// for a thread (nobody waits, and fewer requests than threads are
    /// outstanding); the request then counts as made.
    pub(crate) fn push(&self, i: u32) -> bool {
        debug_assert_ne!(i, EMPTY, "a node index below u32::MAX");
        if self
            .slot
            .compare_exchange(EMPTY, i, SeqCst, SeqCst)
            .is_err()
        {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.push_back(i);
            self.queued.store(q.len(), SeqCst);
        }
        self.waiting.load(SeqCst) == 0 && self.request()
    }

    /// Counts a request for a thread unless `threads` are outstanding.
    pub(crate) fn request(&self) -> bool {
        let mut r = self.requested.load(SeqCst);
        while r < self.threads {
            match self
                .requested
                .compare_exchange_weak(r, r + 1, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(now) => r = now,
            }
        }
        false
    }

    /// A requested thread has started (before it looks at the queue).
    pub(crate) fn started(&self) {
        self.requested.fetch_sub(1, SeqCst);
    }

    /// A queued node, if any.
    pub(crate) fn pop(&self) -> Option<u32> {
        // Read before written: threads that wait poll here, and only the
        // one that finds a node writes the line.
        if self.slot.load(SeqCst) != EMPTY {
            let i = self.slot.swap(EMPTY, SeqCst);
            if i != EMPTY {
                return Some(i);
            }
        }
        if self.queued.load(SeqCst) == 0 {
            return None;
        }
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let i = q.pop_front();
        self.queued.store(q.len(), SeqCst);
        i
    }

    /// Waits a short while for a queued node; `None` when none came or the
    /// compute finished.
    pub(crate) fn wait(&self) -> Option<u32> {
        self.waiting.fetch_add(1, SeqCst);
        let start = Instant::now();
        let mut spins = 0u32;
        let got = loop {
            if let Some(i) = self.pop() {
                break Some(i);
            }
            if self.finished.load(SeqCst) {
                break None;
            }
            spins = spins.wrapping_add(1);
            if spins & 63 == 0 && start.elapsed() > PATIENCE {
                break None;
            }
            std::hint::spin_loop();
        };
        self.waiting.fetch_sub(1, SeqCst);
        // A node pushed while we were leaving, by a producer that saw us
        // waiting: ours to run.
        got.or_else(|| self.pop())
    }

    /// Every root completed: nothing more will be queued.
    pub(crate) fn finish(&self) {
        self.finished.store(true, SeqCst);
    }
}
