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
//!   earlier than its own finish), printing one report.
//!
//! A rank outside any operation is computing: it is never reported, so a job
//! with one slow rank is never aborted. Nothing is sent before some rank
//! finishes; after that, a few bytes per rank that waits. The decisions are
//! in [`Watch`], free of MPI, and unit-tested here; the MPI side (with the
//! `mpi` feature) only moves its messages.

#![cfg_attr(not(feature = "mpi"), allow(dead_code))]

use std::time::{Duration, Instant};

use crate::trace::Activity;

/// How often the watchdog looks at its rank and at the control communicator.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The exit code of a job aborted as hung (as `timeout(1)`).
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
    /// What other ranks reported waiting in (read by the lowest finished rank).
    waiting: Vec<Option<Waiting>>,
    /// This rank's current wait, from the polls of its activity.
    local: Option<Waiting>,
    /// The rank this rank's wait was reported to, and the operation.
    reported: Option<(usize, u64)>,
}

impl Watch {
    /// The watchdog of `rank` in a job of `size`, aborting after `grace`.
    pub(crate) fn new(rank: usize, size: usize, grace: Duration) -> Watch {
        Watch {
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
            return Step::Continue(Vec::new());
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

    /// An unfinished rank tells the decider when its wait starts to count,
    /// and when it ends.
    fn report(&mut self, decider: usize, now: Instant) -> Vec<(usize, Msg)> {
        let waited = self
            .local
            .as_ref()
            .map(|w| (w, now.duration_since(w.since)));
        match waited {
            Some((w, waited)) if waited >= self.report_after => {
                if self.reported == Some((decider, w.seq)) {
                    return Vec::new();
                }
                self.reported = Some((decider, w.seq));
                vec![(
                    decider,
                    Msg::Blocked {
                        seq: w.seq,
                        waited,
                        op: w.op.clone(),
                    },
                )]
            }
            Some(_) => Vec::new(),
            None => match self.reported.take() {
                Some((to, seq)) => vec![(to, Msg::Unblocked { seq })],
                None => Vec::new(),
            },
        }
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
        for (r, op, waited) in waits {
            text.push_str(&format!(
                "\n  rank {r} waits in `{op}` (for {:.1} s)",
                waited.as_secs_f64()
            ));
        }
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

/// What kind of job the launcher started, from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// One program on every rank (Open MPI's `OMPI_APP_CTX_NUM_PROCS` has
    /// one count): every rank runs this runtime and joins its start-up
    /// collectives.
    Spmd,
    /// Several programs (`mpirun -n 1 a : -n 1 b`): the others may be
    /// mpi4py or C, which never join our start-up collectives.
    Mpmd,
    /// A launcher that does not say.
    Unknown,
}

/// The kind of job, from `OMPI_APP_CTX_NUM_PROCS` as `get` reads it.
pub(crate) fn job_kind(get: impl Fn(&str) -> Option<String>) -> JobKind {
    match get("OMPI_APP_CTX_NUM_PROCS") {
        Some(v) => match v.split_whitespace().count() {
            1 => JobKind::Spmd,
            0 => JobKind::Unknown,
            _ => JobKind::Mpmd,
        },
        None => JobKind::Unknown,
    }
}

/// In an Open MPI job, the first rank of this program's app context (the
/// one to print a note for all of them).
pub(crate) fn first_rank_of_app(get: impl Fn(&str) -> Option<String>) -> Option<usize> {
    let app: usize = get("OMPI_MCA_orte_app_num")?.trim().parse().ok()?;
    let counts = get("OMPI_APP_CTX_NUM_PROCS")?;
    counts
        .split_whitespace()
        .take(app)
        .map(|c| c.parse::<usize>().ok())
        .sum()
}

#[cfg(feature = "mpi")]
pub(crate) use real::Watchdog;

#[cfg(feature = "mpi")]
mod real {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use rsmpi::point_to_point::MatchedReceiveVec;
    use rsmpi::topology::SimpleCommunicator;
    use rsmpi::traits::{Communicator, Destination, Source};

    use super::{Msg, Step, Watch, HUNG_EXIT_CODE, POLL};

    /// The control communicator, moved to the watchdog thread.
    struct Control(SimpleCommunicator);

    // SAFETY: the watchdog only starts where MPI provides
    // `MPI_THREAD_MULTIPLE`, under which any thread may call MPI on any
    // communicator; after the move only the watchdog thread uses this one.
    unsafe impl Send for Control {}

    /// A running watchdog: its thread, or (if no thread could be started)
    /// the same loop run on the main thread at the end.
    pub(crate) struct Watchdog {
        returned: Arc<AtomicBool>,
        run: Run,
    }

    enum Run {
        Thread(std::thread::JoinHandle<()>),
        Inline(Control, Watch),
    }

    impl Watchdog {
        /// Duplicates `world` (a collective call: every rank of an SPMD job
        /// makes it at start-up) and starts watching. Needs
        /// `MPI_THREAD_MULTIPLE`.
        pub(crate) fn start(world: &SimpleCommunicator, grace: Duration) -> Watchdog {
            let control = Control(world.duplicate());
            let watch = Watch::new(world.rank() as usize, world.size() as usize, grace);
            crate::trace::watch_activity();
            let returned = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&returned);
            // The closure owns the communicator only if the thread starts.
            let slot = Arc::new(std::sync::Mutex::new(Some((control, watch))));
            let taken = Arc::clone(&slot);
            let spawned = std::thread::Builder::new()
                .name("parallel-watchdog".into())
                .spawn(move || {
                    let parts = taken.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some((control, mut watch)) = parts {
                        serve(&control, &mut watch, &flag);
                    }
                });
            let run = match spawned {
                Ok(thread) => Run::Thread(thread),
                Err(_) => {
                    // The thread never ran: the parts are still in the slot.
                    match slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        Some((control, watch)) => Run::Inline(control, watch),
                        None => unreachable!("a thread that failed to start took nothing"),
                    }
                }
            };
            Watchdog { returned, run }
        }

        /// `main` returned `Ok`: tells the other ranks at once.
        pub(crate) fn main_returned(&self) {
            self.returned.store(true, Ordering::Release);
            if let Run::Thread(t) = &self.run {
                t.thread().unpark();
            }
        }

        /// Waits until every rank has returned from `main` (or the job is
        /// aborted as hung), before `MPI_Finalize`.
        pub(crate) fn wait_all(self) {
            self.main_returned();
            match self.run {
                Run::Thread(t) => {
                    // A panic in the watchdog is a bug of ours; the rank
                    // still finalizes (the report was printed by the hook).
                    let _ = t.join();
                }
                Run::Inline(control, mut watch) => serve(&control, &mut watch, &self.returned),
            }
        }
    }

    fn send(control: &SimpleCommunicator, to: usize, msg: &Msg) {
        let (tag, bytes) = msg.encode();
        // A few bytes: MPI sends them eagerly, so this returns at once.
        control
            .process_at_rank(to as i32)
            .send_with_tag(&bytes[..], tag);
    }

    /// The watchdog's loop, until every rank has finished.
    fn serve(control: &Control, watch: &mut Watch, returned: &AtomicBool) {
        let control = &control.0;
        // After this rank finishes, poll fast at first so the end of a
        // healthy job is not delayed, then back off to POLL.
        let mut nap = POLL;
        loop {
            let now = Instant::now();
            let mut heard = false;
            while let Some(probed) = control.any_process().immediate_matched_probe() {
                let (bytes, status) = probed.matched_receive_vec::<u8>();
                if let Some(m) = Msg::decode(status.tag(), &bytes) {
                    watch.receive(status.source_rank() as usize, m, now);
                }
                heard = true;
            }
            if !watch.is_finished() && returned.load(Ordering::Acquire) {
                for (to, m) in watch.finish(now) {
                    send(control, to, &m);
                }
                nap = Duration::from_millis(1);
            } else if heard && watch.is_finished() {
                nap = Duration::from_millis(1);
            }
            watch.observe(&crate::trace::activity(), now);
            match watch.tick(now) {
                Step::Continue(out) => {
                    for (to, m) in out {
                        send(control, to, &m);
                    }
                }
                Step::Done => return,
                Step::Abort(report) => {
                    eprintln!("{report}");
                    let _ = crate::trace::flush();
                    // On the world, so that the launcher's message names it.
                    SimpleCommunicator::world().abort(HUNG_EXIT_CODE);
                }
            }
            if watch.is_finished() {
                std::thread::sleep(nap);
                nap = (nap * 2).min(POLL);
            } else {
                std::thread::park_timeout(POLL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(seq: u64, op: &str) -> Activity {
        Activity {
            in_flight: true,
            seq,
            op: op.into(),
        }
    }

    fn idle(seq: u64) -> Activity {
        Activity {
            in_flight: false,
            seq,
            op: String::new(),
        }
    }

    const GRACE: Duration = Duration::from_secs(2);

    /// Rank 1 returns; rank 0 waits in `recv`, rank 2 in `barrier`.
    #[test]
    fn ranks_waiting_on_a_finished_rank_are_aborted_after_the_grace_period() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = [
            Watch::new(0, 3, GRACE),
            Watch::new(1, 3, GRACE),
            Watch::new(2, 3, GRACE),
        ];
        let out = w[1].finish(at(0));
        assert_eq!(out, vec![(0, Msg::Finished), (2, Msg::Finished)]);
        for (to, m) in out {
            w[to].receive(1, m, at(1));
        }
        w[0].observe(&busy(7, "recv"), at(0));
        w[2].observe(&busy(3, "barrier"), at(0));
        // Too early to report.
        assert_eq!(w[0].tick(at(100)), Step::Continue(vec![]));
        w[0].observe(&busy(7, "recv"), at(600));
        let Step::Continue(out) = w[0].tick(at(600)) else {
            panic!()
        };
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], (1, Msg::Blocked { seq: 7, op, .. }) if op == "recv"));
        // Reported once per operation.
        assert_eq!(w[0].tick(at(650)), Step::Continue(vec![]));
        let (tag, bytes) = out[0].1.encode();
        w[1].receive(0, Msg::decode(tag, &bytes).unwrap(), at(600));
        // Rank 2 has not reported yet: no decision.
        assert_eq!(w[1].tick(at(2500)), Step::Continue(vec![]));
        w[2].observe(&busy(3, "barrier"), at(600));
        let Step::Continue(out) = w[2].tick(at(600)) else {
            panic!()
        };
        for (to, m) in out {
            w[to].receive(2, m, at(600));
        }
        // Not yet the grace period since rank 1 finished... then it is.
        assert_eq!(w[1].tick(at(1900)), Step::Continue(vec![]));
        let Step::Abort(report) = w[1].tick(at(2000)) else {
            panic!()
        };
        assert!(report.starts_with("rank 1: "), "{report}");
        assert!(report.contains("rank 1 returned from main"), "{report}");
        assert!(report.contains("rank 0 waits in `recv`"), "{report}");
        assert!(report.contains("rank 2 waits in `barrier`"), "{report}");
        assert!(report.contains("PARALLEL_HANG_TIMEOUT=2 s"), "{report}");
    }

    #[test]
    fn a_computing_rank_is_never_taken_for_hung() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let (mut zero, mut one) = (Watch::new(0, 2, GRACE), Watch::new(1, 2, GRACE));
        for (to, m) in zero.finish(at(0)) {
            assert_eq!(to, 1);
            one.receive(0, m, at(0));
        }
        // Rank 1 computes for a long time: nothing is sent, rank 0 waits.
        for s in 0..100 {
            one.observe(&idle(4), at(s));
            assert_eq!(one.tick(at(s)), Step::Continue(vec![]));
            assert_eq!(zero.tick(at(s)), Step::Continue(vec![]));
        }
    }

