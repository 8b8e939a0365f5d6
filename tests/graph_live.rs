//! Issue 13 for graphs across ranks: a `compute_on` shows on the live
//! dashboard as a compute on one machine does (each rank's part a job named
//! after the graph's root, counting that rank's tasks, and its tasks in the
//! task stream). In a local world of two ranks (threads of this process),
//! so that one page sees both.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use parallel_runtime::prelude::*;
use serde_json::Value;

#[delayed]
fn doze(i: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(4));
    i
}

#[delayed]
fn gather(xs: Vec<u64>) -> u64 {
    xs.into_iter().sum()
}

/// The page's `/state.json`.
fn page(at: SocketAddr) -> Value {
    let mut conn = TcpStream::connect(at).expect("the dashboard answers");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    conn.write_all(b"GET /state.json HTTP/1.0\r\nHost: x\r\n\r\n")
        .expect("the request is sent");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("the answer");
    let raw = String::from_utf8(raw).expect("UTF-8");
    let (_, body) = raw.split_once("\r\n\r\n").expect("headers, then a body");
    serde_json::from_str(body).expect("JSON")
}

/// The jobs on the page named `name`.
fn jobs_named(v: &Value, name: &str) -> Vec<Value> {
    let all = v["jobs"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|j| j["name"] == name).collect()
}

#[test]
fn the_page_follows_a_compute_across_ranks() {
    let at = parallel_runtime::dashboard::serve("127.0.0.1:0").expect("a free loopback port");
    let graph = std::thread::spawn(|| {
        parallel_runtime::mpi::local::run(2, |comm| {
            gather((0..300).map(doze).collect::<Vec<_>>()).compute_on(&comm)
        })
    });
    // Both ranks' parts run, and advance, while the graph runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0u64;
    while seen == 0 || !graph.is_finished() && seen < 20 {
        let done: u64 = jobs_named(&page(at), "gather")
            .iter()
            .filter(|j| j["running"] == true)
            .map(|j| j["done"].as_u64().unwrap_or(0))
            .sum();
        seen = seen.max(done);
        assert!(
            Instant::now() < deadline,
            "the page never showed the compute across ranks"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let results = graph.join().expect("the ranks ran");
    for r in results {
        assert_eq!(r.expect("no failure"), (0..300).sum::<u64>());
    }
    // One job per rank; together they count every task once.
    let v = page(at);
    let jobs = jobs_named(&v, "gather");
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let total: u64 = jobs.iter().map(|j| j["total"].as_u64().unwrap_or(0)).sum();
    let done: u64 = jobs.iter().map(|j| j["done"].as_u64().unwrap_or(0)).sum();
    assert_eq!((total, done), (301, 301), "{jobs:?}");
    // Its tasks are in the task stream.
    let workers = v["workers"].as_array().expect("workers");
    assert!(workers
        .iter()
        .flat_map(|w| w["spans"].as_array().cloned().unwrap_or_default())
        .any(|s| s[2] == "doze"));
}
