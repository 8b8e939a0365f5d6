//! The watchdog's decisions, without MPI.

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
fn rank_lists_are_compact() {
    assert_eq!(rank_list(&[0, 1, 2, 5, 7, 8]), "0-2, 5, 7-8");
}

/// Delivers `step`'s messages from `from` to the watches, at `now`.
fn deliver(w: &mut [Watch], from: usize, step: Step, now: Instant) {
    let Step::Continue(out) = step else {
        panic!("expected to continue, got {step:?}")
    };
    for (to, m) in out {
        let (tag, bytes) = m.encode();
        w[to].receive(from, Msg::decode(tag, &bytes).unwrap(), now);
    }
}

/// Ranks 0 and 1 each wait in `send_buf` (both sent first), rank 2 in
/// `barrier`; none has finished: rank 0 aborts the job after the grace
/// period, naming every rank's operation.
#[test]
fn a_job_whose_ranks_all_wait_is_aborted_as_deadlocked() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut w: Vec<Watch> = (0..3)
        .map(|r| Watch::with_deadlocks(r, 3, GRACE, true))
        .collect();
    let ops = ["send_buf", "send_buf", "barrier"];
    for ms in [0, 600, 1200, 1999] {
        for r in 0..3 {
            w[r].observe(&busy(10 + r as u64, ops[r]), at(ms));
            let step = w[r].tick(at(ms));
            deliver(&mut w, r, step, at(ms));
        }
    }
    // Rank 0 has waited 2 s, the others' reports say the same: abort.
    w[0].observe(&busy(10, "send_buf"), at(2000));
    let Step::Abort(report) = w[0].tick(at(2000)) else {
        panic!("no abort")
    };
    assert!(
        report.starts_with("rank 0: the job is deadlocked"),
        "{report}"
    );
    assert!(report.contains("rank 0 waits in `send_buf`"), "{report}");
    assert!(report.contains("rank 1 waits in `send_buf`"), "{report}");
    assert!(report.contains("rank 2 waits in `barrier`"), "{report}");
    assert!(report.contains("PARALLEL_HANG_TIMEOUT=2 s"), "{report}");
    // Only rank 0 decides.
    assert!(matches!(w[1].tick(at(3000)), Step::Continue(_)));
}

/// The same waits, but rank 2 computes (or the program lets other threads
/// communicate, `deadlocks` false): never aborted.
#[test]
fn all_waiting_but_one_computing_rank_or_other_threads_is_not_a_deadlock() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    for deadlocks in [true, false] {
        let mut w: Vec<Watch> = (0..3)
            .map(|r| Watch::with_deadlocks(r, 3, GRACE, deadlocks))
            .collect();
        for ms in (0..10_000).step_by(500) {
            for r in 0..3 {
                let a = if deadlocks && r == 2 {
                    idle(5)
                } else {
                    busy(10 + r as u64, "recv")
                };
                w[r].observe(&a, at(ms));
                let step = w[r].tick(at(ms));
                if r == 0 {
                    assert!(matches!(step, Step::Continue(_)), "{step:?}");
                }
                deliver(&mut w, r, step, at(ms));
            }
        }
    }
}

/// A rank whose reported wait ended withdraws the report even when its next
/// wait began before the watchdog saw it compute: rank 0 never holds a
/// report older than the rank's current operation.
#[test]
fn a_report_is_withdrawn_when_a_new_wait_replaces_it() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut w: Vec<Watch> = (0..2)
        .map(|r| Watch::with_deadlocks(r, 2, GRACE, true))
        .collect();
    w[1].observe(&busy(5, "recv"), at(0));
    let step = w[1].tick(at(0));
    deliver(&mut w, 1, step, at(0));
    w[1].observe(&busy(5, "recv"), at(600));
    let Step::Continue(out) = w[1].tick(at(600)) else {
        panic!()
    };
    assert!(matches!(out.as_slice(), [(0, Msg::Blocked { seq: 5, .. })]));
    deliver(&mut w, 1, Step::Continue(out), at(600));
    // Operation 5 ended, operation 6 began between two polls.
    w[1].observe(&busy(6, "recv"), at(650));
    let Step::Continue(out) = w[1].tick(at(650)) else {
        panic!()
    };
    assert_eq!(out, vec![(0, Msg::Unblocked { seq: 5 })]);
    deliver(&mut w, 1, Step::Continue(out), at(650));
    // Rank 0 waits long; rank 1's operations are short: no abort.
    for ms in (700..5_000).step_by(100) {
        w[0].observe(&busy(1, "recv"), at(ms));
        w[1].observe(&busy(7 + ms, "recv"), at(ms));
        let step = w[1].tick(at(ms));
        deliver(&mut w, 1, step, at(ms));
        assert!(matches!(w[0].tick(at(ms)), Step::Continue(_)));
    }
}
