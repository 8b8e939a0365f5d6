//! The coordinating thread of a run on one rank: posts the sends workers
//! hand it, receives what other ranks send (on the compute's [`Lane`],
//! whose receives are posted before the messages come: each rank knows
//! which ranks send to it, and how many frames), stores each value in its
//! node and releases the tasks waiting on it.

use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::exchange::{Exec, Out, Outcome, Placed, Status};
use super::message::{
    kind_code, kind_of, msg_frame, no_panic, parse, trace_transfer, value_task, Frame, Msg,
};
use crate::graph::error::{Failure, FailureKind};
use crate::graph::node::Claim;
use crate::mpi::{Comm, Error, Lane};

/// Runs this rank's part of `g` on `lane`'s communicator.
pub(crate) fn run(g: &Placed<'_>, lane: &mut Lane<'_>) -> Result<Outcome, Error> {
    let me = lane.rank() as u32;
    let n = g.nodes.len();
    let mine = |i: u32| g.owner[i as usize] == me;
    // Consumers on this rank, as flat arrays; what each task waits for.
    let mut off = vec![0u32; n + 1];
    let mut pending: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    for c in (0..n as u32).filter(|&c| mine(c)) {
        for &d in &g.deps[c as usize] {
            if mine(d) || !g.here[d as usize] {
                off[d as usize + 1] += 1;
                *pending[c as usize].get_mut() += 1;
            }
        }
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let mut fill = off.clone();
    let mut succ = vec![0u32; off[n] as usize];
    for c in (0..n as u32).filter(|&c| mine(c)) {
        for &d in &g.deps[c as usize] {
            if mine(d) || !g.here[d as usize] {
                succ[fill[d as usize] as usize] = c;
                fill[d as usize] += 1;
            }
        }
    }
    // The frames each rank sends here: one per task of it whose result
    // this rank consumes (its value, or its failure).
    let mut from = vec![0usize; lane.size()];
    for i in (0..n).filter(|&i| !mine(i as u32) && g.dests[i].contains(&me)) {
        from[g.owner[i] as usize] += 1;
    }
    for (r, &k) in from.iter().enumerate().filter(|&(_, &k)| k > 0) {
        lane.expect(r, k)?;
    }
    let expected = from.iter().sum();
    let (tx, rx) = channel();
    let exec = Exec {
        g,
        me,
        succ_off: off,
        succ,
        pending,
        flags: (0..n).map(|_| AtomicU8::new(0)).collect(),
        abort: AtomicBool::new(false),
        first: OnceLock::new(),
        cancelled: AtomicUsize::new(0),
        left: AtomicUsize::new((0..n as u32).filter(|&i| mine(i)).count()),
        tx,
        trace: crate::trace::enabled(),
        live: live_job(g, &mine),
        here: (rayon::current_num_threads() == 1).then(Default::default),
    };
    let x = &exec;
    for (i, node) in g.nodes.iter().enumerate() {
        node.head()
            .remaining
            .store(g.reads[i] as usize, Ordering::Relaxed);
    }
    let mut co = Coordinator {
        x,
        lane,
        rx,
        expected,
        aborted: false,
        aborts_from: Vec::new(),

        sent: 0,
        received: 0,
    };
    // Tasks that this thread runs (see `Exec::step`) must not see the
    // program's world: a map or a compute inside a task runs on this rank
    // alone, as it does on the pool's workers.
    // The tasks ready at the start, listed before any runs (a task that
    // runs would make others ready, which must not be spawned twice).
    let ready: Vec<u32> = g
        .order
        .iter()
        .copied()
        .filter(|&i| mine(i) && x.pending[i as usize].load(Ordering::Relaxed) == 0)
        .collect();
    let alone = Comm::single();
    let result = alone.install(|| {
        rayon::in_place_scope(|s| {
            for &i in &ready {
                x.ready(s, i);
            }
            let r = co.run(s);
            if r.is_err() {
                x.abort.store(true, Ordering::Relaxed);
            }
            r
        })
    });
    result?;
    co.lane.flush()?;
    Ok(Outcome {
        failure: x.first.get().cloned(),
        cancelled: x.cancelled.load(Ordering::Relaxed),
        aborted: co.aborted,
        aborts_from: co.aborts_from,
        sent: co.sent,
        received: co.received,
    })
}

/// This rank's part of `g` when it cannot run it: task `bad`, whose result
/// must move between ranks, has a type this rank cannot encode or decode
/// (`failure`). Nothing runs here; each rank that waits for a result of
/// this rank gets the failure in its place (which cancels what depends on
/// it there), every other rank an `Abort`, and the frames other ranks send
/// here are taken and dropped, so that the run ends on every rank with
/// this failure, whatever the other ranks know of the type (their
/// registries may differ from this one's).
pub(crate) fn refuse(
    g: &Placed<'_>,
    lane: &mut Lane<'_>,
    (bad, failure): (u32, Arc<Failure>),
) -> Result<Outcome, Error> {
    let me = lane.rank() as u32;
    let n = g.nodes.len();
    let mine = |i: usize| g.owner[i] == me;
    let mut from = vec![0usize; lane.size()];
    for i in (0..n).filter(|&i| !mine(i) && g.dests[i].contains(&me)) {
        from[g.owner[i] as usize] += 1;
    }
    for (r, &k) in from.iter().enumerate().filter(|&(_, &k)| k > 0) {
        lane.expect(r, k)?;
    }
    let mut expected: usize = from.iter().sum();
    let abort = msg_frame(&Msg::Abort);
    for r in (0..lane.size()).filter(|&r| r != me as usize) {
        lane.send(r, abort.clone())?;
    }
    let mut cancelled = 0;
    for i in (0..n).filter(|&i| mine(i)) {
        cancelled += usize::from(g.prior[i] == Claim::Idle && i != bad as usize);
        if g.dests[i].is_empty() {
            continue;
        }
        let frame = msg_frame(&Msg::Failed {
            task: i as u32,
            origin: bad,
            kind: kind_code(failure.kind),
            message: failure.message.clone(),
        });
        for &d in &g.dests[i] {
            lane.send(d as usize, frame.clone())?;
        }
    }
    let mut aborts_from = Vec::new();
    while expected > 0 {
        let Some((r, frame)) = lane.poll()? else {
            std::thread::yield_now();
            continue;
        };
        match parse(Lane::payload(&frame)) {
            Ok(Frame::Other(Msg::Abort)) => {
                // Not one of the frames counted (as in `deliver`).
                aborts_from.push(r);
                lane.expect(r, 1)?;
            }
            Ok(_) => expected -= 1,
            Err(e) => return Err(lane.garbled(r, e)),
        }
        lane.recycle(frame);
    }
    lane.flush()?;
    Ok(Outcome {
        failure: Some((bad, failure)),
        cancelled,
        aborted: true,
        aborts_from,
        sent: 0,
        received: 0,
    })
}

pub(super) struct Coordinator<'x, 'l, 'c> {
    pub(super) x: &'x Exec<'x>,
    pub(super) lane: &'l mut Lane<'c>,
    pub(super) rx: Receiver<Out>,
    /// Messages about tasks this rank still waits for.
    pub(super) expected: usize,
    pub(super) aborted: bool,
    /// The ranks whose `Abort` came.
    pub(super) aborts_from: Vec<usize>,
    pub(super) sent: usize,
    pub(super) received: usize,
}

