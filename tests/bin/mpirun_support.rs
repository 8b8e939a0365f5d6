//! Runs `tests/bin/mpi_maps.rs` under `mpirun` with a deadline, for the
//! tests that need real MPI processes (included with `#[path]` by
//! `tests/map.rs` and `tests/properties.rs`; not a binary of its own).

use std::process::Command;
use std::time::Duration;

/// How one job ended.
pub(crate) struct Run {
    /// The exit code of `mpirun` (`None`: ended by a signal).
    pub(crate) code: Option<i32>,
    /// What every rank wrote to stderr.
    pub(crate) stderr: String,
    /// How long it took.
    pub(crate) took: Duration,
}

/// Runs `mpi_maps <args>` on `ranks` ranks (oversubscribed beyond the
/// cores), killing the job after `deadline`; `None`, having said why, where
/// this cannot test MPI: no `mpirun`, or a binary built without MPI (its
/// ranks then each run alone, as a world of one).
pub(crate) fn run_mpi_maps(ranks: usize, args: &[&str], deadline: Duration) -> Option<Run> {
    if !parallel_tests::mpirun_runs() {
        eprintln!("skipped: `mpirun` is not on the PATH");
        return None;
    }
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-n", &ranks.to_string()])
        .arg(env!("CARGO_BIN_EXE_mpi_maps"))
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let done = parallel_tests::run_with_deadline(&mut cmd, deadline);
    let (stderr, took) = (done.stderr, done.took);
    let alone = stderr.contains(" of 1: started") || stderr.contains("without the `mpi` feature");
    if alone && ranks > 1 {
        eprintln!(
            "skipped: mpi_maps was built without MPI (each of the {ranks} processes ran alone); \
             build the tests with `--features parallel-runtime/mpi` to run this"
        );
        return None;
    }
    Some(Run {
        code: done.code,
        stderr,
        took,
    })
}
