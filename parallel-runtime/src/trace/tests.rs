//! Tracing's unit tests: the published activity and the file after every flush.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use super::activity::WATCHED;
use super::record::record;
use super::*;

/// Tracing and the activity are process-wide: these tests take turns
/// (a span of one would land in the trace of another).
static TURN: Mutex<()> = Mutex::new(());

#[test]
fn activity_publishes_the_outermost_operation_while_it_lasts() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    watch_activity();
    let before = activity().seq;
    {
        let _outer = op_span("recv");
        {
            let _inner = op_span("recv_status");
            let a = activity();
            assert!(a.in_flight);
            assert_eq!(a.op, "recv");
        }
        let a = activity();
        assert!(
            a.in_flight && a.op == "recv" && a.seq == before + 1,
            "{a:?}"
        );
    }
    assert!(!activity().in_flight);
    {
        let _long = op_span("all_reduce_with_a_long_name");
        assert_eq!(activity().op, "all_reduce_with_");
    }
    assert_eq!(activity().seq, before + 2);
}

/// The cost of publishing an operation, printed for the record
/// (`cargo test -p parallel-runtime --release --lib -- op_span_cost --nocapture`).
#[test]
fn op_span_cost() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let n = 2_000_000u32;
    let time = |watched: bool| {
        WATCHED.store(watched, Ordering::Relaxed);
        let t = Instant::now();
        for _ in 0..n {
            let s = op_span(std::hint::black_box("send"));
            std::hint::black_box(&s);
        }
        t.elapsed().as_nanos() as f64 / f64::from(n)
    };
    let (off, on) = (time(false), time(true));
    WATCHED.store(true, Ordering::Relaxed);
    println!("op_span: {off:.1} ns with the watchdog off, {on:.1} ns with it on");
    // Generous: a debug build on a loaded machine.
    assert!(on < 2_000.0, "{on} ns");
}

#[test]
fn file_is_valid_json_after_every_flush() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json");
    let guard = start(&path).unwrap();
    assert!(read(&path).unwrap().is_empty());
    record("a", "map", 1.0, 2.0, Default::default());
    flush().unwrap();
    let first = read(&path).unwrap();
    assert_eq!(first.iter().filter(|e| e.ph == "X").count(), 1);
    {
        let mut c = ChunkSpan::start(7, "b", "map");
        c.item(3);
        c.item(5);
    }
    {
        // Items one after another: the first worked out from the last.
        let mut c = ChunkSpan::start(7, "c", "map");
        (10..14).for_each(|i| c.next_item(i));
    }
    drop(guard);
    let all = read(&path).unwrap();
    let spans: Vec<_> = all.iter().filter(|e| e.ph == "X").collect();
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[1].args["first_item"], 3);
    assert_eq!(spans[1].args["items"], 2);
    let range = |e: &Event| ["first_item", "last_item", "items"].map(|k| e.args[k].as_u64());
    assert_eq!(range(spans[2]), [Some(10), Some(13), Some(4)]);
    // Issue 13: the chunk carries its call's id.
    assert_eq!(spans[1].args["call"], 7);
    assert!(!spans[0].args.contains_key("call"));
    assert!(!enabled());
}

