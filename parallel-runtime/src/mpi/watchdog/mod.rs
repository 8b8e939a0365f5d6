//! The hang watchdog of `#[mpi_main]` on real MPI: a job whose ranks wait
//! forever for ranks that have returned from `main` is aborted with a report
//! instead (`PARALLEL_HANG_TIMEOUT`, see [`crate::config`]).
//!
//! Each rank runs one thread that owns a duplicate of the world
//! communicator (the control communicator, made at start-up by every rank:
//! SPMD jobs only) and polls it every [`POLL`]:
//!
//! - when `main` returns `Ok`, the rank sends FINISHED to every other rank,
//!   and its watchdog stays until it has FINISHED from everyone: only then
//!   may the rank call `MPI_Finalize`;
//! - once some rank has finished, a rank that has waited inside one
//!   communicator operation for a while (what `crate::trace::op_span`
//!   publishes in a few atomics) reports BLOCKED(operation, how long) to the
//!   lowest finished rank, and UNBLOCKED when it moves on;
//! - the lowest finished rank aborts the job when every unfinished rank has
//!   waited in the same operation for the grace period (counted from no
//!   earlier than its own finish), printing one report;
//! - before any rank finishes, in a program whose `main` thread alone
//!   communicates (`threading` `single` or `funneled`, the default), a
//!   rank that has waited inside one operation for a while reports it to
//!   rank 0, which aborts the job when every rank, itself included, has
//!   waited in the same operation for the grace period: a deadlock (two
//!   ranks that each send a large message before receiving, collectives
//!   called in different orders), printing one report.
//!
//! A rank outside any operation is computing: it is never reported, so a job
//! with one slow rank is never aborted. A few bytes are sent per rank that
//! waits for longer than [`Watch`]'s `report_after`. The decisions are
//! in [`Watch`], free of MPI, and unit-tested here; the MPI side
//! (`thread.rs`, with the `mpi` feature) only moves its messages.

use std::time::{Duration, Instant};

use crate::trace::Activity;

/// How often the watchdog looks at its rank and at the control communicator.
#[cfg(feature = "mpi")]
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The exit code of a job aborted as hung (as `timeout(1)`).
#[cfg(feature = "mpi")]
pub(crate) const HUNG_EXIT_CODE: i32 = 124;

/// A message on the control communicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Msg {
    /// The sender returned from `main`.
    Finished,
    /// The sender has waited in `op` (its operation number `seq`) for `waited`.
    Blocked {
        seq: u64,
        waited: Duration,
        op: String,
    },
    /// The sender left its operation number `seq`.
    Unblocked { seq: u64 },
}

const TAG_FINISHED: i32 = 1;
const TAG_BLOCKED: i32 = 2;
const TAG_UNBLOCKED: i32 = 3;

impl Msg {
    /// The tag and bytes that carry it (a few bytes: always sent eagerly).
    pub(crate) fn encode(&self) -> (i32, Vec<u8>) {
        match self {
            Msg::Finished => (TAG_FINISHED, Vec::new()),
            Msg::Blocked { seq, waited, op } => {
                let mut b = Vec::with_capacity(16 + op.len());
                b.extend_from_slice(&seq.to_le_bytes());
                let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
                b.extend_from_slice(&ms.to_le_bytes());
                b.extend_from_slice(op.as_bytes());
                (TAG_BLOCKED, b)
            }
            Msg::Unblocked { seq } => (TAG_UNBLOCKED, seq.to_le_bytes().to_vec()),
        }
    }

    /// The message of a tag and bytes; `None` for anything else.
    pub(crate) fn decode(tag: i32, b: &[u8]) -> Option<Msg> {
        let word = |at: usize| {
            b.get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .map(u64::from_le_bytes)
        };
        match tag {
            TAG_FINISHED => Some(Msg::Finished),
            TAG_BLOCKED => Some(Msg::Blocked {
                seq: word(0)?,
                waited: Duration::from_millis(word(8)?),
                op: String::from_utf8_lossy(b.get(16..)?).into_owned(),
            }),
            TAG_UNBLOCKED => Some(Msg::Unblocked { seq: word(0)? }),
            _ => None,
        }
    }
}

/// What one rank's watchdog does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these messages, keep watching.
    Continue(Vec<(usize, Msg)>),
    /// Every rank has finished: the watchdog ends, the rank may finalize.
    Done,
    /// The job is hung: print this report and abort.
    Abort(String),
}

