//! The summary's unit tests: busy time, imbalance, critical path, sections.

use super::*;

fn ev(name: &str, cat: &str, ts: f64, dur: f64, tid: u32, args: serde_json::Value) -> Event {
    Event {
        name: name.into(),
        cat: cat.into(),
        ph: "X".into(),
        ts,
        dur,
        pid: 0,
        tid,
        args: args.as_object().cloned().unwrap_or_default(),
    }
}

/// Two loads on two workers, and a sum of both.
fn load_and_sum() -> Vec<Event> {
    vec![
        ev(
            "load",
            "task",
            0.0,
            10.0,
            1,
            serde_json::json!({"key": "load-0", "deps": []}),
        ),
        ev(
            "load",
            "task",
            0.0,
            30.0,
            2,
            serde_json::json!({"key": "load-1", "deps": []}),
        ),
        ev(
            "sum",
            "task",
            30.0,
            5.0,
            1,
            serde_json::json!({"key": "sum-2", "deps": ["load-0", "load-1"]}),
        ),
    ]
}

#[test]
fn summary_measures_busy_time_imbalance_and_critical_path() {
    let events = load_and_sum();
    let s = summarize(&events);
    assert_eq!(s.wall_us, 35.0);
    assert_eq!(s.busy_us[&(0, 1)], 15.0);
    assert_eq!(s.busy_us[&(0, 2)], 30.0);
    assert!((s.imbalance - 30.0 / 22.5).abs() < 1e-9);
    assert_eq!(s.critical_path, ["load-1", "sum-2"]);
    assert_eq!(s.critical_path_us, 35.0);
    assert_eq!((s.sections, s.failed, s.cancelled), (1, 0, 0));
    let html = crate::render_html("t", &events);
    // Every span is in the timeline's data: two on worker 0, one on worker 1.
    assert!(html.contains(r#""rows":["rank 0 · worker 0","rank 0 · worker 1"],"counts":[2,1]"#));
    assert_eq!(html.matches("class=\"node crit\"").count(), 2);
    assert!(html.contains("id=\"graph\"") && !html.contains("http://cdn"));
}

#[test]
fn nested_spans_count_once() {
    let events = vec![
        ev("task", "task", 0.0, 10.0, 1, serde_json::json!({})),
        ev("bcast", "mpi", 2.0, 3.0, 1, serde_json::json!({})),
    ];
    assert_eq!(summarize(&events).busy_us[&(0, 1)], 10.0);
}

#[test]
fn the_critical_path_follows_dependencies_even_when_start_times_tie() {
    // The sum is listed, and starts, no later than its input: the
    // dependencies, not the clock, order the chain.
    let events = vec![
        ev(
            "sum",
            "task",
            5.0,
            1.0,
            1,
            serde_json::json!({"key": "sum-1", "deps": ["load-0"]}),
        ),
        ev(
            "load",
            "task",
            5.0,
            4.0,
            2,
            serde_json::json!({"key": "load-0", "deps": []}),
        ),
    ];
    let s = summarize(&events);
    assert_eq!(s.critical_path, ["load-0", "sum-1"]);
    assert_eq!(s.critical_path_us, 5.0);
}

#[test]
fn a_trace_without_tasks_has_no_critical_path_and_no_graph() {
    let events = vec![ev(
        "square",
        "map",
        0.0,
        10.0,
        1,
        serde_json::json!({"items": 4}),
    )];
    let s = summarize(&events);
    assert!(s.critical_path.is_empty() && s.critical_path_us == 0.0);
    let html = crate::render_html("t", &events);
    assert!(!html.contains("id=\"critical\"") && !html.contains("id=\"graph\""));
    assert!(!html.contains("id=\"empty\""));
    assert!(crate::render_html("t", &[]).contains("id=\"empty\""));
}

/// Issue 13: two maps and a compute, one after another, are three sections,
/// each with its own graph; keys that repeat across computes stay apart.
#[test]
fn runs_apart_in_time_are_sections_apart() {
    let mut events = vec![
        ev("square", "map", 0.0, 10.0, 1, serde_json::json!({})),
        ev("square", "map", 2.0, 10.0, 2, serde_json::json!({})),
        // Right after, with no pause: another function is another map.
        ev("cube", "map", 12.5, 5.0, 1, serde_json::json!({})),
        ev("bcast", "mpi", 18.0, 1.0, 0, serde_json::json!({})),
        // A graph's transfer between ranks is a message too.
        ev("send", "transfer", 18.5, 0.2, 0, serde_json::json!({})),
    ];
    for (t, n) in [(1000.0, "a"), (5000.0, "b")] {
        events.push(ev(
            "load",
            "task",
            t,
            10.0,
            1,
            serde_json::json!({"key": "load-0", "deps": []}),
        ));
        events.push(ev(
            n,
            "task",
            t + 10.0,
            if n == "a" { 5.0 } else { 50.0 },
            2,
            serde_json::json!({"key": "sum-1", "deps": ["load-0"]}),
        ));
    }
    let s = summarize(&events);
    assert_eq!(s.sections, 4);
    // The longest of the two computes' paths.
    assert_eq!(s.critical_path, ["load-0", "sum-1"]);
    assert_eq!(s.critical_path_us, 60.0);
    let html = crate::render_html("t", &events);
    assert_eq!(html.matches("<section class=\"run\"").count(), 4);
    assert!(html.contains(">map square: 2 chunks<") && html.contains(">map cube: 1 chunks<"));
    // The first graph keeps the plain id.
    assert!(html.contains("id=\"graph\"") && html.contains("id=\"graph-4\""));
    assert_eq!(html.matches("<svg id=\"graph").count(), 2);
    // The messages join the map they follow.
    assert!(html.contains(r#"data-events="3""#));
}

/// Issue 13: failed and cancelled tasks are counted, listed with their
/// error, and marked in the graph.
#[test]
fn failures_are_counted_listed_and_marked() {
    let events = vec![
        ev(
            "parse",
            "task",
            0.0,
            4.0,
            1,
            serde_json::json!({"key": "parse-0", "deps": [], "status": "failed", "error": "invalid digit <x>"}),
        ),
        ev(
            "double",
            "task",
            4.0,
            0.0,
            1,
            serde_json::json!({"key": "double-1", "deps": ["parse-0"], "status": "cancelled", "error": "not run"}),
        ),
        ev(
            "square",
            "map",
            4.5,
            1.0,
            2,
            serde_json::json!({"call": 9, "items": 2, "failed_item": 1, "status": "panicked", "error": "item 1: boom"}),
        ),
    ];
    let s = summarize(&events);
    assert_eq!((s.failed, s.cancelled), (2, 1));
    let html = crate::render_html("t", &events);
    assert!(html.contains("<table id=\"failures\">"));
    assert!(html.contains("<td>parse-0</td><td>invalid digit &#60;x&#62;</td>"));
    // The call id is not among the details: the section says it.
    assert!(html.contains("<td>failed_item=1, items=2</td><td>item 1: boom</td>"));
    assert!(html.contains("<g class=\"node crit failed\">"));
    assert!(html.contains("<g class=\"node crit cancelled\">"));
    assert!(html.contains("fill=\"url(#hatch-failed)\""));
    // The error travels to the page's hover text, escaped for the script.
    assert!(html.contains(r#""invalid digit \u003cx\u003e""#));
}

/// A map called twice in a row is two sections (each call has a chunk
/// holding item 0); a pause inside one map (a thread descheduled) is not.
#[test]
fn a_map_called_again_is_a_section_of_its_own() {
    let chunk = |ts: f64, first: u64, tid: u32| {
        ev(
            "square",
            "map",
            ts,
            1.0,
            tid,
            serde_json::json!({"first_item": first, "last_item": first + 9, "items": 10}),
        )
    };
    let events = vec![
        chunk(0.0, 0, 1),
        chunk(0.5, 10, 2),
        // A long pause inside the first call.
        chunk(5_000.0, 20, 1),
        chunk(5_002.0, 0, 1),
        chunk(5_002.5, 10, 2),
    ];
    assert_eq!(summarize(&events).sections, 2);
    let html = crate::render_html("t", &events);
    assert!(html.contains(r#"data-events="3""#) && html.contains(r#"data-events="2""#));
}

/// Issue 13: with call ids (`args.call`), two maps of one function that
/// overlap and a compute that starts a microsecond after them are three
/// sections, which their times alone could not tell apart; spans without
/// an id (an older trace) are still told apart by their times.
#[test]
fn calls_with_ids_are_sections_however_close() {
    let chunk = |ts: f64, first: u64, tid: u32, call: u64| {
        ev(
            "square",
            "map",
            ts,
            10.0,
            tid,
            serde_json::json!({"call": call, "first_item": first, "last_item": first + 9, "items": 10}),
        )
    };
    let task = |name: &str, ts: f64, key: &str, deps: &[&str]| {
        ev(
            name,
            "task",
            ts,
            5.0,
            3,
            serde_json::json!({"call": 3, "key": key, "deps": deps}),
        )
    };
    let mut events = vec![
        chunk(0.0, 0, 1, 1),
        chunk(0.5, 0, 2, 2),
        chunk(10.0, 10, 1, 2),
        chunk(10.2, 10, 2, 1),
        task("load", 20.5, "load-0", &[]),
        task("sum", 25.5, "sum-1", &["load-0"]),
    ];
    // Without the ids the two maps (one function, overlapping) merge.
    let bare: Vec<Event> = events
        .iter()
        .cloned()
        .map(|mut e| {
            e.args.remove("call");
            e
        })
        .collect();
    assert_eq!(summarize(&bare).sections, 2);
    assert_eq!(summarize(&events).sections, 3);
    let html = crate::render_html("t", &events);
    assert_eq!(html.matches("<section class=\"run\"").count(), 3);
    assert_eq!(html.matches(r#"data-events="2""#).count(), 3);
    // A later map of an older runtime (no id) is a section of its own.
    events.push(ev(
        "cube",
        "map",
        40.0,
        1.0,
        1,
        serde_json::json!({"first_item": 0, "items": 1}),
    ));
    events.push(ev("bcast", "mpi", 40.5, 1.0, 0, serde_json::json!({})));
    assert_eq!(summarize(&events).sections, 4);
    let html = crate::render_html("t", &events);
    assert!(html.contains(">map cube: 1 chunks<"));
}
