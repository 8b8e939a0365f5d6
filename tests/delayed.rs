//! Behaviour of `#[delayed]`: graphs of typed tasks, sharing (a shared task
//! runs once), freeing (intermediate results dropped after their last
//! consumer), both backends, failures that name the task, inspection and
//! pictures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parallel_runtime::graph::{compute_with, value, FailureKind, Graph, NodeState, SvgEngine};
use parallel_runtime::prelude::*;

const BACKENDS: [Backend; 2] = [Backend::Serial, Backend::Threads];

#[delayed]
fn inc(x: i64) -> i64 {
    x + 1
}

#[delayed]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[delayed]
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[test]
fn the_dask_tutorial() {
    let x = inc(1);
    let y = inc(2);
    let z = add(x, y);
    assert_eq!(z.graph().len(), 3);
    assert_eq!(z.compute().unwrap(), 5);

    let parts: Vec<Delayed<i64>> = (0..8).map(inc).collect();
    assert_eq!(total(parts).compute().unwrap(), (1..=8).sum::<i64>());
}

#[test]
fn the_plain_function_stays_reachable() {
    assert_eq!(inc::call(41), 42);
    assert_eq!(total::call(vec![1, 2, 3]), 6);
}

#[test]
fn arguments_mix_values_handles_and_borrowed_handles() {
    let a = inc(1); // 2
    let b = add(&a, 10); // 12
    let c = add(&a, &b); // 14
    let d = total(vec![a, b, c, value(100)]);
    assert_eq!(d.compute().unwrap(), 2 + 12 + 14 + 100);

    let xs: Vec<Delayed<i64>> = (0..3).map(inc).collect();
    let s1 = total(&xs);
    let s2 = total(xs.as_slice());
    assert_eq!(compute((s1, s2)).unwrap(), (6, 6));
}

#[test]
fn compute_many_shares_one_graph() {
    let a = inc(1);
    let b = add(&a, 1);
    let c = add(&a, 2);
    let (a, b, c) = compute((a, b, c)).unwrap();
    assert_eq!((a, b, c), (2, 3, 4));
    let v: Vec<Delayed<i64>> = (0..100).map(inc).collect();
    assert_eq!(compute(v).unwrap(), (1..=100).collect::<Vec<i64>>());
    let nested = compute((vec![inc(0), inc(1)], (inc(2),))).unwrap();
    assert_eq!(nested, (vec![1, 2], (3,)));
}

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[delayed]
fn expensive(x: i64) -> i64 {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 10
}

#[test]
fn a_shared_task_runs_once() {
    for backend in BACKENDS {
        SHARED_RUNS.store(0, Ordering::SeqCst);
        let shared = expensive(4);
        let consumers: Vec<Delayed<i64>> = (0..50).map(|i| add(&shared, i)).collect();
        let sum = total(consumers.clone());
        let (each, sum, shared) = compute_with(backend, (consumers, sum, shared)).unwrap();
        assert_eq!(SHARED_RUNS.load(Ordering::SeqCst), 1, "{backend}");
        assert_eq!(each[3], 43);
        assert_eq!(sum, (0..50).map(|i| 40 + i).sum::<i64>());
        assert_eq!(shared, 40);
    }
}

#[test]
fn a_kept_handle_is_not_recomputed() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[delayed]
    fn counted(x: i64) -> i64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        x * 10
    }
    let a = counted(1);
    let b = add(&a, 1);
    assert_eq!(b.compute().unwrap(), 11);
    // `a` is still held: its result was kept, and computing it again costs
    // nothing.
    assert_eq!(a.graph().state(&a.key()), Some(NodeState::Done));
    assert_eq!(a.clone().compute().unwrap(), 10);
    assert_eq!(add(&a, 5).compute().unwrap(), 15);
    assert_eq!(a.compute().unwrap(), 10);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
}

static RUN_ONCE_LOCK: Mutex<()> = Mutex::new(());

/// A value that counts how many of its kind are alive.
struct Tracked {
    live: &'static AtomicUsize,
}

