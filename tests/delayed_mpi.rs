//! Runs `tests/bin/mpi_graph.rs` (`#[delayed]` graphs across ranks with
//! `compute_on`): in local worlds of 1 to 4 threads always, and under
//! `mpirun -n 2` and `-n 4 --oversubscribe` when built with `--features
//! mpi` (`mpirun` on the PATH); skipped with a printed reason otherwise.
//! Every job runs under a deadline, so a hang fails the test.

use std::process::Command;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_mpi_graph");
const DRIVER: parallel_tests::RanksDriver = parallel_tests::RanksDriver {
    exe: EXE,
    name: "mpi_graph",
};

fn local(mode: &str, ranks: &[usize]) {
    DRIVER.local(mode, ranks);
}

fn under_mpirun(mode: &str) {
    DRIVER.under_mpirun(mode, &[2, 4], &[]);
}

#[test]
fn results_equal_one_machine_on_1_to_4_ranks() {
    local("results", &[1, 2, 3, 4]);
}

#[test]
fn pins_are_honoured() {
    local("pins", &[1, 2, 3]);
}

#[test]
fn a_panic_names_task_and_rank_on_every_rank() {
    local("panic", &[1, 2, 4]);
}

#[test]
fn an_err_names_task_and_rank_on_every_rank() {
    local("err", &[1, 3]);
}

#[test]
fn mismatched_graphs_are_an_error_on_every_rank() {
    local("mismatch", &[2, 4]);
}

#[test]
fn a_result_that_cannot_move_is_an_error_before_anything_runs() {
    local("unmovable", &[2, 3]);
}

#[test]
fn held_handles_after_a_failed_or_finished_compute() {
    local("after", &[2, 3]);
}

#[test]
fn mpi_results_and_pins() {
    under_mpirun("results");
    under_mpirun("pins");
}

#[test]
fn mpi_failure_paths() {
    for mode in ["panic", "err", "mismatch", "unmovable", "after"] {
        under_mpirun(mode);
    }
}

#[test]
fn mpi_a_rank_that_dies_ends_the_job_within_10_s() {
    if !cfg!(feature = "mpi") || !parallel_tests::mpirun_runs() {
        println!("skipped: `mpi_graph dies` needs `--features mpi` and mpirun");
        return;
    }
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-n", "2", EXE, "dies"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let done = parallel_tests::run_with_deadline(&mut cmd, Duration::from_secs(60));
    let out = format!("{}{}", done.stdout, done.stderr);
    assert!(!done.success, "the job succeeded after a rank died:\n{out}");
    assert!(
        done.took < Duration::from_secs(15), // 10 s, and the start of a job on a loaded machine
        "the job took {:?} to end after a rank died:\n{out}",
        done.took
    );
}
