//! The run-wide switches (`PARALLEL_BACKEND`, `PARALLEL_NUM_THREADS`,
//! `PARALLEL_PROGRESS`, `PARALLEL_TRACE`), each checked in a fresh process.

use std::process::{Command, Output};

fn probe(vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_map-probe"));
    for v in [
        "PARALLEL_BACKEND",
        "PARALLEL_NUM_THREADS",
        "PARALLEL_PROGRESS",
        "PARALLEL_TRACE",
        "PARALLEL_HANG_TIMEOUT",
        "PARALLEL_MPI_KEEP_HEAP",
        "RAYON_NUM_THREADS",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("the probe runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn invalid_values_name_the_variable_and_the_valid_values() {
    let cases = [
        (
            "PARALLEL_BACKEND",
            "gpu",
            "expected `serial`, `threads`, `mpi`",
        ),
        ("PARALLEL_NUM_THREADS", "0", "expected a positive integer"),
        (
            "PARALLEL_NUM_THREADS",
            "many",
            "expected a positive integer",
        ),
        ("PARALLEL_PROGRESS", "maybe", "expected `1`, `true`"),
        ("PARALLEL_MPI_KEEP_HEAP", "some", "expected `1`, `true`"),
    ];
    for (var, value, expected) in cases {
        let out = probe(&[(var, value)]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {err}");
        assert!(
            err.contains(&format!(
                "invalid value {value:?} in environment variable {var}"
            )) && err.contains(expected),
            "{var}={value}: {err}"
        );
    }
}

#[test]
fn num_threads_sets_the_pool_size() {
    for n in ["1", "3"] {
        let out = probe(&[("PARALLEL_NUM_THREADS", n)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with(&format!("threads={n} ")),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn serial_backend_runs_every_item_on_the_calling_thread() {
    let out = probe(&[
        ("PARALLEL_BACKEND", "serial"),
        ("PARALLEL_NUM_THREADS", "2"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("on_main=100"),
        "{}",
        text(&out.stdout)
    );
    let out = probe(&[
        ("PARALLEL_BACKEND", "threads"),
        ("PARALLEL_NUM_THREADS", "2"),
    ]);
    assert!(
        text(&out.stdout).contains("on_main=0"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn progress_never_garbles_a_stderr_that_is_not_a_terminal() {
    let out = probe(&[("PARALLEL_PROGRESS", "1")]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "nothing is drawn into a pipe");
}

#[test]
fn progress_draws_a_bar_that_counts_items_on_a_terminal() {
    // `script` (util-linux/bsdutils, on every Debian) gives the probe a pseudo-terminal.
    let cmd = format!(
        "PARALLEL_PROGRESS=1 PARALLEL_NUM_THREADS=2 {}",
        env!("CARGO_BIN_EXE_map-probe")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("`script` runs (package bsdutils)");
    let screen = text(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("square"),
        "the bar names the function: {screen:?}"
    );
    assert!(
        screen.contains("100/100 items"),
        "the bar ends at every item: {screen:?}"
    );
}

#[test]
fn trace_records_every_item_in_chunks_on_each_worker() {
    let dir = std::env::temp_dir().join(format!("parallel-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.json");
    let out = probe(&[
        ("PARALLEL_TRACE", path.to_str().unwrap()),
        ("PARALLEL_NUM_THREADS", "2"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = parallel_runtime::trace::read(&path).expect("the trace is valid JSON");
    let chunks: Vec<_> = events
        .iter()
        .filter(|e| e.ph == "X" && e.name == "square")
        .collect();
    assert!(!chunks.is_empty());
    let items: u64 = chunks
        .iter()
        .map(|e| e.args["items"].as_u64().unwrap())
        .sum();
    assert_eq!(items, 100, "every item is in exactly one chunk");
    let workers: std::collections::BTreeSet<u32> = chunks.iter().map(|e| e.tid).collect();
    assert_eq!(workers, [1, 2].into(), "one track per worker thread");
    assert!(chunks.iter().all(|e| e.dur > 0.0 && e.cat == "map"));
    // The report reads it back: two worker tracks, balanced within reason.
    let s = parallel_report::summarize(&events);
    assert_eq!(s.busy_us.len(), 2);
    assert!(s.imbalance >= 1.0 && s.imbalance < 2.0, "{}", s.imbalance);
    let html = parallel_report::render_html("run.json", &events);
    // Every chunk is in the page's timelines (issue 13: drawn on canvases
    // from the sections' data, `data-events` spans each).
    let drawn: usize = html
        .split("data-events=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse::<usize>().unwrap())
        .sum();
    assert_eq!(drawn, chunks.len());
}

#[test]
fn absurd_thread_counts_are_refused_naming_the_limit_and_the_cores() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let limit = (64 * cores).min(4096);
    let out = probe(&[("PARALLEL_NUM_THREADS", "99999")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid value \"99999\" in environment variable PARALLEL_NUM_THREADS")
            && err.contains(&format!("at most {limit} threads"))
            && err.contains(&format!("has {cores} available")),
        "{err}"
    );
    // The limit itself is accepted (and the pool really has that many).
    let n = limit.min(256).to_string();
    let out = probe(&[("PARALLEL_NUM_THREADS", &n)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("threads={n} ")));
}

#[test]
fn a_trace_streams_into_a_pipe_as_valid_json() {
    // stdout is a pipe here: no seeking back, the `]` comes at exit.
    let out = probe(&[
        ("PARALLEL_TRACE", "/dev/stdout"),
        ("PARALLEL_NUM_THREADS", "2"),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("trace"), "no trace error: {err}");
    // The probe's own line shares the pipe with the trace.
    let stdout = text(&out.stdout);
    let json: String = stdout
        .lines()
        .filter(|l| !l.starts_with("threads="))
        .collect::<Vec<_>>()
        .join("\n");
    let events = parallel_runtime::trace::parse(&json)
        .unwrap_or_else(|e| panic!("the piped trace is valid JSON ({e}):\n{stdout}"));
    let items: u64 = events
        .iter()
        .filter(|e| e.ph == "X" && e.name == "square")
        .map(|e| e.args["items"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(items, 100, "every item is in the trace:\n{stdout}");
}

#[test]
fn an_mpi_backend_map_under_a_launcher_without_the_feature_is_an_error() {
    if cfg!(feature = "mpi") {
        eprintln!("skipped: needs the probe built without the `mpi` feature");
        return;
    }
    let out = probe(&[
        ("PARALLEL_BACKEND", "mpi"),
        ("OMPI_COMM_WORLD_SIZE", "2"),
        ("OMPI_COMM_WORLD_RANK", "1"),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("without the `mpi` feature")
            && err.contains("--features parallel-runtime/mpi"),
        "{err}"
    );
    assert!(
        text(&out.stdout).is_empty(),
        "no item ran: {}",
        text(&out.stdout)
    );
    // Without a launcher, the same map runs on this process.
    let out = probe(&[("PARALLEL_BACKEND", "mpi")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
