//! The live dashboard (`PARALLEL_DASHBOARD`, `dashboard::serve`): the page
//! follows a running map and compute, and the program never waits for it
//! nor fails because of it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use parallel_runtime::prelude::*;
use serde_json::Value;

#[parallel_map]
fn slow(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    x * 2
}

#[delayed]
fn nap(i: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    i
}

#[delayed]
fn total(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

fn state(at: SocketAddr) -> Value {
    let mut s = TcpStream::connect(at).expect("the dashboard answers");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    write!(
        s,
        "GET /state.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("sent");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("a response");
    let body = &out[out.find("\r\n\r\n").expect("a body") + 4..];
    serde_json::from_str(body).expect("JSON")
}

/// `done` of the running job named `name`, if one runs.
fn running(v: &Value, name: &str) -> Option<u64> {
    v["jobs"].as_array()?.iter().find_map(|j| {
        (j["name"] == name && j["running"] == true).then(|| j["done"].as_u64().unwrap_or(0))
    })
}

/// The job named `name` on the page (the last one of that name).
fn job(v: &Value, name: &str) -> Value {
    let jobs = v["jobs"].as_array().expect("jobs");
    let found = jobs.iter().rfind(|j| j["name"] == name);
    found.expect("the job is on the page").clone()
}

/// Polls until `ready` sees what it waits for, for 60 s at most.
fn until<T>(at: SocketAddr, what: &str, ready: impl Fn(&Value) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = ready(&state(at)) {
            return t;
        }
        assert!(Instant::now() < deadline, "the page never showed {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_page_follows_a_map_and_a_compute() {
    let at = parallel_runtime::dashboard::serve("127.0.0.1:0").expect("a free loopback port");
    assert!(parallel_runtime::dashboard::enabled());

    let map = std::thread::spawn(|| slow::map(0..2_000u64));
    let first = until(at, "the map running", |v| {
        running(v, "slow").filter(|&d| d > 0)
    });
    let later = until(at, "the map advancing", |v| {
        running(v, "slow").filter(|&d| d > first)
    });
    assert!(later > first && later <= 2_000);
    assert_eq!(job(&state(at), "slow")["total"], 2_000);
    assert_eq!(
        map.join().expect("the map ran"),
        (0..2_000u64).map(|x| x * 2).collect::<Vec<_>>()
    );
    // Its chunks are in the task stream of the workers, busy.
    let v = state(at);
    let workers = v["workers"].as_array().expect("workers");
    assert!(workers
        .iter()
        .any(|w| w["busy"].as_f64().unwrap_or(0.0) > 0.0));
    assert!(workers
        .iter()
        .flat_map(|w| w["spans"].as_array().expect("spans"))
        .any(|s| s[2] == "slow" && s[3] == "map"));

    let graph = std::thread::spawn(|| compute(total((0..400).map(nap).collect::<Vec<_>>())));
    let first = until(at, "the compute running", |v| {
        running(v, "total").filter(|&d| d > 0)
    });
    until(at, "the compute advancing", |v| {
        running(v, "total").filter(|&d| d > first)
    });
    assert_eq!(
        graph.join().expect("the compute ran").expect("no failure"),
        (0..400).sum::<u64>()
    );
    assert_eq!(job(&state(at), "total")["total"], 401);
}

fn probe(dashboard: &str, public: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_map-probe"));
    cmd.env("PARALLEL_DASHBOARD", dashboard)
        .env_remove("PARALLEL_DASHBOARD_PUBLIC");
    if let Some(p) = public {
        cmd.env("PARALLEL_DASHBOARD_PUBLIC", p);
    }
    let out = cmd.output().expect("the probe runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_taken_port_or_a_public_address_only_warns() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let (ok, err) = probe(&addr, None);
    assert!(ok, "the program runs on: {err}");
    assert!(
        err.contains("warning: no live dashboard") && err.contains(&addr),
        "{err}"
    );

    let (ok, err) = probe("0.0.0.0:0", None);
    assert!(ok, "the program runs on: {err}");
    assert!(
        err.contains("is not a loopback address") && err.contains("PARALLEL_DASHBOARD_PUBLIC=1"),
        "{err}"
    );

    let (ok, err) = probe("0.0.0.0:0", Some("1"));
    assert!(
        ok && err.contains("live dashboard on http://0.0.0.0:"),
        "{err}"
    );

    let (ok, err) = probe("127.0.0.1:0", None);
    assert!(
        ok && err.contains("live dashboard on http://127.0.0.1:"),
        "{err}"
    );
}
