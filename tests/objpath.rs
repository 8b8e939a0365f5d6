//! Runs `tests/bin/mpi_objpath.rs` (the object path's bulk sequences of
//! numbers, nested structs, a wrong element type, `all_reduce_with`, and
//! structs derived through `parallel_runtime::serde` in a crate without a
//! serde dependency): in a local world of threads always, and under
//! `mpirun -n 2` and `-n 4 --oversubscribe` when built with `--features
//! mpi`. Every job runs under a deadline, so a hang fails the test.

use std::process::Command;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_mpi_objpath");

/// Runs `cmd` under a deadline; fails unless it succeeds printing `want`
/// for every entry.
fn check(mut cmd: Command, deadline: u64, want: &[String]) {
    let done = parallel_tests::run_with_deadline(&mut cmd, Duration::from_secs(deadline));
    let out = format!("{}{}", done.stdout, done.stderr);
    assert!(done.success, "{cmd:?} failed:\n{out}");
    for w in want {
        assert!(out.contains(w.as_str()), "no `{w}` in:\n{out}");
    }
}

fn local(n: usize, piece: Option<&str>) {
    let mut cmd = Command::new(EXE);
    cmd.args(["objpath", "local", &n.to_string()]);
    if let Some(p) = piece {
        cmd.env("PARALLEL_MPI_MAX_COUNT", p);
    }
    check(cmd, 120, &[format!("local world of {n}: ok objpath")]);
}

fn under_mpirun(n: usize, piece: Option<&str>) {
    if !cfg!(feature = "mpi") || !parallel_tests::mpirun_runs() {
        println!("skipped: mpi_objpath on {n} MPI ranks needs `--features mpi` and mpirun");
        return;
    }
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-n", &n.to_string()]);
    if let Some(p) = piece {
        cmd.args(["-x", &format!("PARALLEL_MPI_MAX_COUNT={p}")]);
    }
    cmd.arg(EXE)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let want: Vec<String> = (0..n).map(|r| format!("rank {r}: ok objpath")).collect();
    check(cmd, 180, &want);
}

#[test]
fn local_world_of_2_and_4() {
    local(2, None);
    local(4, None);
}

/// 65 ranks: `all_reduce_with`'s slots take `MPI_Allgather` beyond 64
/// ranks (and one reduction up to 64, the worlds above).
#[test]
fn local_world_of_65() {
    local(65, None);
}

/// Object messages in pieces of 64 KiB: the bulk sequences cross them.
#[test]
fn local_world_in_pieces() {
    local(3, Some("65536"));
}

#[test]
fn mpi_on_2_and_4_ranks() {
    under_mpirun(2, None);
    under_mpirun(4, None);
}

#[test]
fn mpi_in_pieces() {
    under_mpirun(2, Some("65536"));
}
