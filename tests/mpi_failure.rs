//! A rank that panics, and a rank that returns `Err`, while the others wait
//! in a collective: the job must end within seconds, non-zero, naming the
//! failing rank. Under real MPI (built with `--features mpi`, `mpirun` on
//! the PATH) the job has 3 ranks; otherwise the program runs as one rank.
//!
//! Every child process runs under a deadline, so a regression fails the
//! test instead of hanging CI.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `cmd`, killing it at the deadline; returns (exit code, stderr, time).
fn run_with_deadline(mut cmd: Command) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
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
        if start.elapsed() > DEADLINE * 3 {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let err = reader.join().unwrap_or_default();
    match status {
        None => panic!("the job still ran after {elapsed:?}: the failure hung it\nstderr:\n{err}"),
        Some(status) => (status.code(), err, elapsed),
    }
}

fn mpirun() -> Option<&'static str> {
    if !cfg!(feature = "mpi") {
        return None;
    }
    Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .filter(|s| s.success())
        .map(|_| "mpirun")
}

fn job(mode: &str) -> (Command, usize) {
    let exe = env!("CARGO_BIN_EXE_mpi_fail");
    match mpirun() {
        Some(mpirun) => {
            let mut cmd = Command::new(mpirun);
            cmd.args(["--oversubscribe", "-n", "3", exe, mode])
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
            (cmd, 2)
        }
        None => {
            let mut cmd = Command::new(exe);
            cmd.arg(mode);
            (cmd, 0)
        }
    }
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