#[derive(Debug, Clone)]
struct Waiting {
    op: String,
    seq: u64,
    since: Instant,
}

/// One rank's watchdog decisions, without MPI.
#[derive(Debug)]
pub(crate) struct Watch {
    rank: usize,
    grace: Duration,
    /// A rank reports its wait after this long.
    report_after: Duration,
    /// Ranks known to have returned from `main`.
    finished: Vec<bool>,
    /// When this rank returned from `main`.
    finished_at: Option<Instant>,
    /// What other ranks reported waiting in (read by the lowest finished
    /// rank, or by rank 0 before any finished).
    waiting: Vec<Option<Waiting>>,
    /// Whether a job in which every rank waits, none finished, is aborted
    /// too: only where `main`'s thread alone communicates, so that a rank
    /// inside an operation cannot be sending from another thread.
    deadlocks: bool,
    /// This rank's current wait, from the polls of its activity.
    local: Option<Waiting>,
    /// The rank this rank's wait was reported to, and the operation.
    reported: Option<(usize, u64)>,
}

impl Watch {
    /// The watchdog of `rank` in a job of `size`, aborting after `grace`.
    #[cfg(test)]
    pub(crate) fn new(rank: usize, size: usize, grace: Duration) -> Watch {
        Watch::with_deadlocks(rank, size, grace, false)
    }

    /// [`Watch::new`], and (with `deadlocks`) a job whose ranks all wait,
    /// none finished, is aborted after `grace` too.
    pub(crate) fn with_deadlocks(
        rank: usize,
        size: usize,
        grace: Duration,
        deadlocks: bool,
    ) -> Watch {
        Watch {
            deadlocks,
            rank,
            grace,
            report_after: (grace / 4).min(Duration::from_millis(500)),
            finished: vec![false; size],
            finished_at: None,
            waiting: vec![None; size],
            local: None,
            reported: None,
        }
    }

