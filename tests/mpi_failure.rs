//! A rank that panics, and a rank that returns `Err`, while the others wait
//! in a collective: the job must end within seconds, non-zero, naming the
//! failing rank. Under real MPI (built with `--features mpi`, `mpirun` on
//! the PATH) the job has 3 ranks; otherwise the program runs as one rank.
//!
//! Also under real MPI only (the others print why they skip): a rank that
//! returns while the others wait for it (the hang watchdog), a slow rank
//! that must not be taken for hung, and a trace file that one rank cannot
//! write. Without the `mpi` feature: a program started as several ranks by
//! a launcher must refuse to run.
//!
//! Every child process runs under a deadline, so a regression fails the
//! test instead of hanging CI.

use std::process::{Command, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `cmd`, killing it at three times the deadline; returns (exit
/// code, stderr, time).
fn run_with_deadline(mut cmd: Command) -> (Option<i32>, String, Duration) {
    let done = parallel_tests::run_with_deadline(&mut cmd, DEADLINE * 3);
    (done.code, done.stderr, done.took)
}

fn mpirun() -> Option<&'static str> {
    if !cfg!(feature = "mpi") {
        return None;
    }
    parallel_tests::mpirun_runs().then_some("mpirun")
}

fn job(mode: &str) -> (Command, usize) {
    let exe = env!("CARGO_BIN_EXE_mpi_fail");
    match mpirun() {
        Some(mpirun) => {
            let mut cmd = Command::new(mpirun);
            cmd.args(["--oversubscribe", "-n", "3", exe, mode])
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
            clean_env(&mut cmd);
            (cmd, 2)
        }
        None => {
            let mut cmd = Command::new(exe);
            cmd.arg(mode);
            clean_env(&mut cmd);
            (cmd, 0)
        }
    }
}

/// The variables these tests set, removed from what the test inherits.
fn clean_env(cmd: &mut Command) {
    for v in [
        "PARALLEL_HANG_TIMEOUT",
        "PARALLEL_TRACE",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_RANK",
        "PMI_SIZE",
        "PMI_RANK",
        "MV2_COMM_WORLD_SIZE",
        "MV2_COMM_WORLD_RANK",
    ] {
        cmd.env_remove(v);
    }
}

/// A 3-rank job under `mpirun`, or `None` (with the reason printed) when
/// this test was not built with `--features mpi` or has no `mpirun`.
fn mpi_job(test: &str, mode: &str) -> Option<Command> {
    if mpirun().is_none() {
        eprintln!(
            "skipped {test}: needs real MPI (`cargo test -p parallel-tests --features mpi`, \
             `mpirun` on the PATH)"
        );
        return None;
    }
    Some(job(mode).0)
}

#[test]
fn a_panicking_rank_ends_the_job_naming_itself() {
    let (cmd, failing) = job("panic");
    let (code, err, took) = run_with_deadline(cmd);
    assert!(code != Some(0), "the job succeeded; stderr:\n{err}");
    assert!(took < DEADLINE, "the job took {took:?}; stderr:\n{err}");
    assert!(
        err.contains(&format!("rank {failing}: panicked at ")),
        "stderr:\n{err}"
    );
    assert!(err.contains("mpi_fail.rs:"), "no location; stderr:\n{err}");
    assert!(
        err.contains(&format!("simulated bug on rank {failing}")),
        "stderr:\n{err}"
    );
}

#[test]
fn a_rank_returning_err_ends_the_job_naming_itself() {
    let (cmd, failing) = job("error");
    let (code, err, took) = run_with_deadline(cmd);
    assert!(code != Some(0), "the job succeeded; stderr:\n{err}");
    assert!(took < DEADLINE, "the job took {took:?}; stderr:\n{err}");
    assert!(
        err.contains(&format!(
            "rank {failing}: error: simulated failure on rank {failing}"
        )),
        "stderr:\n{err}"
    );
    assert!(err.contains("mpi_fail.rs:"), "no location; stderr:\n{err}");
}

#[test]
fn a_healthy_job_succeeds() {
    let (cmd, _) = job("none");
    let (code, err, _) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
}

/// Runs `mode` with `PARALLEL_HANG_TIMEOUT=2`: the job must be aborted
/// after the timeout and before the deadline, with one report that starts
/// with `report` and holds each of `lines`. `None` where the test skips.
fn aborted_with(test: &str, mode: &str, report: &str, lines: &[&str]) -> Option<String> {
    let mut cmd = mpi_job(test, mode)?;
    cmd.env("PARALLEL_HANG_TIMEOUT", "2");
    let (code, err, took) = run_with_deadline(cmd);
    assert!(code != Some(0), "the job succeeded; stderr:\n{err}");
    assert!(took < DEADLINE, "the job took {took:?}; stderr:\n{err}");
    assert!(
        took > Duration::from_secs(2),
        "aborted before the grace period: {took:?}; stderr:\n{err}"
    );
    assert_eq!(err.matches(report).count(), 1, "one report; stderr:\n{err}");
    for line in lines {
        assert!(err.contains(line), "no {line:?} in stderr:\n{err}");
    }
    Some(err)
}

/// Rank 1 returns `Ok` without sending; rank 0 waits for it in `recv`,
/// rank 2 in a `barrier`: the watchdog aborts the job after
/// `PARALLEL_HANG_TIMEOUT`, naming the finished rank and each blocked
/// rank's operation (on old code, the job hung).
#[test]
fn ranks_waiting_for_a_rank_that_returned_are_aborted_with_a_report() {
    aborted_with(
        "the hang watchdog test",
        "hang",
        "the job cannot finish",
        &[
            "rank 1: the job cannot finish: rank 1 returned from main",
            "rank 0 waits in `recv`",
            "rank 2 waits in `barrier`",
        ],
    );
}

/// Rank 0 computes a graph across the ranks; rank 1 returns without it:
/// the report names the compute, not the collective inside it.
#[test]
fn a_compute_that_another_rank_never_joins_is_named() {
    aborted_with(
        "the graph watchdog test",
        "graph_hang",
        "the job cannot finish",
        &["rank 0 waits in `compute_on`"],
    );
}

/// Ranks 0 and 1 each send 1 MiB to the other before receiving, rank 2
/// waits in `barrier`, and no rank returns: the watchdog aborts the job
/// after `PARALLEL_HANG_TIMEOUT` as deadlocked, naming each rank's
/// operation (on old code, the job hung).
#[test]
fn a_deadlocked_job_is_aborted_with_a_report() {
    aborted_with(
        "the deadlock watchdog test",
        "deadlock",
        "the job is deadlocked",
        &[
            "rank 0: the job is deadlocked",
            "rank 0 waits in `send_buf`",
            "rank 1 waits in `send_buf`",
            "rank 2 waits in `barrier`",
            "use `sendrecv`",
        ],
    );
}

/// As above, each rank sending by `isend_buf` and dropping the request at
/// once: the drop waits for the send, which no receive takes. The
/// watchdog names that wait (before, the drop waited inside MPI, unseen:
/// the job hung without a report).
#[test]
fn a_dropped_send_that_cannot_complete_is_aborted_with_a_report() {
    aborted_with(
        "the dropped-send watchdog test",
        "dropped_send",
        "the job is deadlocked",
        &[
            "rank 0 waits in `drop of request`",
            "rank 1 waits in `drop of request`",
        ],
    );
}

/// The known limit of posted receives (docs/mpi.md, "Progress of posted
/// receives"): rank 0's `irecv_buf` does not take rank 1's 1 MiB while
/// rank 0 waits in `all_reduce_buf`, and rank 1 waits in `send_buf` before
/// its own `all_reduce_buf`. Not a hang: the job is aborted as deadlocked,
/// naming both operations.
#[test]
fn a_posted_receive_across_a_data_collective_ends_in_a_report_not_a_hang() {
    aborted_with(
        "the posted-receive deadlock test",
        "posted_then_allreduce",
        "the job is deadlocked",
        &[
            "rank 0 waits in `all_reduce_buf`",
            "rank 1 waits in `send_buf`",
        ],
    );
}

/// As below, but rank 2 waits in `barrier` instead of returning: no rank
/// has finished while rank 1 computes, and a computing rank is no
/// deadlock: the job succeeds.
#[test]
fn a_computing_rank_is_no_deadlock() {
    let Some(mut cmd) = mpi_job("the slow-rank deadlock test", "slow_all") else {
        return;
    };
    cmd.env("PARALLEL_HANG_TIMEOUT", "1");
    let (code, err, took) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(!err.contains("deadlocked"), "stderr:\n{err}");
}

/// Rank 2 returns at once, rank 1 computes for twice the timeout before
/// sending to rank 0, which waits in `recv`: computing is not hanging, the
/// job succeeds.
#[test]
fn a_slow_computing_rank_is_not_taken_for_hung() {
    let Some(mut cmd) = mpi_job("the slow-rank watchdog test", "slow") else {
        return;
    };
    cmd.env("PARALLEL_HANG_TIMEOUT", "1");
    let (code, err, took) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(!err.contains("cannot finish"), "stderr:\n{err}");
}

/// `PARALLEL_TRACE` names a relative path whose directory exists in rank
/// 0's working directory only: every rank turns tracing off, rank 0 says
/// which ranks failed and why, and the job finishes (on old code, the
/// failing ranks skipped the start-up barrier and the job hung).
#[test]
fn a_trace_file_that_one_rank_cannot_write_turns_tracing_off_everywhere() {
    if mpirun().is_none() {
        eprintln!("skipped the trace agreement test: needs real MPI (`--features mpi`, `mpirun`)");
        return;
    }
    let root = std::env::temp_dir().join(format!("parallel-trace-agree-{}", std::process::id()));
    let (good, bad) = (root.join("good"), root.join("bad"));
    std::fs::create_dir_all(good.join("traces")).expect("temp dir");
    std::fs::create_dir_all(&bad).expect("temp dir");
    let exe = env!("CARGO_BIN_EXE_mpi_fail");
    let mut cmd = Command::new("mpirun");
    // Two programs (app contexts) with their own working directories.
    cmd.args(["--oversubscribe", "-n", "1", "--wdir"])
        .arg(&good)
        .args([exe, "none", ":", "-n", "2", "--wdir"])
        .arg(&bad)
        .args([exe, "none"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    clean_env(&mut cmd);
    cmd.env("PARALLEL_TRACE", "traces/run.json");
    let (code, err, took) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(took < DEADLINE, "the job took {took:?}; stderr:\n{err}");
    assert!(
        err.contains("rank 0: warning: tracing is off for the whole job"),
        "stderr:\n{err}"
    );
    assert!(err.contains("rank(s) 1, 2 cannot write"), "stderr:\n{err}");
    assert!(
        err.contains("rank 1: cannot write the trace part traces/run.json.rank1.part"),
        "stderr:\n{err}"
    );
    assert!(err.contains("No such file or directory"), "stderr:\n{err}");
    let left: Vec<_> = std::fs::read_dir(good.join("traces"))
        .expect("the trace directory")
        .collect();
    assert!(left.is_empty(), "rank 0's part is removed: {left:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// A program built without the `mpi` feature, started as one of several
/// ranks by a launcher (its variables are all it sees of `mpirun`), stops
/// with an error that names the feature and how to turn it on.
#[test]
fn a_program_without_the_mpi_feature_refuses_to_run_under_a_launcher() {
    if cfg!(feature = "mpi") {
        eprintln!(
            "skipped the launcher test: it needs a program built without the `mpi` feature \
             (`cargo test -p parallel-tests --test mpi_failure`)"
        );
        return;
    }
    let exe = env!("CARGO_BIN_EXE_mpi_fail");
    for (var, rank_var) in [
        ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
        ("PMI_SIZE", "PMI_RANK"),
        ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"),
    ] {
        let mut cmd = Command::new(exe);
        cmd.arg("none");
        clean_env(&mut cmd);
        cmd.env(var, "2").env(rank_var, "0");
        let (code, err, _) = run_with_deadline(cmd);
        assert_eq!(code, Some(2), "{var}: stderr:\n{err}");
        assert!(
            err.contains(&format!("started as 2 ranks by an MPI launcher ({var}=2)"))
                && err.contains("without the `mpi` feature")
                && err.contains("--features parallel-runtime/mpi")
                && err.contains(r#"features = ["mpi"]"#),
            "{var}: stderr:\n{err}"
        );
        // The other ranks exit as well, without repeating the message.
        let mut cmd = Command::new(exe);
        cmd.arg("none");
        clean_env(&mut cmd);
        cmd.env(var, "2").env(rank_var, "1");
        let (code, err, _) = run_with_deadline(cmd);
        assert_eq!((code, err.as_str()), (Some(2), ""), "{var}");
    }
    // A batch script sees Slurm's task count without any launcher: runs.
    let mut cmd = Command::new(exe);
    cmd.arg("none");
    clean_env(&mut cmd);
    cmd.env("SLURM_NTASKS", "4");
    let (code, err, _) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    // A world of one, as `mpirun -n 1` gives, is fine too.
    let mut cmd = Command::new(exe);
    cmd.arg("none");
    clean_env(&mut cmd);
    cmd.env("OMPI_COMM_WORLD_SIZE", "1");
    let (code, err, _) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
}

/// An MPMD job beside mpi4py (`interop/peer.py`) with hang detection asked
/// for: the watchdog stays off (the Python rank would never join its
/// start-up `MPI_Comm_dup`), says so, and the job works.
#[test]
fn an_mpmd_job_beside_mpi4py_keeps_working_with_hang_detection_asked_for() {
    if mpirun().is_none() {
        eprintln!("skipped the MPMD watchdog test: needs real MPI (`--features mpi`, `mpirun`)");
        return;
    }
    let mpi4py = Command::new("python3")
        .args(["-c", "import mpi4py, numpy"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mpi4py {
        eprintln!("skipped the MPMD watchdog test: needs python3 with mpi4py and numpy");
        return;
    }
    let peer = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/peer.py");
    let mut cmd = Command::new("mpirun");
    cmd.args([
        "--oversubscribe",
        "-n",
        "1",
        "python3",
        peer,
        ":",
        "-n",
        "1",
    ])
    .arg(env!("CARGO_BIN_EXE_interop_rank"))
    .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
    .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    clean_env(&mut cmd);
    cmd.env("PARALLEL_HANG_TIMEOUT", "5");
    let (code, err, took) = run_with_deadline(cmd);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(took < DEADLINE, "the job took {took:?}; stderr:\n{err}");
    assert!(
        err.contains("rank 1: note: hang detection (PARALLEL_HANG_TIMEOUT) is off"),
        "stderr:\n{err}"
    );
}
