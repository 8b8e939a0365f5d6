use std::io::{Read, Write};
use std::net::TcpStream;

use super::server::{check, shift_port};
use super::*;

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("the dashboard answers");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("a request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("a response");
    out
}

/// The job of [`serves_the_page_and_the_progress`] in a snapshot.
fn unit_job(v: &serde_json::Value) -> serde_json::Value {
    let jobs = v["jobs"].as_array().expect("jobs");
    let found = jobs.iter().find(|j| j["name"] == "dash_unit_job");
    found.expect("the job is listed").clone()
}

#[test]
fn addresses_are_loopback_unless_asked() {
    assert!(check("127.0.0.1:8787", false).is_ok());
    assert!(check("[::1]:0", false).is_ok());
    let e = check("0.0.0.0:8787", false).unwrap_err();
    assert!(matches!(e, DashboardError::NotLoopback(_)), "{e}");
    assert!(e.to_string().contains("PARALLEL_DASHBOARD_PUBLIC=1"), "{e}");
    assert!(check("0.0.0.0:8787", true).is_ok());
    for bad in ["8787", "127.0.0.1", "not an address:x"] {
        assert!(
            matches!(check(bad, false), Err(DashboardError::Address(_))),
            "{bad}"
        );
    }
}

#[test]
fn each_rank_on_its_own_port() {
    assert_eq!(shift_port("127.0.0.1:8787", 0), "127.0.0.1:8787");
    assert_eq!(shift_port("127.0.0.1:8787", 3), "127.0.0.1:8790");
    assert_eq!(shift_port("127.0.0.1:0", 3), "127.0.0.1:0");
    assert_eq!(shift_port("[::1]:8000", 1), "[::1]:8001");
    assert_eq!(shift_port("127.0.0.1:65535", 1), "127.0.0.1:65535");
}

#[test]
fn serves_the_page_and_the_progress() {
    assert!(job("map", "before", 1).is_none(), "off: nothing registered");
    let at = serve("127.0.0.1:0").expect("a free port");
    assert_eq!(address(), Some(at));
    assert!(matches!(
        serve("127.0.0.1:0"),
        Err(DashboardError::Running(_))
    ));
    assert!(enabled());

    let page = get(at, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("/state.json") && page.contains("Task stream"));
    assert!(get(at, "/nothing").starts_with("HTTP/1.1 404"));

    let j = job("map", "dash_unit_job", 10).expect("on: registered");
    for _ in 0..4 {
        j.inc();
    }
    state::chunk("dash_unit_job", "map", 2_000.0, 4);
    j.task("dash_unit_task").end(true);
    let body = get(at, "/state.json");
    let json = &body[body.find("\r\n\r\n").expect("a body") + 4..];
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON");
    let mine = unit_job(&v);
    assert_eq!(
        (mine["done"].as_u64(), mine["total"].as_u64()),
        (Some(5), Some(10))
    );
    assert_eq!(mine["running"], true);
    let spans: Vec<&serde_json::Value> = v["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .flat_map(|w| w["spans"].as_array().expect("spans"))
        .collect();
    assert!(spans.iter().any(|s| s[2] == "dash_unit_job" && s[4] == 4));
    assert!(spans
        .iter()
        .any(|s| s[2] == "dash_unit_task" && s[5] == true));
    drop(j);
    let v: serde_json::Value = serde_json::to_value(state::snapshot(0)).expect("JSON");
    let mine = unit_job(&v); // a finished job stays a few seconds
    assert_eq!(mine["running"], false);
}