/// Issue 13: the event of a task or chunk that did not succeed says so.
#[test]
fn failed_items_and_tasks_are_marked_in_their_events() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("trace-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json");
    let guard = start(&path).unwrap();
    {
        let mut ok = ChunkSpan::start(0, "fine", "map");
        ok.item(0);
    }
    {
        let mut c = ChunkSpan::start(0, "parse", "map");
        c.item(3);
        item_failed(3, "failed", None);
        c.item(4);
        item_failed(4, "panicked", Some("boom"));
    }
    task_event(
        0,
        "sum",
        "sum-1".into(),
        vec!["load-0".into()],
        None,
        Some(Outcome {
            status: "cancelled",
            error: "not run".into(),
        }),
        5.0,
        5.0,
    );
    drop(guard);
    let all = read(&path).unwrap();
    let spans: Vec<_> = all.iter().filter(|e| e.ph == "X").collect();
    assert_eq!(spans.len(), 3);
    assert!(!spans[0].args.contains_key("status"));
    // The first failure of the chunk is the one it reports.
    assert_eq!(spans[1].args["status"], "failed");
    assert_eq!(spans[1].args["failed_item"], 3);
    assert_eq!(spans[1].args["error"], "item 3 returned an error");
    assert_eq!(spans[2].args["status"], "cancelled");
    assert_eq!(spans[2].args["error"], "not run");
    // Off: nothing is kept for a later chunk.
    item_failed(9, "panicked", Some("late"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Recording goes through per-thread buffers: a flush must still find the
/// events of threads that have exited, of threads that live on (as the
/// pool's do), and of buffers handed over in full batches; a later trace
/// must not get an earlier one's leftovers.
#[test]
fn every_threads_events_reach_the_file() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("trace-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json");
    let guard = start(&path).unwrap();
    // A thread that exits before the flush, with more than one batch.
    std::thread::spawn(|| {
        for i in 0..2500 {
            record(
                "exited",
                "map",
                f64::from(i),
                f64::from(i) + 1.0,
                Default::default(),
            );
        }
    })
    .join()
    .unwrap();
    // A thread that outlives the flush, with fewer than one batch.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let alive = std::thread::spawn(move || {
        for _ in 0..10 {
            record("alive", "map", 1.0, 2.0, Default::default());
        }
        done_tx.send(()).unwrap();
        let _ = rx.recv();
    });
    done_rx.recv().unwrap();
    flush().unwrap();
    let events = read(&path).unwrap();
    let count = |name: &str| events.iter().filter(|e| e.name == name).count();
    assert_eq!(count("exited"), 2500);
    assert_eq!(count("alive"), 10);
    let tracks = events
        .iter()
        .filter(|e| e.name == "thread_name" && e.tid == 0)
        .count();
    assert_eq!(tracks, 1, "both threads are outside the pool: one track");
    drop(guard);
    tx.send(()).unwrap();
    alive.join().unwrap();

    // Recorded after tracing stopped: in no trace.
    record("late", "map", 1.0, 2.0, Default::default());
    let guard = start(&path).unwrap();
    record("next", "map", 1.0, 2.0, Default::default());
    drop(guard);
    let events = read(&path).unwrap();
    assert_eq!(
        events.iter().filter(|e| e.ph == "X").count(),
        1,
        "{events:?}"
    );
    assert_eq!(events.iter().filter(|e| e.name == "next").count(), 1);
}

/// An event's JSON, written by hand, is what serde writes for the same
/// [`Event`] (times in microseconds with three decimals).
#[test]
fn events_are_written_as_serde_would() {
    use super::event::{Args, Raw};
    for (call, ts, dur, first) in [
        (0, 0.0, 0.0, 0),
        (42, 12.0004, 3.5, 7),
        (1 << 40, 1e9, 0.001, usize::MAX),
    ] {
        let raw = Raw {
            name: "square".into(),
            cat: "map",
            ts,
            dur,
            pid: 3,
            tid: 17,
            args: Args::Items {
                call,
                first,
                last: 90,
                items: 1234,
            },
        };
        let mut out = Vec::new();
        raw.write_json(&mut out).unwrap();
        let e: Event = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (e.pid, e.tid, e.name.as_str(), e.ph.as_str()),
            (3, 17, "square", "X")
        );
        assert!(
            (e.ts - ts).abs() < 6e-4 && (e.dur - dur).abs() < 6e-4,
            "{e:?}"
        );
        assert_eq!(e.args["first_item"], first as u64);
        assert_eq!(
            (e.args["items"].as_u64(), e.args["last_item"].as_u64()),
            (Some(1234), Some(90))
        );
        assert_eq!(
            e.args.get("call").and_then(|c| c.as_u64()),
            (call != 0).then_some(call)
        );
        // The keys in serde's order, so that a file reads the same either way.
        let mut again = Vec::new();
        serde_json::to_writer(&mut again, &e.args).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(std::str::from_utf8(&again).unwrap()),
            "{text}"
        );
    }
    let mut out = Vec::new();
    let raw = Raw {
        name: "x".into(),
        cat: "map",
        ts: 12.0004,
        dur: 0.0,
        pid: 0,
        tid: 0,
        args: Args::None,
    };
    raw.write_json(&mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("\"ts\":12.000,\"dur\":0.000,"));
    // Whole numbers and times, digit by digit.
    for (ts, tid, want) in [
        (0.0, 0, "\"ts\":0.000,\"dur\":0.000,\"pid\":0,\"tid\":0,"),
        (0.0015, 9, "\"ts\":0.002,\"dur\":0.000,\"pid\":0,\"tid\":9,"),
        (3.05, 10, "\"ts\":3.050,\"dur\":0.000,\"pid\":0,\"tid\":10,"),
        (
            99.999,
            100,
            "\"ts\":99.999,\"dur\":0.000,\"pid\":0,\"tid\":100,",
        ),
        (
            1234567.891,
            u32::MAX,
            "\"ts\":1234567.891,\"dur\":0.000,\"pid\":0,\"tid\":4294967295,",
        ),
        (
            100000.0096,
            1001,
            "\"ts\":100000.010,\"dur\":0.000,\"pid\":0,\"tid\":1001,",
        ),
    ] {
        let raw = Raw {
            name: "x".into(),
            cat: "map",
            ts,
            dur: 0.0,
            pid: 0,
            tid,
            args: Args::None,
        };
        let mut out = Vec::new();
        raw.write_json(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(want), "{text}");
        let e: Event = serde_json::from_str(&text).unwrap();
        assert!((e.ts - ts).abs() < 6e-4, "{text}");
    }
}