    /// Whether this rank has returned from `main`.
    #[cfg(feature = "mpi")]
    pub(crate) fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }

    /// A message from `from`.
    pub(crate) fn receive(&mut self, from: usize, msg: Msg, now: Instant) {
        if from >= self.finished.len() {
            return;
        }
        match msg {
            Msg::Finished => {
                self.finished[from] = true;
                self.waiting[from] = None;
            }
            Msg::Blocked { seq, waited, op } => {
                self.waiting[from] = Some(Waiting {
                    op,
                    seq,
                    since: now.checked_sub(waited).unwrap_or(now),
                });
            }
            Msg::Unblocked { seq } => {
                if self.waiting[from].as_ref().is_some_and(|w| w.seq == seq) {
                    self.waiting[from] = None;
                }
            }
        }
    }

    /// This rank's activity, read at `now`.
    pub(crate) fn observe(&mut self, a: &Activity, now: Instant) {
        if !a.in_flight {
            self.local = None;
            return;
        }
        match &mut self.local {
            Some(w) if w.seq == a.seq => w.op.clone_from(&a.op),
            _ => {
                self.local = Some(Waiting {
                    op: a.op.clone(),
                    seq: a.seq,
                    since: now,
                })
            }
        }
    }

    /// This rank returned from `main` at `now`: FINISHED to every other rank.
    pub(crate) fn finish(&mut self, now: Instant) -> Vec<(usize, Msg)> {
        self.finished[self.rank] = true;
        self.finished_at = Some(now);
        self.local = None;
        (0..self.finished.len())
            .filter(|&r| r != self.rank)
            .map(|r| (r, Msg::Finished))
            .collect()
    }

    /// The lowest rank known to have finished: the one that decides.
    fn decider(&self) -> Option<usize> {
        self.finished.iter().position(|&f| f)
    }

    /// What to do at `now`, after the messages and the activity were taken in.
    pub(crate) fn tick(&mut self, now: Instant) -> Step {
        let Some(decider) = self.decider() else {
            return self.tick_unfinished(now);
        };
        let Some(finished_at) = self.finished_at else {
            return Step::Continue(self.report(decider, now));
        };
        if self.finished.iter().all(|&f| f) {
            return Step::Done;
        }
        if decider != self.rank {
            return Step::Continue(Vec::new());
        }
        let mut waits = Vec::new();
        for (r, f) in self.finished.iter().enumerate() {
            if *f {
                continue;
            }
            match &self.waiting[r] {
                Some(w) if now.duration_since(w.since.max(finished_at)) >= self.grace => {
                    waits.push((r, w.op.clone(), now.duration_since(w.since)));
                }
                _ => return Step::Continue(Vec::new()),
            }
        }
        Step::Abort(self.hang_report(&waits))
    }

    /// No rank has finished: with `deadlocks`, every rank reports its long
    /// waits to rank 0, which aborts the job once every rank has waited in
    /// one operation for the grace period.
    fn tick_unfinished(&mut self, now: Instant) -> Step {
        if !self.deadlocks {
            return Step::Continue(Vec::new());
        }
        if self.rank != 0 {
            return Step::Continue(self.report(0, now));
        }
        let mut waits = Vec::new();
        for r in 0..self.waiting.len() {
            let w = if r == self.rank {
                self.local.as_ref()
            } else {
                self.waiting[r].as_ref()
            };
            match w {
                Some(w) if now.duration_since(w.since) >= self.grace => {
                    waits.push((r, w.op.clone(), now.duration_since(w.since)));
                }
                _ => return Step::Continue(Vec::new()),
            }
        }
        Step::Abort(self.deadlock_report(&waits))
    }

    /// An unfinished rank tells the decider when its wait starts to count,
    /// and when it ends (or when the decider changes, or a new wait
    /// replaced the one reported: no report outlives its wait).
    fn report(&mut self, decider: usize, now: Instant) -> Vec<(usize, Msg)> {
        let long = self
            .local
            .as_ref()
            .map(|w| (w, now.duration_since(w.since)))
            .filter(|(_, waited)| *waited >= self.report_after);
        let want = long.as_ref().map(|(w, _)| (decider, w.seq));
        if self.reported == want {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some((to, seq)) = self.reported.take() {
            out.push((to, Msg::Unblocked { seq }));
        }
        if let Some((w, waited)) = long {
            out.push((
                decider,
                Msg::Blocked {
                    seq: w.seq,
                    waited,
                    op: w.op.clone(),
                },
            ));
            self.reported = want;
        }
        out
    }

    fn deadlock_report(&self, waits: &[(usize, String, Duration)]) -> String {
        let mut text = format!(
            "rank {}: the job is deadlocked: every rank has waited for {:.1} s in a \
             communication that only another waiting rank could complete:",
            self.rank,
            self.grace.as_secs_f64()
        );
        list_waits(&mut text, waits);
        text.push_str(&format!(
            "\nCheck that every send has its receive and that every rank calls the same \
             collectives in the same order. Two ranks that each send a large message (past the \
             MPI library's eager limit, a few KiB) before receiving wait for each other: use \
             `sendrecv`, or `isend` then `recv`. Aborting the job ({}={} s; 0 turns this check \
             off; raise it for a single transfer that takes longer).",
            crate::config::ENV_HANG_TIMEOUT,
            self.grace.as_secs_f64()
        ));
        text
    }

    fn hang_report(&self, waits: &[(usize, String, Duration)]) -> String {
        let finished: Vec<usize> = (0..self.finished.len())
            .filter(|&r| self.finished[r])
            .collect();
        let who = match finished.as_slice() {
            [one] => format!("rank {one} returned from main"),
            many => format!("ranks {} returned from main", rank_list(many)),
        };
        let mut text = format!(
            "rank {}: the job cannot finish: {who}, and every other rank has waited for {:.1} s \
             in a communication that nothing can complete any more:",
            self.rank,
            self.grace.as_secs_f64()
        );
        list_waits(&mut text, waits);
        text.push_str(&format!(
            "\nA rank that returns from main while others still wait for its messages, or for its \
             part in a collective, leaves them waiting forever: check that every send has its \
             receive and that every rank calls the same collectives. Aborting the job \
             ({}={} s; 0 turns this check off).",
            crate::config::ENV_HANG_TIMEOUT,
            self.grace.as_secs_f64()
        ));
        text
    }
}

/// One line of a report per waiting rank: its operation and how long.
fn list_waits(text: &mut String, waits: &[(usize, String, Duration)]) {
    for (r, op, waited) in waits {
        text.push_str(&format!(
            "\n  rank {r} waits in `{op}` (for {:.1} s)",
            waited.as_secs_f64()
        ));
    }
}

/// `0, 1, 2, 5` as `0-2, 5`.
fn rank_list(ranks: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ranks.len() {
        let mut j = i;
        while j + 1 < ranks.len() && ranks[j + 1] == ranks[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ranks[i].to_string()
        } else {
            format!("{}-{}", ranks[i], ranks[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(feature = "mpi")]
pub(crate) mod thread;

#[cfg(test)]
mod tests;
