//! Runs `tests/bin/mpi_collectives.rs` (issue 11's collectives and
//! operations against serial computations, and their errors): in local
//! worlds of 1, 2 and 4 threads always, and under `mpirun -n 1`, `-n 2`
//! and `-n 4 --oversubscribe` when built with `--features mpi` (`mpirun` on
//! the PATH); skipped with a printed reason otherwise. Every job runs
//! under a deadline, so a hang fails the test.

use std::process::Command;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_mpi_collectives");
/// MPI's `int` limit, lowered for the `limits` jobs.
const MAX_COUNT: &str = "64";

fn run(mut cmd: Command, deadline: u64) -> (bool, String) {
    let done = parallel_tests::run_with_deadline(&mut cmd, Duration::from_secs(deadline));
    (done.success, format!("{}{}", done.stdout, done.stderr))
}

fn local(mode: &str, n: usize, max_count: Option<&str>) {
    let mut cmd = Command::new(EXE);
    cmd.args([mode, "local", &n.to_string()]);
    if let Some(m) = max_count {
        cmd.env("PARALLEL_MPI_MAX_COUNT", m);
    }
    let (ok, out) = run(cmd, 60);
    assert!(ok, "mpi_collectives {mode} local {n} failed:\n{out}");
    assert!(
        out.contains(&format!("local world of {n}: ok {mode}")),
        "{out}"
    );
}

/// `mpirun --oversubscribe -n N mpi_collectives MODE`, or `None` (having
/// said why) where this test cannot run it.
fn mpirun(n: usize, mode: &str, max_count: Option<&str>) -> Option<Command> {
    if !cfg!(feature = "mpi") || !parallel_tests::mpirun_runs() {
        println!(
            "skipped: `mpi_collectives {mode}` on {n} MPI ranks needs `--features mpi` and mpirun"
        );
        return None;
    }
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-n", &n.to_string()]);
    if let Some(m) = max_count {
        cmd.args(["-x", &format!("PARALLEL_MPI_MAX_COUNT={m}")]);
    }
    cmd.args([EXE, mode])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    Some(cmd)
}

fn under_mpirun(n: usize, mode: &str, max_count: Option<&str>) {
    let Some(cmd) = mpirun(n, mode, max_count) else {
        return;
    };
    let (ok, out) = run(cmd, 120);
    assert!(ok, "mpirun -n {n} mpi_collectives {mode} failed:\n{out}");
    for r in 0..n {
        // `mpi: true`: the ranks ran on the MPI library, not each alone.
        let line = format!("rank {r} of {n} (mpi: true): ok {mode}");
        assert!(out.contains(&line), "no `{line}` in:\n{out}");
    }
}

#[test]
fn local_worlds_of_1_2_and_4() {
    for n in [1, 2, 4] {
        local("all", n, None);
    }
}

#[test]
fn local_worlds_at_the_limits() {
    for n in [1, 2, 4] {
        local("limits", n, Some(MAX_COUNT));
    }
}

#[test]
fn mpi_on_1_2_and_4_ranks() {
    for n in [1, 2, 4] {
        under_mpirun(n, "all", None);
    }
}

#[test]
fn mpi_at_the_limits_on_1_2_and_4_ranks() {
    for n in [1, 2, 4] {
        under_mpirun(n, "limits", Some(MAX_COUNT));
    }
}

/// What the root of `scatterv_buf` says when a block ends past its buffer.
const ROOT_REFUSES: &str =
    "rank 0: `scatterv_buf`: the block for rank 3 of the send buffer (displacement 4, count 1) \
     ends at element 5, past its 4 elements";

/// A root that refuses its arguments ends the job with its message (the
/// other ranks do not wait for it forever), in a local world and on MPI.
#[test]
fn a_refusing_root_ends_the_job_with_its_message() {
    let mut cmd = Command::new(EXE);
    cmd.args(["root-refuses", "local", "4"]);
    let (ok, out) = run(cmd, 60);
    assert!(!ok && out.contains(ROOT_REFUSES), "{out}");
    if let Some(cmd) = mpirun(4, "root-refuses", None) {
        let (ok, out) = run(cmd, 120);
        assert!(!ok && out.contains(ROOT_REFUSES), "{out}");
    }
}