/// Records one chunk per item of `0..n` on the pool, as a map with chunks
/// of one item does, then ends the call as a top-level map does (its
/// events handed to the trace's writer thread, nothing waited for).
fn traced_map(call: u64, name: &'static str, n: usize) {
    use rayon::prelude::*;
    (0..n).into_par_iter().for_each(|i| {
        let mut span = ChunkSpan::start(call, name, "map");
        span.item(i);
    });
    flush_if_top_level();
}

/// The file's chunks of `name`: each item's index, sorted.
fn items_of(events: &[Event], name: &str) -> Vec<u64> {
    let mut items: Vec<u64> = events
        .iter()
        .filter(|e| e.ph == "X" && e.name == name)
        .map(|e| e.args["first_item"].as_u64().unwrap())
        .collect();
    items.sort_unstable();
    items
}

/// The writer thread writes a map's events after the map has returned:
/// a `stop` right after the map still finds every one of them in the file
/// (with more than a thread's batch on some threads, handed over while the
/// map ran, and the rest collected at its end).
#[test]
fn a_map_then_stop_at_once_loses_no_event() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let path = std::env::temp_dir().join(format!("trace-stop-{}.json", std::process::id()));
    for n in [1, 100, 5_000] {
        let guard = start(&path).unwrap();
        traced_map(1, "at_once", n);
        assert_eq!(stop().unwrap().as_deref(), Some(path.as_path()));
        drop(guard);
        let events = read(&path).unwrap();
        let want: Vec<u64> = (0..n as u64).collect();
        assert_eq!(items_of(&events, "at_once"), want, "{n} items");
    }
    let _ = std::fs::remove_file(&path);
}

/// Maps called at once from several threads (each a top-level call that
/// hands its events over as it ends): every event of every one arrives,
/// each under its call's id.
#[test]
fn events_of_maps_on_several_threads_all_arrive() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let path = std::env::temp_dir().join(format!("trace-several-{}.json", std::process::id()));
    let guard = start(&path).unwrap();
    const NAMES: [&str; 4] = ["first", "second", "third", "fourth"];
    std::thread::scope(|s| {
        for (call, name) in NAMES.into_iter().enumerate() {
            s.spawn(move || {
                for _ in 0..3 {
                    traced_map(call as u64 + 1, name, 1_500);
                }
            });
        }
    });
    drop(guard);
    let events = read(&path).unwrap();
    for (call, name) in NAMES.into_iter().enumerate() {
        let want: Vec<u64> = (0..1_500).flat_map(|i| [i; 3]).collect();
        assert_eq!(items_of(&events, name), want, "{name}");
        assert!(events
            .iter()
            .filter(|e| e.name == name)
            .all(|e| e.args["call"] == call as u64 + 1));
    }
    let _ = std::fs::remove_file(&path);
}

/// A thread's buffer holds a map's events when it fills in a chunk of
/// another map, and the thread takes it out of its slot to serialize it:
/// a `stop` (or `flush`) meanwhile waits until it is handed over. Without
/// that wait the map's events were lost, though the map had returned (a
/// traced map's 300 chunks, all on one worker, missing in one CI run of
/// two of tests/map.rs).
#[test]
fn stop_waits_for_a_full_buffer_on_its_way_to_the_writer() {
    use super::buffer::{BATCH, WHILE_HANDING};
    use std::sync::atomic::AtomicBool;
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let path = std::env::temp_dir().join(format!("trace-handing-{}.json", std::process::id()));
    for flush_first in [false, true] {
        TAKEN.store(false, Ordering::SeqCst);
        let guard = start(&path).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                // A map's 10 chunks (the map has returned), then another
                // map's, up to one short of a full buffer.
                for i in 0..10 {
                    ChunkSpan::start(1, "held", "map").item(i);
                }
                for _ in 10..BATCH - 1 {
                    record("other", "map", 0.0, 1.0, Default::default());
                }
                WHILE_HANDING.set(Some(|| {
                    TAKEN.store(true, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }));
                record("other", "map", 0.0, 1.0, Default::default());
            });
            while !TAKEN.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            if flush_first {
                flush().unwrap();
                let events = read(&path).unwrap();
                assert_eq!(items_of(&events, "held"), (0..10).collect::<Vec<_>>());
            }
            stop().unwrap();
        });
        drop(guard);
        let events = read(&path).unwrap();
        assert_eq!(items_of(&events, "held"), (0..10).collect::<Vec<_>>());
        assert_eq!(
            events.iter().filter(|e| e.name == "other").count(),
            BATCH - 10
        );
    }
    let _ = std::fs::remove_file(&path);
}
