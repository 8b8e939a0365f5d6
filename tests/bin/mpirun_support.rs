//! Runs `tests/bin/mpi_maps.rs` under `mpirun` with a deadline, for the
//! tests that need real MPI processes (included with `#[path]` by
//! `tests/map.rs` and `tests/properties.rs`; not a binary of its own).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one job ended.
pub(crate) struct Run {
    /// The exit code of `mpirun` (`None`: ended by a signal).
    pub(crate) code: Option<i32>,
    /// What every rank wrote to stderr.
    pub(crate) stderr: String,
    /// How long it took.
    pub(crate) took: Duration,
}

fn mpirun_found() -> bool {
    Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `mpi_maps <args>` on `ranks` ranks (oversubscribed beyond the
/// cores), killing the job after `deadline`; `None`, having said why, where
/// this cannot test MPI: no `mpirun`, or a binary built without MPI (its
/// ranks then each run alone, as a world of one).
pub(crate) fn run_mpi_maps(ranks: usize, args: &[&str], deadline: Duration) -> Option<Run> {
    if !mpirun_found() {
        eprintln!("skipped: `mpirun` is not on the PATH");
        return None;
    }
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-n", &ranks.to_string()])
        .arg(env!("CARGO_BIN_EXE_mpi_maps"))
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    let stderr = reader.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("`mpirun -n {ranks} mpi_maps {args:?}` still ran after {took:?}: it hung\nstderr:\n{stderr}");
    };
    let alone = stderr.contains(" of 1: started") || stderr.contains("without the `mpi` feature");
    if alone && ranks > 1 {
        eprintln!(
            "skipped: mpi_maps was built without MPI (each of the {ranks} processes ran alone); \
             build the tests with `--features parallel-runtime/mpi` to run this"
        );
        return None;
    }
    Some(Run {
        code: status.code(),
        stderr,
        took,
    })
}
