//! Helpers shared by the integration tests that start other processes
//! (test binaries, `mpirun` jobs): every child runs under a deadline, so a
//! hang fails the test instead of hanging CI.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a child process ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code (`None`: ended by a signal).
    pub code: Option<i32>,
    /// Whether it exited with status 0.
    pub success: bool,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub took: Duration,
}

/// Runs `cmd` with stdout and stderr captured, killing it at `deadline`.
///
/// # Panics
///
/// When it cannot start, and when it still runs at the deadline (a hang),
/// with what it wrote until then.
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Finished {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout is piped")));
    let err = read(Box::new(child.stderr.take().expect("stderr is piped")));
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
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        None => panic!(
            "{cmd:?} still ran after {took:?}: it hung\nstdout:\n{stdout}\nstderr:\n{stderr}"
        ),
        Some(s) => Finished {
            code: s.code(),
            success: s.success(),
            stdout,
            stderr,
            took,
        },
    }
}

/// Whether `mpirun` is on the PATH and runs.
pub fn mpirun_runs() -> bool {
    Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `reduce`'s promise written as a plain loop, for comparing bits: the
/// values summed from 0.0 in blocks of
/// [`reduce_block_size`](parallel_runtime::reduce_block_size)`(n)`, the
/// blocks' sums then combined pairwise, level by level.
pub fn plain_reduce(values: &[f64]) -> f64 {
    let block = parallel_runtime::reduce_block_size(values.len());
    let mut level: Vec<f64> = values
        .chunks(block)
        .map(|c| c.iter().fold(0.0, |a, x| a + x))
        .collect();
    let mut stride = 1;
    while stride < level.len() {
        let mut i = 0;
        while i + stride < level.len() {
            level[i] += level[i + stride];
            i += 2 * stride;
        }
        stride *= 2;
    }
    level.first().copied().unwrap_or(0.0)
}

/// The bits of each value, so that `-0.0` and `0.0` (or two NaNs) differ.
pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Fails with `what` unless `cond`: the checks of the test binaries, which
/// report every failure as an error of the rank that saw it.
pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), Box<dyn std::error::Error>> {
    if cond {
        Ok(())
    } else {
        Err(what().into())
    }
}

/// The error of `r`, which must be one (`what` names the call, for the
/// text when it is not).
pub fn expect_err<T: std::fmt::Debug>(
    r: Result<T, parallel_runtime::mpi::Error>,
    what: &str,
) -> Result<parallel_runtime::mpi::Error, String> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got Ok({v:?})")),
        Err(e) => Ok(e),
    }
}

/// For a test binary run as `BIN MODE local N` (the local-world form of a
/// check written for `mpirun`): runs `run` on every rank of a local world
/// of `N` threads (2 by default) and prints `local world of N: ok MODE`;
/// `None` when `args` (without the program) do not ask for a local world.
pub fn run_local(
    args: &[String],
    mode: &str,
    run: impl Fn(&parallel_runtime::mpi::Comm) -> Result<(), String> + Sync,
) -> Option<Result<(), String>> {
    if args.get(1).map(String::as_str) != Some("local") {
        return None;
    }
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2);
    let outs = parallel_runtime::mpi::local::run(n, |w| run(&w));
    for (r, out) in outs.into_iter().enumerate() {
        if let Err(e) = out {
            return Some(Err(format!("local rank {r}: {e}")));
        }
    }
    println!("local world of {n}: ok {mode}");
    Some(Ok(()))
}

/// Whether `PARALLEL_BACKEND` forces every call onto a backend other than
/// the ones in `checks` (the backends whose behaviour the calling test
/// asserts: its pool, its chunks, its split across ranks). Then the test
/// cannot hold and says so on stderr, naming itself: call it first and
/// return when it is `true`. CI runs with the variable unset, so every
/// such test runs there.
#[must_use]
pub fn backend_forced_away_from(test: &str, checks: &[&str]) -> bool {
    let forced = std::env::var("PARALLEL_BACKEND").unwrap_or_default();
    let forced = forced.trim().to_ascii_lowercase();
    if forced.is_empty() || checks.contains(&forced.as_str()) {
        return false;
    }
    eprintln!(
        "skipped {test}: PARALLEL_BACKEND={forced} forces every call's backend, \
         and this test checks the {} backend",
        checks.join(" or ")
    );
    true
}

/// Runs `f` on a thread of its own and gives back its result (or raises
/// its panic again); panics naming `what` if it still runs after `secs`
/// seconds, so that a hang in this process fails the test instead of
/// hanging CI. (The hung thread is left behind; the test binary ends.)
pub fn within<R: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(r)) => r,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("{what}: still running after {secs} s: it hung"),
    }
}

