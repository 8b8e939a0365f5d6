//! Runs `tests/bin/mpi_messages.rs` (types checked on the object path,
//! post-order matching, exact counts, tags, pieces, collective limits):
//! in a local world of threads always, and under `mpirun` when built with
//! `--features mpi` (`mpirun` on the PATH); skipped with a printed reason
//! otherwise. Every job runs under a deadline, so a hang fails the test.
//!
//! The 2.5 GB job (`big`) needs about 10 GB of memory.

use std::process::Command;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_mpi_messages");
/// The piece size of the `pieces` jobs, in elements.
const PIECE: &str = "64";

/// Runs `cmd`, killing it at `deadline`; returns (success, stdout+stderr).
fn run_with_deadline(mut cmd: Command, deadline: Duration) -> (bool, String) {
    let done = parallel_tests::run_with_deadline(&mut cmd, deadline);
    (done.success, format!("{}{}", done.stdout, done.stderr))
}

/// `mpirun`, when this test was built with the `mpi` feature and it runs.
fn mpirun() -> Option<&'static str> {
    if !cfg!(feature = "mpi") {
        return None;
    }
    parallel_tests::mpirun_runs().then_some("mpirun")
}

fn local(args: &[&str], piece: Option<&str>, deadline: u64) {
    let mut cmd = Command::new(EXE);
    cmd.args(args);
    if let Some(p) = piece {
        cmd.env("PARALLEL_MPI_MAX_COUNT", p);
    }
    let (ok, out) = run_with_deadline(cmd, Duration::from_secs(deadline));
    assert!(ok, "{args:?} failed:\n{out}");
    assert!(out.contains(&format!("ok {}", args[0])), "{out}");
}

fn under_mpirun(n: usize, mode: &str, piece: Option<&str>, deadline: u64) {
    let Some(mpirun) = mpirun() else {
        println!(
            "skipped: `mpi_messages {mode}` on {n} MPI ranks needs `--features mpi` and mpirun"
        );
        return;
    };
    let mut cmd = Command::new(mpirun);
    cmd.args(["--oversubscribe", "-n", &n.to_string()]);
    if let Some(p) = piece {
        cmd.args(["-x", &format!("PARALLEL_MPI_MAX_COUNT={p}")]);
    }
    cmd.args([EXE, mode])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let (ok, out) = run_with_deadline(cmd, Duration::from_secs(deadline));
    assert!(ok, "mpirun -n {n} mpi_messages {mode} failed:\n{out}");
    for r in 0..n {
        assert!(out.contains(&format!("rank {r}: ok {mode}")), "{out}");
    }
}

#[test]
fn local_world_checks() {
    local(&["checks", "local", "2"], None, 60);
    local(&["checks", "local", "4"], None, 60);
}

#[test]
fn local_world_pieces() {
    local(&["pieces", "local", "3"], Some(PIECE), 60);
}

#[test]
fn mpi_checks_on_2_and_4_ranks() {
    under_mpirun(2, "checks", None, 60);
    under_mpirun(4, "checks", None, 90);
}

#[test]
fn mpi_pieces_on_2_and_3_ranks() {
    under_mpirun(2, "pieces", Some(PIECE), 60);
    under_mpirun(3, "pieces", Some(PIECE), 90);
}

/// Over 2 GiB point to point, both paths: in pieces. About 35 s in a
/// release build; a debug build takes minutes, so it runs in release only
/// (`cargo test --release -p parallel-tests --features mpi --test messages`).
#[test]
fn mpi_messages_over_2_gib() {
    if cfg!(debug_assertions) {
        println!("skipped: the 2.5 GB job runs in release builds only (`cargo test --release`)");
        return;
    }
    under_mpirun(2, "big", None, 300);
}