impl<'x> Coordinator<'x, '_, '_> {
    pub(super) fn run(&mut self, s: &rayon::Scope<'x>) -> Result<(), Error> {
        let mut idle = 0u32;
        loop {
            let mut progress = false;
            while let Ok(out) = self.rx.try_recv() {
                self.post(out)?;
                progress = true;
            }
            // Also completes the sends that completed.
            if let Some((from, frame)) = self.lane.poll()? {
                self.deliver(s, from, &frame)?;
                self.lane.recycle(frame);
                progress = true;
            }
            // One task at a time, so that its results are sent before the
            // next runs.
            if let Some(i) = self.x.next_here() {
                self.x.run_here(s, i);
                progress = true;
            }
            if self.x.left.load(Ordering::Acquire) == 0 && self.expected == 0 {
                // Every worker handed its messages over before it counted
                // its task done. No `Abort` waits in the lane: the lane
                // posts a receive for a rank only while a task's frame from
                // it is still expected, so an `Abort` that took one came
                // before that frame, which is delivered after it.
                debug_assert_eq!(
                    self.lane.expected(),
                    0,
                    "frames left in the lane at the end"
                );
                while let Ok(out) = self.rx.try_recv() {
                    self.post(out)?;
                }
                return Ok(());
            }
            if progress {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < 64 {
                std::hint::spin_loop();
            } else if idle < 256 || self.expected > 0 && idle < 1024 {
                std::thread::yield_now();
            } else {
                let wait = if self.expected > 0 { 50 } else { 2000 };
                match self.rx.recv_timeout(Duration::from_micros(wait)) {
                    Ok(out) => {
                        self.post(out)?;
                        idle = 0;
                    }
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
                }
            }
        }
    }

    /// Sends what a worker handed over.
    fn post(&mut self, out: Out) -> Result<(), Error> {
        match out {
            Out::Send(to, frame) => {
                let value = value_task(&frame).map(|task| (task, frame.len()));
                let start = self.x.trace.then(crate::trace::now_us);
                self.lane.send(to as usize, frame)?;
                if let Some((task, len)) = value {
                    self.sent += 1;
                    if let Some(start) = start {
                        trace_transfer(self.x.g.nodes, task, self.x.me, to, len, start);
                    }
                }
            }
            Out::Abort if !self.aborted => {
                self.aborted = true;
                let frame = msg_frame(&Msg::Abort);
                for r in (0..self.lane.size()).filter(|&r| r != self.x.me as usize) {
                    self.lane.send(r, frame.clone())?;
                }
            }
            Out::Abort | Out::Wake => {}
        }
        Ok(())
    }

    /// Stores what rank `from` sent and releases the tasks waiting on it.
    fn deliver(&mut self, s: &rayon::Scope<'x>, from: usize, frame: &[u8]) -> Result<(), Error> {
        let x = self.x;
        let msg = match parse(Lane::payload(frame)) {
            Ok(msg) => msg,
            Err(e) => return Err(self.lane.garbled(from, e)),
        };
        let (task, status) = match msg {
            Frame::Other(Msg::Abort) => {
                // Not one of the frames counted: the lane expects one more
                // from that rank again.
                self.aborts_from.push(from);
                self.lane.expect(from, 1)?;
                x.abort.store(true, Ordering::Relaxed);
                return Ok(());
            }
            Frame::Value { task, bytes } if (task as usize) < x.g.nodes.len() => {
                self.received += 1;
                let start = x.trace.then(crate::trace::now_us);
                let node = &*x.g.nodes[task as usize];
                let decode = x.g.types[task as usize].and_then(|t| t.wire).map(|w| w.1);
                let got = match decode {
                    Some(decode) => no_panic("its `Deserialize`", || {
                        // SAFETY: this compute holds the claim of the node,
                        // which does not run here; its readers are released
                        // below.
                        unsafe { decode(node, bytes) }
                    }),
                    None => Err("no decoder".to_owned()),
                };
                if let Some(start) = start {
                    let from = x.g.owner[task as usize];
                    trace_transfer(x.g.nodes, task, from, x.me, bytes.len(), start);
                }
                match got {
                    Ok(()) => (task, Status::Ok),
                    Err(e) => {
                        let f = Arc::new(Failure {
                            key: node.head().key(),
                            kind: FailureKind::Comm,
                            message: format!(
                                "its result from rank {} could not be decoded: {e}",
                                x.g.owner[task as usize]
                            ),
                            error: Mutex::new(None),
                        });
                        // SAFETY: as above.
                        unsafe { node.fail(f.clone()) };
                        x.failed(task, f);
                        (task, Status::Failed)
                    }
                }
            }
            Frame::Other(Msg::Failed {
                task,
                origin,
                kind,
                message,
            }) if (task as usize) < x.g.nodes.len() => {
                let origin =
                    x.g.nodes
                        .get(origin as usize)
                        .unwrap_or(&x.g.nodes[task as usize]);
                let cause = Arc::new(Failure {
                    key: origin.head().key(),
                    kind: kind_of(kind),
                    message,
                    error: Mutex::new(None),
                });
                // SAFETY: this compute holds the claim; the node does not
                // run here.
                unsafe { x.g.nodes[task as usize].fail(cause) };
                (task, Status::Failed)
            }
            Frame::Other(Msg::Skipped { task }) if (task as usize) < x.g.nodes.len() => {
                (task, Status::Skipped)
            }
            Frame::Value { task, .. }
            | Frame::Other(Msg::Failed { task, .. } | Msg::Skipped { task }) => {
                let e = format!(
                    "a message about task {task} of a graph of {}",
                    x.g.nodes.len()
                );
                return Err(self.lane.garbled(from, e));
            }
        };
        self.expected -= 1;
        if let Some(c) = x.release(s, task, status) {
            x.run_here(s, c);
        }
        Ok(())
    }
}

/// The live dashboard's job for this rank's part of the compute (when it
/// is on): named after the first root, as a compute on one machine is, and
/// counting the tasks this rank runs.
fn live_job(g: &Placed<'_>, mine: &impl Fn(u32) -> bool) -> Option<crate::dashboard::Job> {
    if !crate::dashboard::enabled() {
        return None;
    }
    let root = g.nodes.first()?;
    let to_run = (0..g.nodes.len() as u32)
        .filter(|&i| mine(i) && g.prior[i as usize] == Claim::Idle)
        .count();
    crate::dashboard::job("compute", root.head().site.name, to_run)
}