/// Runs test `test` of the current test binary again in a child process
/// (tracing is process-wide) with the variable `marker` set, and
/// `PARALLEL_TRACE` writing to a fresh file; returns the events it
/// recorded. The child runs under a one-minute deadline; a failure of the
/// child panics with its stderr.
pub fn trace_of_child(test: &str, marker: &str) -> Vec<parallel_runtime::trace::Event> {
    let dir = std::env::temp_dir().join(format!("{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join("trace.json");
    let run = run_with_deadline(
        Command::new(std::env::current_exe().unwrap_or_else(|e| panic!("this test binary: {e}")))
            .args(["--exact", test])
            .env(marker, "1")
            .env("PARALLEL_TRACE", &path),
        Duration::from_secs(60),
    );
    assert!(run.success, "{test} in a child process: {}", run.stderr);
    let events =
        parallel_runtime::trace::read(&path).unwrap_or_else(|e| panic!("the trace of {test}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    events
}

/// The error of a graph's compute, which must be one.
pub fn failed_compute<T: std::fmt::Debug>(
    r: Result<T, parallel_runtime::DelayedError>,
) -> Result<parallel_runtime::DelayedError, String> {
    match r {
        Ok(v) => Err(format!("expected an error, got Ok({v:?})")),
        Err(e) => Ok(e),
    }
}

/// The `main` of a test binary of modes run on MPI ranks (`BIN [MODE]
/// [local N]`): `MODE` (else `default`) in a local world of `N` threads
/// when asked (see [`run_local`]), else on `world`, printing `rank R: ok
/// MODE`; an error names the rank.
pub fn ranks_main(
    world: &parallel_runtime::mpi::Comm,
    default: &str,
    run: impl Fn(&parallel_runtime::mpi::Comm, &str) -> Result<(), String> + Sync,
) -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or(default, String::as_str).to_owned();
    if let Some(done) = run_local(&args, &mode, |w| run(w, &mode)) {
        return done;
    }
    run(world, &mode).map_err(|e| format!("rank {}: {e}", world.rank()))?;
    println!("rank {}: ok {mode}", world.rank());
    Ok(())
}

/// Runs the modes of a test binary built by [`ranks_main`] (`exe`, which
/// messages call `name`), each job under a deadline so that a hang fails
/// the test.
pub struct RanksDriver {
    /// The binary (`env!("CARGO_BIN_EXE_…")`).
    pub exe: &'static str,
    /// Its name in messages.
    pub name: &'static str,
}

impl RanksDriver {
    /// `MODE` in local worlds of each size of `ranks`, each of which must
    /// print `local world of N: ok MODE`.
    pub fn local(&self, mode: &str, ranks: &[usize]) {
        for &n in ranks {
            let mut cmd = Command::new(self.exe);
            cmd.args([mode, "local", &n.to_string()]);
            let done = run_with_deadline(&mut cmd, Duration::from_secs(60));
            let out = format!("{}{}", done.stdout, done.stderr);
            assert!(
                done.success,
                "{} {mode} local {n} failed:\n{out}",
                self.name
            );
            assert!(
                out.contains(&format!("local world of {n}: ok {mode}")),
                "{out}"
            );
        }
    }

    /// `MODE` under `mpirun --oversubscribe -n N` for each `N` of `ranks`,
    /// with the variables `env` passed to every rank (`-x`); every rank
    /// must print `rank R: ok MODE`. Without `--features mpi` or `mpirun`,
    /// prints that it is skipped and why.
    pub fn under_mpirun(&self, mode: &str, ranks: &[usize], env: &[(&str, &str)]) {
        if !cfg!(feature = "mpi") || !mpirun_runs() {
            println!(
                "skipped: `{} {mode}` on MPI ranks needs `--features mpi` and mpirun",
                self.name
            );
            return;
        }
        for &n in ranks {
            let mut cmd = Command::new("mpirun");
            cmd.args(["--oversubscribe", "-n", &n.to_string()]);
            for (k, v) in env {
                cmd.env(k, v).args(["-x", k]);
            }
            cmd.args([self.exe, mode])
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
            let done = run_with_deadline(&mut cmd, Duration::from_secs(90));
            let out = format!("{}{}", done.stdout, done.stderr);
            assert!(
                done.success,
                "mpirun -n {n} {} {mode} failed:\n{out}",
                self.name
            );
            for r in 0..n {
                assert!(out.contains(&format!("rank {r}: ok {mode}")), "{out}");
            }
        }
    }
}