impl Tracked {
    fn new(live: &'static AtomicUsize) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Tracked { live }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(self.live)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

static LIVE_CHAIN: AtomicUsize = AtomicUsize::new(0);
static LIVE_SHARED: AtomicUsize = AtomicUsize::new(0);

#[delayed]
fn make(live: &'static AtomicUsize) -> Tracked {
    Tracked::new(live)
}

#[delayed]
fn step(t: Tracked) -> Tracked {
    let next = Tracked::new(t.live);
    drop(t);
    next
}

/// How many tracked values are alive while this runs (its input included).
#[delayed]
fn live_now(t: Tracked) -> usize {
    t.live.load(Ordering::SeqCst)
}

#[delayed]
fn live_now_both(a: Tracked, b: Tracked) -> usize {
    let n = a.live.load(Ordering::SeqCst);
    drop((a, b));
    n
}

#[test]
fn intermediate_results_are_freed_after_their_last_consumer() {
    for backend in BACKENDS {
        // A long chain: when the last task runs, only its own input is alive.
        let mut t = make(&LIVE_CHAIN);
        for _ in 0..200 {
            t = step(t);
        }
        assert_eq!(compute_with(backend, live_now(t)).unwrap(), 1, "{backend}");
        assert_eq!(LIVE_CHAIN.load(Ordering::SeqCst), 0);

        // A shared result: cloned for the first consumer, handed to the
        // last, and gone once both ran.
        let shared = make(&LIVE_SHARED);
        let x = step(shared.clone());
        let y = step(shared);
        let after = live_now_both(x, y);
        assert_eq!(compute_with(backend, after).unwrap(), 2, "{backend}");
        assert_eq!(LIVE_SHARED.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn serial_runs_on_the_calling_thread_in_a_fixed_order() {
    static LOG: Mutex<Vec<(String, std::thread::ThreadId)>> = Mutex::new(Vec::new());
    #[delayed]
    fn logged(name: String, _inputs: Vec<u8>) -> u8 {
        LOG.lock()
            .unwrap()
            .push((name, std::thread::current().id()));
        0
    }
    let build = || {
        let a = logged("a", Vec::<u8>::new());
        let b = logged("b", Vec::<u8>::new());
        let c = logged("c", vec![a]);
        logged("d", vec![c, b])
    };
    let mut orders = Vec::new();
    for _ in 0..3 {
        LOG.lock().unwrap().clear();
        compute_with(Backend::Serial, build()).unwrap();
        let log = std::mem::take(&mut *LOG.lock().unwrap());
        assert!(log.iter().all(|(_, t)| *t == std::thread::current().id()));
        orders.push(log.into_iter().map(|(n, _)| n).collect::<Vec<_>>());
    }
    assert_eq!(orders[0], ["a", "c", "b", "d"]);
    assert!(orders.iter().all(|o| *o == orders[0]));
}

#[test]
fn independent_tasks_run_at_the_same_time() {
    if parallel_runtime::num_threads() < 2 {
        return;
    }
    static ARRIVED: AtomicUsize = AtomicUsize::new(0);
    #[delayed]
    fn meet(_i: u32) -> bool {
        // Each task waits (briefly, never forever) for the other.
        ARRIVED.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        while ARRIVED.load(Ordering::SeqCst) < 2 {
            if start.elapsed() > Duration::from_secs(10) {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
    #[delayed]
    fn both(a: bool, b: bool) -> bool {
        a && b
    }
    assert!(compute_with(Backend::Threads, both(meet(0), meet(1))).unwrap());
}

#[test]
fn a_chain_of_a_hundred_thousand_tasks_does_not_overflow() {
    for backend in BACKENDS {
        let mut x = inc(0);
        for _ in 1..100_000 {
            x = inc(x);
        }
        assert_eq!(compute_with(backend, x).unwrap(), 100_000);
    }
    let mut x = inc(0);
    for _ in 1..100_000 {
        x = inc(x);
    }
    drop(x); // never computed: freed without recursion
}

static AFTER_FAILURE: AtomicUsize = AtomicUsize::new(0);

#[delayed]
fn boom(x: i64) -> i64 {
    if x == 3 {
        panic!("bad input {x}");
    }
    x
}

#[delayed]
fn parse(s: String) -> Result<i64, String> {
    s.parse::<i64>()
        .map_err(|e| format!("cannot parse {s:?}: {e}"))
}

#[delayed]
fn after(x: i64) -> i64 {
    AFTER_FAILURE.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_panic_cancels_its_dependents_and_names_the_task() {
    let _guard = RUN_ONCE_LOCK.lock();
    for backend in BACKENDS {
        AFTER_FAILURE.store(0, Ordering::SeqCst);
        let bad = boom(3);
        let key = bad.key();
        let dependents: Vec<Delayed<i64>> = (0..10).map(|i| after(add(&bad, i))).collect();
        let err = compute_with(backend, total(dependents)).unwrap_err();
        assert_eq!(err.kind(), FailureKind::Panicked);
        assert_eq!(err.function(), "boom");
        assert_eq!(err.key(), key);
        assert_eq!(err.message(), "bad input 3");
        assert!(err.cancelled() >= 21, "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "task `{key}` panicked: bad input 3 ({} other tasks cancelled)",
                err.cancelled()
            )
        );
        assert_eq!(AFTER_FAILURE.load(Ordering::SeqCst), 0, "{backend}");
        // The failure stays with the task: computing it again reports it
        // without running anything.
        assert_eq!(bad.compute().unwrap_err().key(), key);
    }
}

#[test]
fn an_err_fails_the_task_and_keeps_the_error_value() {
    for backend in BACKENDS {
        let ok = parse("12");
        let bad = parse(String::from("x"));
        let key = bad.key();
        let err = compute_with(backend, add(ok, bad)).unwrap_err();
        assert_eq!(err.kind(), FailureKind::Error);
        assert_eq!(err.key(), key);
        assert!(key.to_string().starts_with("parse-"));
        assert_eq!(
            err.message(),
            "cannot parse \"x\": invalid digit found in string"
        );
        assert_eq!(
            err.take_error::<String>().as_deref(),
            Some("cannot parse \"x\": invalid digit found in string")
        );
        assert_eq!(err.take_error::<String>(), None);
        // Ok values pass through as plain values.
        assert_eq!(
            compute_with(backend, inc(parse("41".to_string()))).unwrap(),
            42
        );
    }
}

#[test]
fn result_value_keeps_results_as_values() {
    #[delayed(result = "value")]
    fn try_parse(s: String) -> Result<i64, String> {
        s.parse::<i64>().map_err(|e| e.to_string())
    }
    let r: Delayed<Result<i64, String>> = try_parse(String::from("x"));
    assert!(r.compute().unwrap().is_err());
}

#[test]
fn failures_never_hang_and_the_pool_stays_usable() {
    for backend in BACKENDS {
        for round in 0..5 {
            let wide: Vec<Delayed<i64>> = (0..2000).map(|i| boom(add(i % 7, 0))).collect();
            let start = Instant::now();
            let err = compute_with(backend, total(wide)).unwrap_err();
            assert_eq!(err.function(), "boom", "round {round}");
            assert!(start.elapsed() < Duration::from_secs(30));
        }
        let fine: Vec<Delayed<i64>> = (0..2000).map(inc).collect();
        assert_eq!(
            compute_with(backend, total(fine)).unwrap(),
            (1..=2000).sum::<i64>()
        );
    }
    // The shared pool still runs ordinary rayon work.
    use rayon::prelude::*;
    assert_eq!((0..1000u64).into_par_iter().sum::<u64>(), 499_500);
}

#[test]
fn inspection_lists_keys_and_dependencies() {
    let a = inc(1);
    let b = inc(2);
    let c = add(&a, &b);
    let d = total(vec![a.clone(), c.clone()]);
    assert_eq!(c.dependencies(), vec![a.key(), b.key()]);
    let g = d.graph();
    assert_eq!(g.len(), 4);
    let keys: Vec<_> = g.keys().collect();
    assert_eq!(keys, [a.key(), b.key(), c.key(), d.key()]);
    assert_eq!(g.dependencies(&d.key()), Some(vec![a.key(), c.key()]));
    assert_eq!(g.dependents(&a.key()), Some(vec![c.key(), d.key()]));
    assert_eq!(g.roots(), vec![d.key()]);
    assert_eq!(g.state(&a.key()), Some(NodeState::Pending));
    assert!(a.key() == format!("inc-{}", a.key().seq()).as_str());
    assert_eq!(format!("{a:?}"), format!("Delayed({})", a.key()));

    let dot = g.to_dot();
    assert!(dot.starts_with("digraph delayed {"));
    assert!(dot.contains(&format!("[label=\"{}\"", c.key())));
    assert_eq!(dot.matches(" -> ").count(), 4);

    let svg = g.to_svg_with(SvgEngine::Builtin).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<rect").count(), 4);
    assert_eq!(svg.matches("<line").count(), 4);
    let path = std::env::temp_dir().join(format!("delayed-test-{}.svg", std::process::id()));
    let engine = d.write_svg(&path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("<svg"), "{engine:?}");
    let _ = std::fs::remove_file(&path);

    assert_eq!(compute((a, d)).unwrap(), (2, 2 + 5));
}

#[test]
fn keys_are_numbered_per_function_and_name_can_be_set() {
    #[delayed(name = "load")]
    fn read_file(i: u32) -> u32 {
        i
    }
    let a = read_file(0);
    let b = read_file(1);
    assert_eq!(a.key().name(), "load");
    assert_eq!(b.key().seq(), a.key().seq() + 1);
    assert_eq!(Graph::of(&(a, b)).len(), 2);
}

#[test]
fn nested_compute_inside_a_task_works() {
    #[delayed]
    fn inner_sum(n: i64) -> i64 {
        let parts: Vec<Delayed<i64>> = (0..n).map(inc).collect();
        total(parts).compute().unwrap()
    }
    let outer: Vec<Delayed<i64>> = (1..=8).map(inner_sum).collect();
    let got = total(outer).compute().unwrap();
    let want: i64 = (1..=8).map(|n| (1..=n).sum::<i64>()).sum();
    assert_eq!(got, want);
}

#[test]
fn recursive_compute_ten_thousand_deep_does_not_overflow() {
    #[delayed]
    fn depth(n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            depth(n - 1).compute().unwrap() + 1
        }
    }
    for backend in BACKENDS {
        assert_eq!(compute_with(backend, depth(10_000)).unwrap(), 10_000);
    }
}

#[derive(Debug, PartialEq)]
struct Code(i64);

#[delayed]
fn typed_panic(x: i64) -> i64 {
    std::panic::panic_any(Code(x))
}

#[test]
fn a_task_panic_keeps_its_payload() {
    for backend in BACKENDS {
        let err = compute_with(backend, add(typed_panic(7), 1)).unwrap_err();
        assert_eq!(err.kind(), FailureKind::Panicked);
        assert_eq!(err.message(), "<non-string panic payload>");
        let payload = err.take_panic().expect("the payload");
        assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)));
        assert!(err.take_panic().is_none(), "taken once");
        // A clone of a fresh error: `take_error` downcasts the payload too.
        let err = compute_with(backend, typed_panic(8)).unwrap_err();
        assert_eq!(err.clone().take_error::<Code>(), Some(Code(8)));
    }
}

/// A payload whose destructor panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("a bomb went off while being dropped");
    }
}

#[test]
fn a_task_payload_that_panics_on_drop_is_never_dropped_by_the_runtime() {
    #[delayed]
    fn bomb(x: i64) -> i64 {
        if x > 0 {
            std::panic::panic_any(Bomb);
        }
        x
    }
    for backend in BACKENDS {
        // Two failures: one reported, the other dropped with the graph.
        let err = compute_with(backend, add(bomb(1), bomb(2))).unwrap_err();
        assert_eq!(err.kind(), FailureKind::Panicked);
        // Dropping the error (and with it a payload nobody took) is safe.
        drop(err);
        let err = compute_with(backend, bomb(3)).unwrap_err();
        let payload = err.take_panic().expect("the payload");
        assert!(payload.is::<Bomb>());
        std::mem::forget(payload);
    }
}

#[test]
fn a_map_panicking_inside_a_task_names_the_item() {
    #[parallel_map]
    fn item_fails(x: u32) -> u32 {
        assert!(x != 4, "item {x} is bad");
        x
    }
    #[delayed]
    fn runs_a_map(n: u32) -> u32 {
        item_fails::map(0..n).into_iter().sum()
    }
    let err = runs_a_map(10).compute().unwrap_err();
    assert_eq!(err.message(), "item_fails: item 4 panicked: item 4 is bad");
    let payload = err.take_panic().expect("the payload");
    let p = payload.downcast_ref::<ItemPanic>().expect("an ItemPanic");
    assert_eq!((p.function(), p.index()), ("item_fails", 4));
}

/// Run by `parallel_backend_env_selects_serial` in a child process.
#[test]
#[ignore = "run with PARALLEL_BACKEND=serial by another test"]
fn env_serial_probe() {
    let me = std::thread::current().id();
    #[delayed]
    fn where_am_i(_i: u32) -> std::thread::ThreadId {
        std::thread::current().id()
    }
    let all: Vec<Delayed<std::thread::ThreadId>> = (0..64).map(where_am_i).collect();
    assert!(compute(all).unwrap().iter().all(|t| *t == me));
}

#[test]
fn parallel_backend_env_selects_serial() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "env_serial_probe",
            "--test-threads=1",
        ])
        .env("PARALLEL_BACKEND", "serial")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn big_inputs_can_be_shared_through_arc() {
    #[delayed]
    fn head(data: Arc<Vec<u8>>, n: usize) -> u64 {
        data[..n].iter().map(|&b| b as u64).sum()
    }
    let data = Arc::new(vec![1u8; 1 << 20]);
    let shared = value(data);
    let parts: Vec<Delayed<u64>> = (1..=4).map(|n| head(&shared, n)).collect();
    assert_eq!(compute(parts).unwrap(), [1, 2, 3, 4]);
}

