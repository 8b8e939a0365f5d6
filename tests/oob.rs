//! Runs `tests/bin/mpi_oob.rs` (the object path's out-of-band pieces:
//! nested structs of large and small slices compared element for element,
//! a posted `irecv`, a wrong type, probe counts): in a local world of
//! threads always, and under `mpirun -n 2` and `-n 4 --oversubscribe` when
//! built with `--features mpi`. Every job runs under a deadline, so a hang
//! fails the test.

use std::process::Command;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_mpi_oob");

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
    cmd.args(["oob", "local", &n.to_string()]);
    if let Some(p) = piece {
        cmd.env("PARALLEL_MPI_MAX_COUNT", p);
    }
    check(cmd, 120, &[format!("local world of {n}: ok oob")]);
}

fn under_mpirun(n: usize, piece: Option<&str>) {
    if !cfg!(feature = "mpi") || !parallel_tests::mpirun_runs() {
        println!("skipped: mpi_oob on {n} MPI ranks needs `--features mpi` and mpirun");
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
    let want: Vec<String> = (0..n).map(|r| format!("rank {r}: ok oob")).collect();
    check(cmd, 180, &want);
}

#[test]
fn local_world_of_2_and_4() {
    local(2, None);
    local(4, None);
}

/// Messages and out-of-band pieces in pieces of 64 KiB.
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
