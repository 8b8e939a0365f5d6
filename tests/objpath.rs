//! Runs `tests/bin/mpi_objpath.rs` (the object path's bulk sequences of
//! numbers, nested structs, a wrong element type, `all_reduce_with`, and
//! structs derived through `parallel_runtime::serde` in a crate without a
//! serde dependency) and `tests/bin/mpi_oob.rs` (its out-of-band pieces:
//! nested structs of large and small slices compared element for element,
//! a posted `irecv`, a wrong type, probe counts, glibc's heap kept or
//! not between messages): in a local world of
//! threads always, and under `mpirun -n 2` and `-n 4 --oversubscribe` when
//! built with `--features mpi`. Every job runs under a deadline, so a hang
//! fails the test.

use std::process::Command;
use std::time::Duration;

/// The binary and the mode it prints (`ok objpath`).
type Bin = (&'static str, &'static str);
const OBJPATH: Bin = (env!("CARGO_BIN_EXE_mpi_objpath"), "objpath");
const OOB: Bin = (env!("CARGO_BIN_EXE_mpi_oob"), "oob");

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

fn local((exe, mode): Bin, n: usize, piece: Option<&str>) {
    let mut cmd = Command::new(exe);
    cmd.args([mode, "local", &n.to_string()]);
    if let Some(p) = piece {
        cmd.env("PARALLEL_MPI_MAX_COUNT", p);
    }
    check(cmd, 120, &[format!("local world of {n}: ok {mode}")]);
}

fn under_mpirun(bin: Bin, n: usize, piece: Option<&str>) {
    under_mpirun_with(bin, n, piece, &[]);
}

fn under_mpirun_with((exe, mode): Bin, n: usize, piece: Option<&str>, vars: &[&str]) {
    if !cfg!(feature = "mpi") || !parallel_tests::mpirun_runs() {
        println!("skipped: mpi_{mode} on {n} MPI ranks needs `--features mpi` and mpirun");
        return;
    }
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-n", &n.to_string()]);
    if let Some(p) = piece {
        cmd.args(["-x", &format!("PARALLEL_MPI_MAX_COUNT={p}")]);
    }
    for v in vars {
        cmd.args(["-x", v]);
    }
    cmd.arg(exe)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let want: Vec<String> = (0..n).map(|r| format!("rank {r}: ok {mode}")).collect();
    check(cmd, 180, &want);
}

#[test]
fn local_world_of_2_and_4() {
    for bin in [OBJPATH, OOB] {
        local(bin, 2, None);
        local(bin, 4, None);
    }
}

/// Object messages (and out-of-band pieces) in pieces of 64 KiB: the bulk
/// sequences cross them.
#[test]
fn local_world_in_pieces() {
    for bin in [OBJPATH, OOB] {
        local(bin, 3, Some("65536"));
    }
}

#[test]
fn mpi_on_2_and_4_ranks() {
    for bin in [OBJPATH, OOB] {
        under_mpirun(bin, 2, None);
        under_mpirun(bin, 4, None);
    }
}

#[test]
fn mpi_in_pieces() {
    for bin in [OBJPATH, OOB] {
        under_mpirun(bin, 2, Some("65536"));
    }
}

/// glibc's heap left to its own policy (`PARALLEL_MPI_KEEP_HEAP=0`): the
/// binary's heap check then expects the pages faulted in again (and, in
/// the runs above, not).
#[test]
fn mpi_heap_left_to_glibc() {
    under_mpirun_with(OOB, 2, None, &["PARALLEL_MPI_KEEP_HEAP=0"]);
}