    #[test]
    fn a_rank_that_moves_on_withdraws_its_report() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let (mut zero, mut one) = (Watch::new(0, 2, GRACE), Watch::new(1, 2, GRACE));
        for (_, m) in zero.finish(at(0)) {
            one.receive(0, m, at(0));
        }
        one.observe(&busy(1, "recv"), at(0));
        let Step::Continue(out) = one.tick(at(1000)) else {
            panic!()
        };
        for (_, m) in out {
            zero.receive(1, m, at(1000));
        }
        // It got its message and computes.
        one.observe(&idle(1), at(1500));
        let Step::Continue(out) = one.tick(at(1500)) else {
            panic!()
        };
        assert_eq!(out, vec![(0, Msg::Unblocked { seq: 1 })]);
        for (_, m) in out {
            zero.receive(1, m, at(1500));
        }
        assert_eq!(zero.tick(at(60_000)), Step::Continue(vec![]));
        // A new wait counts from its own start.
        one.observe(&busy(2, "barrier"), at(60_000));
        let Step::Continue(out) = one.tick(at(60_500)) else {
            panic!()
        };
        for (_, m) in out {
            zero.receive(1, m, at(60_500));
        }
        assert_eq!(zero.tick(at(61_000)), Step::Continue(vec![]));
        assert!(matches!(zero.tick(at(62_000)), Step::Abort(_)));
    }

    #[test]
    fn the_job_ends_when_everyone_has_finished() {
        let t0 = Instant::now();
        let mut w: Vec<Watch> = (0..3).map(|r| Watch::new(r, 3, GRACE)).collect();
        for r in 0..3 {
            for (to, m) in w[r].finish(t0) {
                w[to].receive(r, m, t0);
            }
        }
        for x in &mut w {
            assert_eq!(x.tick(t0), Step::Done);
        }
    }

    #[test]
    fn messages_survive_the_wire_and_garbage_is_ignored() {
        let m = Msg::Blocked {
            seq: 42,
            waited: Duration::from_millis(1500),
            op: "all_reduce".into(),
        };
        let (tag, b) = m.encode();
        assert_eq!(Msg::decode(tag, &b), Some(m));
        assert_eq!(Msg::decode(TAG_BLOCKED, &[1, 2]), None);
        assert_eq!(Msg::decode(99, &[]), None);
    }

    #[test]
    fn rank_lists_are_compact_and_job_kinds_come_from_open_mpi() {
        assert_eq!(rank_list(&[0, 1, 2, 5, 7, 8]), "0-2, 5, 7-8");
        let env = |v: &'static str| move |_: &str| Some(v.to_owned());
        assert_eq!(job_kind(env("4")), JobKind::Spmd);
        assert_eq!(job_kind(env("1 1")), JobKind::Mpmd);
        assert_eq!(job_kind(|_: &str| None), JobKind::Unknown);
        let mpmd = |app: &'static str| {
            move |v: &str| match v {
                "OMPI_MCA_orte_app_num" => Some(app.to_owned()),
                "OMPI_APP_CTX_NUM_PROCS" => Some("1 2 4".to_owned()),
                _ => None,
            }
        };
        assert_eq!(first_rank_of_app(mpmd("0")), Some(0));
        assert_eq!(first_rank_of_app(mpmd("2")), Some(3));
        assert_eq!(first_rank_of_app(|_: &str| None), None);
    }
}