#[test]
fn traced_tasks_name_their_keys_and_inputs() {
    // Tracing is process-wide: run in a child process.
    if std::env::var_os("DELAYED_TRACE_CHILD").is_none() {
        let events = parallel_tests::trace_of_child(
            "traced_tasks_name_their_keys_and_inputs",
            "DELAYED_TRACE_CHILD",
        );
        let tasks: Vec<_> = events.iter().filter(|e| e.cat == "task").collect();
        assert_eq!(tasks.len(), 3, "{events:?}");
        let add = tasks.iter().find(|e| e.name == "add").unwrap();
        assert_eq!(add.args["deps"].as_array().unwrap().len(), 2);
        assert!(add.args["waited_on"].as_str().unwrap().starts_with("inc-"));
        return;
    }
    assert_eq!(add(inc(1), inc(2)).compute().unwrap(), 5);
}

static LIVE_BIG: AtomicUsize = AtomicUsize::new(0);

#[delayed]
fn widen(t: Tracked, k: u64) -> (Tracked, u64) {
    (t, k + 1)
}

#[delayed]
fn narrow(p: (Tracked, u64)) -> Tracked {
    p.0
}

/// Graphs of thousands of tasks, which are freed on a thread of the pool
/// after `compute` returns when nothing else can see them: every value is
/// still freed before `compute` returns, and a graph with a handle kept
/// (or a failure) keeps what that handle needs.
#[test]
fn big_graphs_free_their_values_before_compute_returns_and_keep_what_handles_need() {
    for backend in BACKENDS {
        for _ in 0..3 {
            // 4,001 tasks, no handle kept: freed later, elsewhere; the
            // values are gone already.
            let mut t = make(&LIVE_BIG);
            for k in 0..2000 {
                t = narrow(widen(t, k));
            }
            assert_eq!(compute_with(backend, live_now(t)).unwrap(), 1, "{backend}");
            assert_eq!(LIVE_BIG.load(Ordering::SeqCst), 0, "{backend}");
        }
        // A handle to the middle is kept: its value stays for it, and
        // computing it afterwards costs nothing and gives it.
        let mut t = make(&LIVE_BIG);
        let mut middle = None;
        for k in 0..2000 {
            t = narrow(widen(t, k));
            if k == 1000 {
                middle = Some(t.clone());
                t = step(middle.clone().unwrap());
            }
        }
        let middle = middle.unwrap();
        assert_eq!(compute_with(backend, live_now(t)).unwrap(), 2, "{backend}");
        assert_eq!(
            LIVE_BIG.load(Ordering::SeqCst),
            1,
            "{backend}: the kept value"
        );
        assert_eq!(middle.graph().state(&middle.key()), Some(NodeState::Done));
        let kept = compute_with(backend, middle).unwrap();
        drop(kept);
        assert_eq!(LIVE_BIG.load(Ordering::SeqCst), 0, "{backend}");
    }
}
