//! Runs `tests/bin/mpi_nb_probe_cart.rs` (nonblocking collectives, probes,
//! Cartesian topologies, each against a serial computation): in a local
//! world of 1, 2 and 4 threads always, and under `mpirun -n 1`, `-n 2` and
//! `-n 4 --oversubscribe` when built with `--features mpi` (`mpirun` on the
//! PATH); skipped with a printed reason otherwise. Every job runs under a
//! deadline, so a hang fails the test.

use std::process::Command;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_mpi_nb_probe_cart");

/// Runs `cmd` under `deadline`; every rank of `n` must print its `ok`
/// line, ending with `tail`.
fn check(mut cmd: Command, what: &str, n: usize, tail: &str, deadline: u64) {
    let done = parallel_tests::run_with_deadline(&mut cmd, Duration::from_secs(deadline));
    let out = format!("{}{}", done.stdout, done.stderr);
    assert!(done.success, "{what} failed:\n{out}");
    for r in 0..n {
        assert!(
            out.contains(&format!("rank {r} of {n}: ok{tail}")),
            "{what}:\n{out}"
        );
    }
}

#[test]
fn local_world_of_1_2_and_4() {
    for n in [1, 2, 4] {
        let mut cmd = Command::new(EXE);
        cmd.args(["local", &n.to_string()]);
        check(cmd, &format!("local world of {n}"), n, "", 60);
    }
}

#[test]
fn mpi_on_1_2_and_4_ranks() {
    if !cfg!(feature = "mpi") || !parallel_tests::mpirun_runs() {
        println!("skipped: mpi_nb_probe_cart under mpirun needs `--features mpi` and mpirun");
        return;
    }
    for n in [1, 2, 4] {
        let mut cmd = Command::new("mpirun");
        cmd.args(["--oversubscribe", "-n", &n.to_string(), EXE])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        // Every rank must have run on MPI: ranks that each ran alone (a
        // world of one) would prove nothing.
        check(cmd, &format!("mpirun -n {n}"), n, " (mpi: true)", 120);
    }
}
