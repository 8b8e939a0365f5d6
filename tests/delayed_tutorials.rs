//! `#[delayed]` red-teamed by porting Dask's public tutorials (the
//! `delayed` docs, "delayed best practices", the dask-tutorial notebook
//! `01_dask.delayed`): every program's result is compared with the plain
//! serial Rust loop, on the serial backend and on the pool; values with
//! `Drop` side effects are dropped exactly once; failures name their task;
//! handles are shared, kept, computed later, from several threads at once
//! and from inside tasks, and nothing hangs (every compute that could
//! runs under a deadline).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use parallel_runtime::graph::{compute_with, delayed_fn, value, FailureKind};
use parallel_runtime::prelude::*;
use parallel_tests::within;

const BACKENDS: [Backend; 2] = [Backend::Serial, Backend::Threads];

/// A counter handed to the tasks of one test (tests run at once).
type Count = Arc<AtomicUsize>;

fn count() -> Count {
    Arc::default()
}

fn get(c: &Count) -> usize {
    c.load(Ordering::SeqCst)
}

/// Planned panics (messages starting with `tutorial: planned`) are not
/// printed; any other panic is.
fn quiet_planned_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let text = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied());
            if !text.is_some_and(|s| s.starts_with("tutorial: planned")) {
                default(info);
            }
        }));
    });
}

// ----- the first tutorial: inc, add, sum -------------------------------------

#[delayed]
fn inc(x: i64) -> i64 {
    x + 1
}

#[delayed]
fn double(x: i64) -> i64 {
    x * 2
}

#[delayed]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[delayed]
fn sum(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[test]
fn tutorial_inc_add_sum_equals_the_serial_loop() {
    for backend in BACKENDS {
        let z = add(inc(1), inc(2));
        assert_eq!(z.graph().len(), 3);
        assert_eq!(compute_with(backend, z).unwrap(), 5);
        let data = [1, 2, 3, 4, 5, 6, 7, 8];
        let total = sum(data.iter().map(|&x| inc(x)).collect::<Vec<_>>());
        assert_eq!(compute_with(backend, total).unwrap(), 44);
    }
}

/// Notebook 01: `for x in data: a = inc(x); b = double(x); c = add(a, b)`,
/// then `total = sum(output)`, and `dask.compute(*output)`.
#[test]
fn notebook_loop_of_inc_double_add_then_sum() {
    let data: Vec<i64> = (-500..1500).collect();
    let serial: Vec<i64> = data.iter().map(|&x| (x + 1) + x * 2).collect();
    for backend in BACKENDS {
        let output: Vec<Delayed<i64>> = data.iter().map(|&x| add(inc(x), double(x))).collect();
        let total = sum(&output);
        let (each, total) = compute_with(backend, (output, total)).unwrap();
        assert_eq!(each, serial, "{backend}");
        assert_eq!(total, serial.iter().sum::<i64>(), "{backend}");
    }
}

/// The notebook's "exercise: parallelize a for loop with control flow":
/// `if is_even(x): y = double(x) else: y = inc(x)`.
#[test]
fn notebook_control_flow_inside_the_loop() {
    let data: Vec<i64> = (0..300).collect();
    let serial: i64 = data
        .iter()
        .map(|&x| if x % 2 == 0 { x * 2 } else { x + 1 })
        .sum();
    for backend in BACKENDS {
        let parts: Vec<Delayed<i64>> = data
            .iter()
            .map(|&x| if x % 2 == 0 { double(x) } else { inc(x) })
            .collect();
        assert_eq!(compute_with(backend, sum(parts)).unwrap(), serial);
    }
}

// ----- tree reductions --------------------------------------------------------

/// The docs' tree summation: add neighbours pairwise until one is left.
fn tree_sum(mut level: Vec<Delayed<i64>>) -> Delayed<i64> {
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut it = level.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => add(a, b),
                None => a,
            });
        }
        level = next;
    }
    level.pop().expect("at least one leaf")
}

#[test]
fn tree_reduction_equals_the_serial_sum() {
    for n in [1usize, 2, 3, 7, 1000, 4097] {
        let serial: i64 = (0..n as i64).map(|x| x + 1).sum();
        for backend in BACKENDS {
            let leaves = (0..n as i64).map(inc).collect();
            assert_eq!(compute_with(backend, tree_sum(leaves)).unwrap(), serial);
        }
    }
}

/// A tree reduction over handles that the caller also keeps: the leaves
/// are computed afterwards without running again, and equal the loop.
#[test]
fn tree_reduction_over_shared_leaves_then_the_leaves() {
    let runs = count();
    #[delayed]
    fn leaf(x: i64, runs: Count) -> i64 {
        runs.fetch_add(1, Ordering::SeqCst);
        x * x
    }
    let leaves: Vec<Delayed<i64>> = (0..200).map(|x| leaf(x, runs.clone())).collect();
    let total = tree_sum(leaves.clone());
    assert_eq!(
        total.compute().unwrap(),
        (0..200).map(|x| x * x).sum::<i64>()
    );
    assert_eq!(
        compute(leaves).unwrap(),
        (0..200).map(|x| x * x).collect::<Vec<_>>()
    );
    assert_eq!(get(&runs), 200, "each leaf runs once");
}

// ----- a pipeline over files: load, clean, analyze, store ---------------------

fn tutorial_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("delayed-tutorials-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[delayed]
fn load(path: String) -> std::io::Result<Vec<i64>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(|l| l.trim().parse().unwrap_or(0))
        .collect())
}

#[delayed]
fn clean(xs: Vec<i64>) -> Vec<i64> {
    xs.into_iter().filter(|&x| x >= 0).collect()
}

#[delayed]
fn analyze(parts: Vec<Vec<i64>>) -> (usize, i64) {
    parts
        .iter()
        .fold((0, 0), |(n, s), p| (n + p.len(), s + p.iter().sum::<i64>()))
}

#[delayed]
fn store(result: (usize, i64), path: String) -> std::io::Result<String> {
    let text = format!("{} {}", result.0, result.1);
    std::fs::write(&path, &text)?;
    Ok(text)
}

fn write_inputs(dir: &std::path::Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("part-{i}.txt"));
            let body: String = (0..50)
                .map(|k| format!("{}\n", (k * 7 + i as i64) % 23 - 5))
                .collect();
            std::fs::write(&path, body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            path.to_string_lossy().into_owned()
        })
        .collect()
}

fn serial_pipeline(paths: &[String]) -> (usize, i64) {
    let parts: Vec<Vec<i64>> = paths
        .iter()
        .map(|p| clean::call(load::call(p.clone()).unwrap_or_else(|e| panic!("{p}: {e}"))))
        .collect();
    analyze::call(parts)
}

#[test]
fn file_pipeline_equals_the_serial_pipeline_and_stores_it() {
    let dir = tutorial_dir("pipeline");
    let paths = write_inputs(&dir, 24);
    let expected = serial_pipeline(&paths);
    for backend in BACKENDS {
        let out = dir
            .join(format!("out-{backend}.txt"))
            .to_string_lossy()
            .into_owned();
        let parts: Vec<Delayed<Vec<i64>>> = paths.iter().map(|p| clean(load(p.as_str()))).collect();
        let stats = analyze(parts);
        let stored = store(&stats, out.as_str());
        let (stats, text) = compute_with(backend, (stats, stored)).unwrap();
        assert_eq!(stats, expected);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
        assert_eq!(text, format!("{} {}", expected.0, expected.1));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_file_names_its_load_task_and_keeps_the_io_error() {
    let dir = tutorial_dir("missing");
    let mut paths = write_inputs(&dir, 8);
    paths[5] = dir.join("nope.txt").to_string_lossy().into_owned();
    for backend in BACKENDS {
        let loads: Vec<Delayed<Vec<i64>>> = paths.iter().map(|p| load(p.as_str())).collect();
        let bad = loads[5].key();
        let parts: Vec<Delayed<Vec<i64>>> = loads.into_iter().map(clean).collect();
        let err = compute_with(backend, analyze(parts)).unwrap_err();
        assert_eq!(err.key(), bad, "{backend}: {err}");
        assert_eq!(err.function(), "load");
        assert_eq!(err.kind(), FailureKind::Error);
        assert!(
            err.to_string()
                .starts_with(&format!("task `{bad}` returned an error: ")),
            "{err}"
        );
        let io = err
            .take_error::<std::io::Error>()
            .expect("the io::Error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- best practices ---------------------------------------------------------

/// "Don't mutate inputs": in Dask a task that mutates its input corrupts
/// the other consumers' view. Here each consumer owns its copy: the ones
/// that mutate never change what another consumer (or the kept handle)
/// sees, on either backend, whatever order the consumers run in.
#[test]
fn consumers_that_mutate_a_shared_input_do_not_see_each_other() {
    #[delayed]
    fn make(n: usize) -> Vec<u64> {
        (0..n as u64).collect()
    }
    #[delayed]
    fn push_and_len(mut xs: Vec<u64>, v: u64) -> (usize, u64) {
        xs.push(v);
        xs[0] += v;
        (xs.len(), xs.iter().sum())
    }
    let base: u64 = (0..1000).sum();
    for backend in BACKENDS {
        for _ in 0..20 {
            let shared = make(1000);
            let outs: Vec<Delayed<(usize, u64)>> =
                (0..16).map(|v| push_and_len(&shared, v)).collect();
            let (outs, kept) = compute_with(backend, (outs, shared.clone())).unwrap();
            for (v, o) in outs.into_iter().enumerate() {
                assert_eq!(o, (1001, base + 2 * v as u64), "{backend}");
            }
            assert_eq!(kept, (0..1000).collect::<Vec<u64>>());
            assert_eq!(shared.compute().unwrap().len(), 1000);
        }
    }
}

/// "Avoid too many tasks": batching the loop into chunks gives the same
/// result as one task per item and as the loop.
#[test]
fn batched_and_unbatched_graphs_agree_with_the_loop() {
    #[delayed]
    fn batch(xs: Vec<i64>) -> Vec<i64> {
        xs.into_iter().map(|x| x * 3 - 1).collect()
    }
    #[delayed]
    fn concat(parts: Vec<Vec<i64>>) -> Vec<i64> {
        parts.concat()
    }
    let data: Vec<i64> = (0..5000).collect();
    let serial: Vec<i64> = data.iter().map(|x| x * 3 - 1).collect();
    for backend in BACKENDS {
        let chunks: Vec<Delayed<Vec<i64>>> = data.chunks(333).map(|c| batch(c.to_vec())).collect();
        assert_eq!(compute_with(backend, concat(chunks)).unwrap(), serial);
        let one: Vec<Delayed<Vec<i64>>> = data.iter().map(|&x| batch(vec![x])).collect();
        assert_eq!(compute_with(backend, concat(one)).unwrap(), serial);
    }
}

/// "Don't call delayed on delayed objects": `value(inc(1))` is a
/// `Delayed<Delayed<i64>>`, whose result is a handle to compute in turn.
#[test]
fn a_delayed_of_a_delayed_is_a_handle_to_compute_again() {
    let runs = count();
    #[delayed]
    fn counted(x: i64, runs: Count) -> i64 {
        runs.fetch_add(1, Ordering::SeqCst);
        x + 1
    }
    for backend in BACKENDS {
        let inner = counted(1, runs.clone());
        let outer: Delayed<Delayed<i64>> = value(inner);
        let before = get(&runs);
        let inner = compute_with(backend, outer).unwrap();
        assert_eq!(get(&runs), before, "the inner task has not run yet");
        assert_eq!(compute_with(backend, inner).unwrap(), 2);
        assert_eq!(get(&runs), before + 1);
    }
}

/// A task that builds a graph and returns it uncomputed: the caller
/// computes it afterwards.
#[test]
fn a_task_returns_a_graph_that_is_computed_afterwards() {
    #[delayed]
    fn plan(n: i64) -> Delayed<i64> {
        tree_sum((0..n).map(inc).collect())
    }
    for backend in BACKENDS {
        let graphs = compute_with(backend, (1..40).map(plan).collect::<Vec<_>>()).unwrap();
        let totals = compute_with(backend, graphs).unwrap();
        let serial: Vec<i64> = (1..40).map(|n| (1..=n).sum()).collect();
        assert_eq!(totals, serial);
    }
}

// ----- handles shared, moved, kept, computed later ----------------------------

#[test]
fn a_kept_result_feeds_consumers_built_after_it_was_computed() {
    let runs = count();
    #[delayed]
    fn expensive(x: i64, runs: Count) -> i64 {
        runs.fetch_add(1, Ordering::SeqCst);
        x * 10
    }
    for backend in BACKENDS {
        runs.store(0, Ordering::SeqCst);
        let x = expensive(4, runs.clone());
        let y = add(&x, 1);
        assert_eq!(compute_with(backend, y).unwrap(), 41);
        // Consumers made after the compute read the kept value.
        let later: Vec<Delayed<i64>> = (0..10).map(|k| add(&x, k)).collect();
        let t = sum(&later);
        let (later, t, x2) = compute_with(backend, (later, t, x.clone())).unwrap();
        assert_eq!(later, (40..50).collect::<Vec<_>>());
        assert_eq!(t, (40..50).sum::<i64>());
        assert_eq!(x2, 40);
        // And the handle itself, moved into a last consumer.
        assert_eq!(compute_with(backend, double(x)).unwrap(), 80);
        assert_eq!(get(&runs), 1, "{backend}: the shared task runs once");
    }
}

#[test]
fn overlapping_graphs_computed_one_after_another() {
    let runs = count();
    #[delayed]
    fn base(runs: Count) -> i64 {
        runs.fetch_add(1, Ordering::SeqCst);
        7
    }
    for backend in BACKENDS {
        runs.store(0, Ordering::SeqCst);
        let b = base(runs.clone());
        let a1 = inc(&b);
        let a2 = double(&b);
        let mid = add(&a1, &a2); // 8 + 14
        let top = add(&mid, &b); // 29
        assert_eq!(compute_with(backend, a1.clone()).unwrap(), 8);
        assert_eq!(
            compute_with(backend, (top.clone(), a2.clone())).unwrap(),
            (29, 14)
        );
        assert_eq!(
            compute_with(backend, (mid, a1, top, a2, b)).unwrap(),
            (22, 8, 29, 14, 7)
        );
        assert_eq!(get(&runs), 1);
    }
}

/// Eight threads compute graphs that overlap in one shared task, again and
/// again. Each compute returns the serial result or, documented, a
/// `Busy` error naming a task of its graph; the shared task runs once; no
/// compute hangs.
#[test]
fn overlapping_graphs_computed_from_several_threads_at_once() {
    within(60, "overlapping computes from 8 threads", || {
        for round in 0..20 {
            let runs = count();
            #[delayed]
            fn slowish(x: i64, runs: Count) -> i64 {
                runs.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_micros(200));
                x
            }
            let shared = slowish(round, runs.clone());
            let shared_key = shared.key();
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let mine = add(&shared, t);
                    let also = inc(&shared);
                    std::thread::spawn(move || compute((mine, also)))
                })
                .collect();
            let mut ok = 0;
            for (t, th) in threads.into_iter().enumerate() {
                match th.join().unwrap() {
                    Ok(v) => {
                        ok += 1;
                        assert_eq!(v, (round + t as i64, round + 1));
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), FailureKind::Busy, "{e}");
                        assert!(e.to_string().contains(&shared_key.to_string()), "{e}");
                    }
                }
            }
            assert!(ok >= 1, "at least the first compute succeeds");
            assert_eq!(get(&runs), 1);
            // Afterwards, the shared task's result is there for the handle.
            assert_eq!(shared.compute().unwrap(), round);
        }
    });
}

/// A task that computes, inside itself, a graph of its own (a tree sum),
/// under a map of such tasks: equal to the loop on both backends.
#[test]
fn graphs_built_and_computed_inside_tasks() {
    #[delayed]
    fn inner_total(n: i64) -> i64 {
        let leaves = (0..n).map(|x| double(inc(x))).collect();
        tree_sum(leaves).compute().unwrap()
    }
    let serial: Vec<i64> = (1..49).map(|n| (0..n).map(|x| (x + 1) * 2).sum()).collect();
    for backend in BACKENDS {
        let outer: Vec<Delayed<i64>> = (1..49).map(inner_total).collect();
        let all = within(60, "nested computes", move || compute_with(backend, outer));
        assert_eq!(all.unwrap(), serial);
    }
}

/// A task given, as a plain value, a handle that its own graph also
/// computes: the inner compute cannot take a task the outer one holds. It
/// must either return the value or say `Busy` naming that task, never
/// hang, never return another value.
#[test]
fn a_task_computing_a_handle_its_own_compute_holds_says_busy() {
    #[delayed]
    fn via_handle(d: Delayed<i64>) -> Result<i64, String> {
        d.compute()
            .map(|v| v * 100)
            .map_err(|e| format!("{:?} {e}", e.kind()))
    }
    for backend in BACKENDS {
        let a = inc(1);
        let a_key = a.key();
        let b = via_handle(a.clone());
        let c = add(&a, b);
        match within(30, "inner compute of a held task", move || {
            compute_with(backend, c)
        }) {
            Ok(v) => assert_eq!(v, 2 + 200),
            Err(e) => {
                assert_eq!(e.function(), "via_handle", "{e}");
                assert!(e.message().starts_with("Busy"), "{e}");
                assert!(e.message().contains(&a_key.to_string()), "{e}");
            }
        }
    }
}

/// A cycle made through a shared cell: task `a` computes, inside itself,
/// its own consumer `b`. The inner compute must report the cycle (`Busy`)
/// instead of waiting for itself.
#[test]
fn a_cycle_through_a_shared_cell_is_reported_not_hung() {
    type Cell = Arc<Mutex<Option<Delayed<i64>>>>;
    #[delayed]
    fn looks_ahead(cell: Cell) -> Result<i64, String> {
        let next = cell.lock().unwrap().take().expect("the consumer");
        next.compute().map_err(|e| e.to_string())
    }
    for backend in BACKENDS {
        let cell: Cell = Arc::default();
        let a = looks_ahead(cell.clone());
        let a_key = a.key();
        let b = inc(a);
        *cell.lock().unwrap() = Some(b.clone());
        let err = within(30, "a cycle", move || compute_with(backend, b)).unwrap_err();
        assert_eq!(err.key(), a_key, "{err}");
        assert!(
            err.message()
                .contains("a task cannot compute part of its own graph"),
            "{err}"
        );
    }
}

// ----- arguments: Vec, slices, plain values, strings -------------------------

#[test]
fn vec_and_slice_arguments_mixed_with_plain_values() {
    #[delayed]
    fn combine(xs: Vec<i64>, k: i64, ys: Vec<i64>, tag: String, zs: Vec<i64>) -> String {
        let s: i64 = xs.iter().sum::<i64>() * k + ys.iter().product::<i64>();
        format!("{tag}:{s}:{}", zs.len())
    }
    for backend in BACKENDS {
        let xs: Vec<Delayed<i64>> = (0..10).map(inc).collect();
        let ys: Vec<Delayed<i64>> = (1..5).map(value).collect();
        let k = double(3);
        let a = combine(&xs, &k, &ys[1..3], "a", vec![1, 2, 3]);
        let b = combine(
            xs.as_slice(),
            2,
            ys,
            String::from("b"),
            Vec::<Delayed<i64>>::new(),
        );
        let none = &xs[..0];
        let c = combine(none, k, Vec::<i64>::new(), "c", xs.clone());
        let r = compute_with(backend, (a, b, c)).unwrap();
        assert_eq!(r, ("a:336:3".into(), "b:134:0".into(), "c:1:10".into()));
    }
}

#[test]
fn empty_computes_and_empty_inputs() {
    for backend in BACKENDS {
        assert_eq!(
            compute_with(backend, Vec::<Delayed<i64>>::new()).unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(
            compute_with(backend, sum(Vec::<Delayed<i64>>::new())).unwrap(),
            0
        );
        let nested = compute_with(backend, (Vec::<Delayed<u8>>::new(), (inc(0),))).unwrap();
        assert_eq!(nested, (vec![], (1,)));
    }
}

/// Dask's custom graphs with `delayed(f)(...)`: closures, a generic
/// function instantiated, a method through a closure, `try_call`.
#[test]
fn delayed_fn_on_closures_generics_and_methods() {
    struct Model {
        scale: i64,
    }
    impl Model {
        fn apply(&self, x: i64) -> i64 {
            x * self.scale
        }
    }
    fn biggest<T: Ord + Copy>(xs: Vec<T>) -> T {
        xs.into_iter().max().expect("one item")
    }
    let model = Arc::new(Model { scale: 3 });
    for backend in BACKENDS {
        let m = model.clone();
        let apply = delayed_fn("apply", move |x: i64| m.apply(x));
        let scaled: Vec<Delayed<i64>> = (0..20).map(|x| apply.clone().call(inc(x))).collect();
        let top = delayed_fn("biggest", biggest::<i64>).call(&scaled);
        let total = delayed_fn("sum", |xs: Vec<i64>| xs.iter().sum::<i64>()).call(scaled);
        let m = delayed_fn("max", std::cmp::max::<i64>).call((&top, 1000));
        let parsed = delayed_fn("parse", |s: String| s.parse::<i64>()).try_call("12");
        let bad = delayed_fn("parse", |s: String| s.parse::<i64>()).try_call("x");
        let bad_key = bad.key();
        let r = compute_with(backend, (top, total, m, parsed)).unwrap();
        assert_eq!(r, (60, 3 * 210, 1000, 12));
        let err = compute_with(backend, add(bad, 1)).unwrap_err();
        assert_eq!((err.key(), err.kind()), (bad_key, FailureKind::Error));
        assert!(bad_key.to_string().starts_with("parse-"));
    }
}

// ----- drops: every value exactly once ----------------------------------------

#[derive(Default)]
struct Ledger(Mutex<Vec<u32>>);

struct Guard {
    ledger: Arc<Ledger>,
    id: usize,
    v: i64,
}

fn guard(l: &Arc<Ledger>, v: i64) -> Guard {
    let mut d = l.0.lock().unwrap_or_else(PoisonError::into_inner);
    d.push(0);
    Guard {
        ledger: l.clone(),
        id: d.len() - 1,
        v,
    }
}

impl Clone for Guard {
    fn clone(&self) -> Self {
        guard(&self.ledger, self.v)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.ledger.0.lock().unwrap_or_else(PoisonError::into_inner)[self.id] += 1;
    }
}

impl Ledger {
    /// Values not dropped yet.
    fn alive(&self) -> usize {
        let d = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        d.iter().filter(|&&n| n == 0).count()
    }

    fn check(&self, what: &str) {
        let d = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let alive = d.iter().filter(|&&n| n == 0).count();
        let twice = d.iter().filter(|&&n| n > 1).count();
        assert!(
            alive == 0 && twice == 0,
            "{what}: of {} values, {alive} never dropped, {twice} dropped twice or more",
            d.len()
        );
    }
}

#[delayed]
fn g_leaf(l: Arc<Ledger>, v: i64) -> Guard {
    guard(&l, v)
}

#[delayed]
fn g_add(a: Guard, b: Guard) -> Guard {
    guard(&a.ledger, a.v + b.v)
}

#[delayed]
fn g_fail(a: Guard, fail: u8) -> Result<Guard, String> {
    match fail {
        1 => panic!("tutorial: planned panic at {}", a.v),
        2 => Err(format!("planned error at {}", a.v)),
        _ => Ok(guard(&a.ledger, a.v)),
    }
}

#[test]
fn every_result_is_dropped_exactly_once() {
    quiet_planned_panics();
    for backend in BACKENDS {
        for fail in [0u8, 1, 2] {
            let l = Arc::new(Ledger::default());
            {
                let leaves: Vec<Delayed<Guard>> = (0..64).map(|v| g_leaf(l.clone(), v)).collect();
                // A shared leaf, kept by the test; a tree over clones.
                let kept = leaves[3].clone();
                let mid = g_fail(g_add(&leaves[0], &leaves[1]), fail);
                let mut level: Vec<Delayed<Guard>> = leaves;
                level.push(mid);
                while level.len() > 1 {
                    let mut next = Vec::new();
                    let mut it = level.into_iter();
                    while let Some(a) = it.next() {
                        next.push(match it.next() {
                            Some(b) => g_add(a, b),
                            None => a,
                        });
                    }
                    level = next;
                }
                let root = level.pop().unwrap();
                let r = compute_with(backend, root);
                match fail {
                    0 => assert_eq!(r.map(|g| g.v).unwrap(), (0..64).sum::<i64>() + 1),
                    _ => {
                        let e = r.map(|g| g.v).unwrap_err();
                        assert_eq!(e.function(), "g_fail", "{e}");
                    }
                }
                assert_eq!(kept.compute().map(|g| g.v).unwrap(), 3);
            }
            l.check(&format!("{backend}, failure {fail}"));
        }
    }
}

/// Handles dropped without ever being computed drop their task's inputs
/// (captured plain values) exactly once.
#[test]
fn a_graph_never_computed_drops_its_plain_inputs_once() {
    let l = Arc::new(Ledger::default());
    {
        let a = g_add(guard(&l, 1), guard(&l, 2));
        let b = g_add(&a, guard(&l, 3));
        let _c = g_add(a, b);
    }
    l.check("never computed");
}

#[test]
fn zero_sized_results_with_drop_side_effects() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Zst;
    impl Drop for Zst {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    #[delayed]
    fn zst(_i: u32) -> Zst {
        Zst
    }
    #[delayed]
    fn eat(zs: Vec<Zst>) -> usize {
        zs.len()
    }
    #[delayed]
    fn unit(_i: u32) {}
    assert_eq!(std::mem::size_of::<Zst>(), 0);
    let mut expect = 0;
    for backend in BACKENDS {
        let n = compute_with(backend, eat((0..1000).map(zst).collect::<Vec<_>>())).unwrap();
        assert_eq!(n, 1000);
        expect += 1000;
        assert_eq!(DROPS.load(Ordering::SeqCst), expect, "{backend}");
        let zs = compute_with(backend, (0..10).map(zst).collect::<Vec<_>>()).unwrap();
        assert_eq!(DROPS.load(Ordering::SeqCst), expect);
        drop(zs);
        expect += 10;
        assert_eq!(DROPS.load(Ordering::SeqCst), expect);
        let units = compute_with(backend, (0..100).map(unit).collect::<Vec<_>>()).unwrap();
        assert_eq!(units.len(), 100);
    }
}

// ----- sizes: fan-in, chains, maps, big values --------------------------------

#[test]
fn a_fan_in_of_a_hundred_thousand_inputs() {
    let n = 100_000i64;
    for backend in BACKENDS {
        let parts: Vec<Delayed<i64>> = (0..n).map(inc).collect();
        let total = within(60, "fan-in", move || compute_with(backend, sum(parts)));
        assert_eq!(total.unwrap(), n * (n + 1) / 2);
    }
}

#[test]
fn a_deep_chain_and_a_wide_map() {
    let n = 200_000;
    for backend in BACKENDS {
        let mut x = value(0i64);
        for _ in 0..n {
            x = inc(x);
        }
        let r = within(60, "a deep chain", move || compute_with(backend, x));
        assert_eq!(r.unwrap(), n);
        let wide: Vec<Delayed<i64>> = (0..50_000).map(|i| double(inc(i))).collect();
        let r = within(60, "a wide map", move || compute_with(backend, wide));
        assert_eq!(
            r.unwrap(),
            (0..50_000).map(|i| (i + 1) * 2).collect::<Vec<i64>>()
        );
    }
}

#[test]
fn large_results_shared_between_consumers() {
    #[delayed]
    fn big(seed: u8) -> Vec<u8> {
        (0..8 << 20)
            .map(|i: u32| (i as u8).wrapping_mul(seed))
            .collect()
    }
    #[delayed]
    fn checksum(xs: Vec<u8>) -> u64 {
        xs.iter().map(|&b| b as u64).sum()
    }
    #[delayed]
    fn first_last(xs: Vec<u8>) -> (u8, u8, usize) {
        (xs[0], xs[xs.len() - 1], xs.len())
    }
    let data = big::call(3);
    let serial = (checksum::call(data.clone()), first_last::call(data));
    for backend in BACKENDS {
        let b = big(3);
        let r = compute_with(backend, (checksum(&b), first_last(&b), checksum(b))).unwrap();
        assert_eq!((r.0, r.1), serial);
        assert_eq!(r.2, serial.0);
    }
}

// ----- failures ---------------------------------------------------------------

#[test]
fn a_panic_names_its_task_cancels_dependents_and_the_pool_stays_usable() {
    quiet_planned_panics();
    let after = count();
    #[delayed]
    fn explode(x: i64) -> i64 {
        if x == 13 {
            panic!("tutorial: planned panic at {x}");
        }
        x
    }
    #[delayed]
    fn after_it(x: i64, c: Count) -> i64 {
        c.fetch_add(1, Ordering::SeqCst);
        x
    }
    for backend in BACKENDS {
        let xs: Vec<Delayed<i64>> = (0..20).map(explode).collect();
        let bad = xs[13].key();
        let outs: Vec<Delayed<i64>> = xs.iter().map(|x| after_it(x, after.clone())).collect();
        let total = sum(outs);
        let err = within(30, "a panic", move || compute_with(backend, total)).unwrap_err();
        assert_eq!((err.key(), err.kind()), (bad, FailureKind::Panicked));
        assert_eq!(err.message(), "tutorial: planned panic at 13");
        assert!(err
            .to_string()
            .starts_with(&format!("task `{bad}` panicked: tutorial: planned")));
        // The kept failure is reported again without running anything.
        let again = compute_with(backend, xs).unwrap_err();
        assert_eq!(again.key(), bad);
        // The pool runs the next graph.
        assert_eq!(compute_with(backend, add(inc(1), inc(2))).unwrap(), 5);
    }
    assert!(get(&after) <= 38, "no dependent of the failed task ran");
}

#[test]
fn results_with_error_types_of_every_spelling() {
    #[derive(Debug)]
    struct MyErr(u32);
    impl std::fmt::Display for MyErr {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "my error {}", self.0)
        }
    }
    #[delayed]
    fn typed(x: u32) -> Result<u32, MyErr> {
        if x == 2 {
            Err(MyErr(x))
        } else {
            Ok(x)
        }
    }
    #[delayed]
    fn boxed(x: u32) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
        if x == 2 {
            Err("boxed failure".into())
        } else {
            Ok(x)
        }
    }
    #[delayed]
    fn io_alias(x: u32) -> std::io::Result<u32> {
        if x == 2 {
            Err(std::io::Error::other("io failure"))
        } else {
            Ok(x)
        }
    }
    #[delayed]
    fn add_u(a: u32, b: u32) -> u32 {
        a + b
    }
    for backend in BACKENDS {
        assert_eq!(compute_with(backend, add_u(typed(1), boxed(3))).unwrap(), 4);
        assert_eq!(compute_with(backend, io_alias(5)).unwrap(), 5);
        let t = typed(2);
        let tk = t.key();
        let e = compute_with(backend, add_u(t, 1)).unwrap_err();
        assert_eq!((e.key(), e.message()), (tk, "my error 2"));
        assert_eq!(e.take_error::<MyErr>().map(|m| m.0), Some(2));
        let e = compute_with(backend, boxed(2)).unwrap_err();
        assert_eq!((e.function(), e.message()), ("boxed", "boxed failure"));
        let e = compute_with(backend, io_alias(2)).unwrap_err();
        assert_eq!((e.function(), e.message()), ("io_alias", "io failure"));
    }
}

// ----- the serial backend: fixed order, on the calling thread ----------------

#[test]
fn serial_order_is_fixed_inputs_first_in_argument_order() {
    type Log = Arc<Mutex<Vec<String>>>;
    #[delayed]
    fn note(name: String, log: Log, xs: Vec<u32>) -> u32 {
        log.lock().unwrap().push(name);
        xs.iter().sum::<u32>() + 1
    }
    let run = || {
        let log: Log = Arc::default();
        let me = std::thread::current().id();
        let a = note("a", log.clone(), Vec::<u32>::new());
        let b = note("b", log.clone(), Vec::<u32>::new());
        let c = note("c", log.clone(), vec![b.clone(), a.clone()]);
        let d = note("d", log.clone(), vec![a, b]);
        let e = note("e", log.clone(), vec![c, d]);
        let f = note("f", log.clone(), Vec::<u32>::new());
        let thread = delayed_fn("thread", move |_x: u32| std::thread::current().id() == me);
        let on_me = thread.call(&f);
        let r = compute_with(Backend::Serial, (on_me, e, f)).unwrap();
        let log = log.lock().unwrap().clone();
        (r, log)
    };
    let (r, log) = run();
    assert_eq!(r, (true, 7, 1));
    // The walk: roots in order given (`on_me` then `e` then `f`), each
    // task's inputs in argument order, inputs before consumers.
    assert_eq!(log, ["f", "b", "a", "c", "d", "e"]);
    for _ in 0..5 {
        assert_eq!(run().1, log);
    }
}

// ----- the environment --------------------------------------------------------

/// Run in a child by `environment_variables_choose_backend_and_threads`.
#[test]
#[ignore = "run in a child process with PARALLEL_* set"]
fn env_probe() {
    let me = std::thread::current().id();
    #[delayed]
    fn where_and_how_many(_i: u32) -> (std::thread::ThreadId, usize) {
        (std::thread::current().id(), rayon::current_num_threads())
    }
    let all: Vec<_> = (0..64).map(where_and_how_many).collect();
    let all = compute(all).unwrap();
    let want = std::env::var("PROBE_WANT").unwrap();
    let on_me = all.iter().all(|(t, _)| *t == me);
    let threads = all[0].1;
    let got = format!("on_me={on_me} threads={threads}");
    assert_eq!(got, want);
    let data: Vec<i64> = (0..1000).collect();
    let out: Vec<Delayed<i64>> = data.iter().map(|&x| add(inc(x), double(x))).collect();
    assert_eq!(
        sum(out).compute().unwrap(),
        data.iter().map(|x| 3 * x + 1).sum::<i64>()
    );
    // Computes inside tasks, however few threads the pool has.
    #[delayed]
    fn fib(n: u64) -> u64 {
        if n < 2 {
            n
        } else {
            let (a, b) = compute((fib(n - 1), fib(n - 2))).unwrap();
            a + b
        }
    }
    assert_eq!(
        within(60, "nested computes", || fib(12).compute()).unwrap(),
        144
    );
}

fn probe(envs: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("this test binary: {e}"));
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--ignored", "--exact", "env_probe", "--test-threads=1"]);
    cmd.env_remove("PARALLEL_BACKEND")
        .env_remove("PARALLEL_NUM_THREADS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("the probe child: {e}"))
}

#[test]
fn environment_variables_choose_backend_and_threads() {
    let show = |o: &std::process::Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    for envs in [
        vec![
            ("PARALLEL_BACKEND", "serial"),
            ("PARALLEL_NUM_THREADS", "3"),
            ("PROBE_WANT", "on_me=true threads=3"),
        ],
        vec![
            ("PARALLEL_NUM_THREADS", "1"),
            ("PROBE_WANT", "on_me=false threads=1"),
        ],
        vec![
            ("PARALLEL_NUM_THREADS", "3"),
            ("PROBE_WANT", "on_me=false threads=3"),
        ],
        vec![
            ("PARALLEL_BACKEND", "mpi"),
            ("PARALLEL_NUM_THREADS", "2"),
            ("PROBE_WANT", "on_me=false threads=2"),
        ],
        vec![
            ("PARALLEL_BACKEND", "Threads"),
            ("PARALLEL_NUM_THREADS", "2"),
            ("PROBE_WANT", "on_me=false threads=2"),
        ],
    ] {
        let o = probe(&envs);
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("1 passed"),
            "{envs:?}: {}",
            show(&o)
        );
    }
    // A value that means nothing is refused, naming the variable.
    for envs in [
        vec![("PARALLEL_BACKEND", "gpu"), ("PROBE_WANT", "-")],
        vec![("PARALLEL_NUM_THREADS", "0"), ("PROBE_WANT", "-")],
        vec![("PARALLEL_NUM_THREADS", "two"), ("PROBE_WANT", "-")],
    ] {
        let o = probe(&envs);
        let text = show(&o);
        assert!(!o.status.success(), "{envs:?}: {text}");
        assert!(text.contains(envs[0].0), "{envs:?} is not named: {text}");
    }
}

// ----- recursion, and user code that panics inside the runtime's work --------

/// Recursive Fibonacci whose every call computes its two halves as a
/// graph, inside a task (the anti-pattern Dask's docs warn of, which must
/// still be right): equal to the plain recursion, on both backends.
#[test]
fn recursive_fibonacci_with_a_compute_in_every_task() {
    #[delayed]
    fn fib(n: u64) -> u64 {
        if n < 2 {
            n
        } else {
            let (a, b) = compute((fib(n - 1), fib(n - 2))).unwrap();
            a + b
        }
    }
    fn plain(n: u64) -> u64 {
        if n < 2 {
            n
        } else {
            plain(n - 1) + plain(n - 2)
        }
    }
    for backend in BACKENDS {
        let r = within(60, "recursive fib", move || compute_with(backend, fib(17)));
        assert_eq!(r.unwrap(), plain(17), "{backend}");
    }
}

/// A result whose `Clone` panics (when armed). Consumers of a shared
/// result get clones made by the runtime: the panic must fail a task or
/// the compute, naming it, and leave the handles computable afterwards
/// (not `Busy` forever), with every value dropped once.
#[derive(Debug)]
struct Fragile {
    v: i64,
    armed: Arc<AtomicUsize>,
    live: Arc<AtomicUsize>,
}

impl Fragile {
    fn new(v: i64, armed: &Arc<AtomicUsize>, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Fragile {
            v,
            armed: armed.clone(),
            live: live.clone(),
        }
    }
}

impl Clone for Fragile {
    fn clone(&self) -> Self {
        if self.armed.load(Ordering::SeqCst) == 1 {
            panic!("tutorial: planned panic in clone of {}", self.v);
        }
        Fragile::new(self.v, &self.armed, &self.live)
    }
}

impl Drop for Fragile {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[delayed]
fn fragile(v: i64, armed: Arc<AtomicUsize>, live: Arc<AtomicUsize>) -> Fragile {
    Fragile::new(v, &armed, &live)
}

#[delayed]
fn fragile_v(f: Fragile) -> i64 {
    f.v
}

#[test]
fn a_clone_that_panics_in_a_consumer_fails_a_task_and_nothing_sticks() {
    quiet_planned_panics();
    for backend in BACKENDS {
        let armed = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(AtomicUsize::new(0));
        {
            let f = fragile(7, armed.clone(), live.clone());
            let outs: Vec<Delayed<i64>> = (0..4).map(|_| fragile_v(&f)).collect();
            // Cloned handles exist now; arm the value's clone.
            armed.store(1, Ordering::SeqCst);
            let r = within(30, "clone panics in consumers", move || {
                compute_with(backend, sum(outs))
            });
            let err = r.unwrap_err();
            assert_eq!(err.kind(), FailureKind::Panicked, "{err}");
            assert!(
                err.message().contains("planned panic in clone of 7"),
                "{err}"
            );
            armed.store(0, Ordering::SeqCst);
            // The kept handle is still there to compute.
            let again = within(30, "the kept handle after", move || {
                compute_with(backend, f)
            });
            assert_eq!(again.map(|f| f.v).unwrap(), 7, "{backend}");
        }
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "{backend}: values leaked or double-dropped"
        );
    }
}

/// The same, where the clone is the one `compute` makes to return a kept
/// result on the calling thread. Regression: the panic went through
/// `compute` and left every node of the graph claimed, so that each later
/// compute of these handles said `Busy` ("another `compute` is running
/// this task") forever. Now it is the root's failure, named.
#[test]
fn a_clone_that_panics_when_returning_a_kept_result_leaves_nothing_claimed() {
    quiet_planned_panics();
    for backend in BACKENDS {
        let armed = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(AtomicUsize::new(0));
        {
            let f = fragile(9, armed.clone(), live.clone());
            let key = f.key();
            let g = fragile_v(&f);
            assert_eq!(compute_with(backend, g).unwrap(), 9);
            armed.store(1, Ordering::SeqCst);
            // Cloning the handle clones no value; `compute` clones the
            // kept value to return it.
            let err = compute_with(backend, (inc(1), f.clone())).unwrap_err();
            assert_eq!(
                (err.key(), err.kind()),
                (key, FailureKind::Panicked),
                "{err}"
            );
            assert_eq!(err.message(), "tutorial: planned panic in clone of 9");
            assert!(err.take_panic().is_some());
            armed.store(0, Ordering::SeqCst);
            let again = within(30, "the handle after", move || compute_with(backend, f));
            match again {
                Ok(v) => assert_eq!(v.v, 9),
                Err(e) => panic!("{backend}: the handle is unusable after a panicking clone: {e}"),
            }
        }
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "{backend}: values leaked or double-dropped"
        );
    }
}

// ----- handles that travel through results; odd payloads ---------------------

/// A task returns the handle it was given (a task of the same graph): the
/// handle's task runs once, and computing the returned handle afterwards
/// gives its kept value.
#[test]
fn a_handle_returned_through_a_task_result() {
    let runs = count();
    #[delayed]
    fn counted(x: i64, runs: Count) -> i64 {
        runs.fetch_add(1, Ordering::SeqCst);
        x + 1
    }
    #[delayed]
    fn pass_on(d: Delayed<i64>) -> Delayed<i64> {
        d
    }
    for backend in BACKENDS {
        let before = get(&runs);
        let a = counted(1, runs.clone());
        let b = pass_on(a.clone());
        let c = add(&a, 5);
        drop(a);
        let (handle, c) = compute_with(backend, (b, c)).unwrap();
        assert_eq!(c, 7);
        assert_eq!(compute_with(backend, handle).unwrap(), 2);
        assert_eq!(get(&runs), before + 1, "{backend}");
    }
}

#[test]
fn odd_panic_payloads_and_error_displays_that_panic() {
    quiet_planned_panics();
    #[delayed]
    fn any_payload(x: u32) -> u32 {
        std::panic::panic_any(x)
    }
    struct Bad;
    impl std::fmt::Display for Bad {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("tutorial: planned panic in Display")
        }
    }
    #[delayed]
    fn bad_display(_x: u32) -> Result<u32, Bad> {
        Err(Bad)
    }
    for backend in BACKENDS {
        let a = any_payload(41);
        let key = a.key();
        let e = within(30, "a non-string payload", move || compute_with(backend, a)).unwrap_err();
        assert_eq!((e.key(), e.kind()), (key, FailureKind::Panicked));
        let p = e.take_panic().expect("the payload");
        assert_eq!(p.downcast_ref::<u32>(), Some(&41));
        let b = bad_display(1);
        let key = b.key();
        let e = within(30, "an error whose Display panics", move || {
            compute_with(backend, b)
        })
        .unwrap_err();
        assert_eq!(e.key(), key, "{e}");
        assert!(e.message().contains("planned panic in Display"), "{e}");
    }
}

/// One result read by a hundred thousand consumers (each gets a clone,
/// the last the value): all equal to the loop.
#[test]
fn a_fan_out_of_a_hundred_thousand_consumers() {
    #[delayed]
    fn seed() -> Vec<u8> {
        vec![1, 2, 3]
    }
    #[delayed]
    fn weigh(xs: Vec<u8>, k: u64) -> u64 {
        xs.iter().map(|&x| x as u64).sum::<u64>() * k
    }
    for backend in BACKENDS {
        let s = seed();
        let outs: Vec<Delayed<u64>> = (0..100_000).map(|k| weigh(&s, k)).collect();
        drop(s);
        let r = within(60, "a fan-out", move || compute_with(backend, outs)).unwrap();
        assert_eq!(r, (0..100_000).map(|k| 6 * k).collect::<Vec<u64>>());
    }
}

#[test]
fn nested_shapes_of_results() {
    for backend in BACKENDS {
        let pairs: Vec<(Delayed<i64>, Delayed<i64>)> =
            (0..50).map(|i| (inc(i), double(i))).collect();
        let eight = (
            inc(0),
            inc(1),
            inc(2),
            inc(3),
            inc(4),
            inc(5),
            inc(6),
            vec![(inc(7),)],
        );
        let (p, e) = compute_with(backend, (pairs, eight)).unwrap();
        assert_eq!(p, (0..50).map(|i| (i + 1, i * 2)).collect::<Vec<_>>());
        assert_eq!(e, (1, 2, 3, 4, 5, 6, 7, vec![(8,)]));
    }
}

#[test]
fn renamed_tasks_name_their_failures() {
    #[delayed(name = "load")]
    fn read_part(i: u32) -> Result<u32, String> {
        if i == 3 {
            Err(format!("part {i} is corrupt"))
        } else {
            Ok(i)
        }
    }
    #[delayed]
    fn total_u(xs: Vec<u32>) -> u32 {
        xs.iter().sum()
    }
    for backend in BACKENDS {
        let parts: Vec<Delayed<u32>> = (0..6).map(read_part).collect();
        let bad = parts[3].key();
        assert!(bad.to_string().starts_with("load-"), "{bad}");
        let e = compute_with(backend, total_u(parts)).unwrap_err();
        let head = format!("task `{bad}` returned an error: part 3 is corrupt (");
        assert!(e.to_string().starts_with(&head), "{e}");
        assert_eq!((e.function(), e.key()), ("load", bad));
    }
}

// ----- signatures a port writes -----------------------------------------------

/// Regression: a `&'static str` parameter or result (labels, names) did
/// not compile ("implementation of `Deserialize` is not general enough",
/// at the attribute): the macro probed it for serde.
#[delayed]
fn labelled(name: &'static str, parts: Vec<&'static [u8]>) -> usize {
    name.len() + parts.iter().map(|p| p.len()).sum::<usize>()
}

#[delayed]
fn label_of(i: usize) -> Result<&'static str, String> {
    ["zero", "one"]
        .get(i)
        .copied()
        .ok_or_else(|| format!("no label {i}"))
}

/// Regression: parameters named like the macro's own variables
/// (`__deps`, `__inputs`) did not compile.
#[delayed]
fn clashing(__deps: i64, __inputs: i64) -> i64 {
    __deps * 10 + __inputs
}

/// Regression: a `()` parameter (the result of a task run for its effect,
/// as an ordering edge) made clippy's `let_unit_value` fire in the
/// macro's code, where the user cannot silence it.
#[delayed]
fn after_effect(_done: (), x: i64) -> i64 {
    x
}

/// Patterns and `_` as parameters.
#[delayed]
fn patterned((a, b): (i64, i64), _: u8, mut c: Vec<i64>) -> i64 {
    c.push(a * b);
    c.iter().sum()
}

#[test]
fn signatures_with_static_borrows_patterns_and_odd_names() {
    for backend in BACKENDS {
        let n = labelled(label_of(1), vec![&b"ab"[..], &b"c"[..]]);
        assert_eq!(compute_with(backend, n).unwrap(), 3 + 3);
        let bad = label_of(7);
        let key = bad.key();
        let e = compute_with(backend, labelled(bad, Vec::<&'static [u8]>::new())).unwrap_err();
        assert_eq!((e.key(), e.message()), (key, "no label 7"));
        assert_eq!(compute_with(backend, clashing(inc(1), 3)).unwrap(), 23);
        let p = patterned((3, 4), 0, vec![inc(0), inc(1)]);
        assert_eq!(compute_with(backend, p).unwrap(), 15);
        assert_eq!(patterned::call((3, 4), 0, vec![1, 2]), 15);
        let effect = delayed_fn("effect", |_x: i64| ()).call(inc(1));
        assert_eq!(compute_with(backend, after_effect(effect, 5)).unwrap(), 5);
    }
}

/// A plain input whose destructor panics (when armed), held by a task that
/// is cancelled (its other input failed) or skipped: the runtime drops it,
/// outside any task. The compute must end (an error or a panic), never
/// hang, and the handles of its graph must stay computable afterwards.
#[test]
fn a_cancelled_task_whose_input_panics_when_dropped() {
    quiet_planned_panics();
    struct Mine(bool);
    impl Drop for Mine {
        fn drop(&mut self) {
            if self.0 {
                panic!("tutorial: planned panic in a drop");
            }
        }
    }
    #[delayed]
    fn fails(x: i64) -> i64 {
        panic!("tutorial: planned panic at {x}")
    }
    #[delayed]
    fn holds(_m: Mine, x: i64) -> i64 {
        x
    }
    for backend in BACKENDS {
        let sibling = inc(41);
        let bad = fails(1);
        let held = holds(Mine(true), &bad);
        let top = add(&sibling, held);
        let ended = within(30, "a panicking drop", move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compute_with(backend, top)))
        });
        match ended {
            Ok(Err(e)) => assert_eq!(e.function(), "fails", "{e}"),
            Ok(Ok(v)) => panic!("{backend}: a failed graph returned {v}"),
            Err(_) => {} // the drop's panic reached the caller
        }
        let s = within(30, "the sibling after", move || {
            compute_with(backend, sibling)
        });
        assert_eq!(s.unwrap(), 42, "{backend}: a handle of the graph is stuck");
        let b = within(30, "the failed task after", move || {
            compute_with(backend, bad)
        });
        assert_eq!(b.unwrap_err().function(), "fails", "{backend}");
        assert_eq!(compute_with(backend, inc(inc(1))).unwrap(), 3);
    }
}

/// On the serial backend a failure is reproducible exactly: the tasks
/// before it in the walk ran, every later one was cancelled or skipped,
/// and the message counts them.
#[test]
fn serial_failures_are_exact() {
    quiet_planned_panics();
    let ran: Count = count();
    #[delayed]
    fn step(i: i64, ran: Count) -> Result<i64, String> {
        ran.fetch_add(1, Ordering::SeqCst);
        if i == 13 {
            Err(format!("step {i} failed"))
        } else {
            Ok(i)
        }
    }
    #[delayed]
    fn then(x: i64, ran: Count) -> i64 {
        ran.fetch_add(1, Ordering::SeqCst);
        x
    }
    for _ in 0..3 {
        ran.store(0, Ordering::SeqCst);
        let outs: Vec<Delayed<i64>> = (0..20)
            .map(|i| then(step(i, ran.clone()), ran.clone()))
            .collect();
        let e = compute_with(Backend::Serial, sum(outs)).unwrap_err();
        // Walk: step-0, then-0, …, step-13 fails; then-13, steps and thens
        // 14..19 and the sum are not run.
        assert_eq!(get(&ran), 2 * 13 + 1);
        assert_eq!(e.cancelled(), 1 + 2 * 6 + 1, "{e}");
        assert!(
            e.to_string()
                .ends_with(": step 13 failed (14 other tasks cancelled)"),
            "{e}"
        );
    }
    let lone = step(13, ran.clone());
    let e = compute_with(Backend::Serial, lone).unwrap_err();
    assert!(
        e.to_string().ends_with("returned an error: step 13 failed"),
        "{e}"
    );
}

#[test]
fn a_chain_of_a_million_incs() {
    for backend in BACKENDS {
        let t = std::time::Instant::now();
        let mut x = value(0i64);
        for _ in 0..1_000_000 {
            x = inc(x);
        }
        let r = within(120, "a million-task chain", move || {
            compute_with(backend, x)
        });
        assert_eq!(r.unwrap(), 1_000_000);
        eprintln!("{backend}: a million-task chain in {:?}", t.elapsed());
    }
}

/// Graphs built on several threads at once get distinct keys, and each
/// thread's graph computes to its loop's result.
#[test]
fn graphs_built_on_several_threads_have_distinct_keys() {
    let handles: Vec<_> = (0..4i64)
        .map(|t| {
            std::thread::spawn(move || {
                let parts: Vec<Delayed<i64>> = (0..2000).map(|i| inc(i * t)).collect();
                let keys: Vec<String> = parts.iter().map(|p| p.key().to_string()).collect();
                (keys, sum(parts).compute().unwrap())
            })
        })
        .collect();
    let mut all = std::collections::BTreeSet::new();
    for (t, h) in handles.into_iter().enumerate() {
        let (keys, total) = h.join().unwrap();
        assert_eq!(total, (0..2000).map(|i| i * t as i64 + 1).sum::<i64>());
        for k in keys {
            assert!(all.insert(k.clone()), "the key {k} was given twice");
        }
    }
    assert_eq!(all.len(), 8000);
}

/// A result that is `Send` but not `Sync` (a `Cell`) moves from task to
/// task (sharing it with `&` would not compile).
#[test]
fn results_that_are_send_but_not_sync() {
    #[delayed]
    fn make_cell(x: i64) -> std::cell::Cell<i64> {
        std::cell::Cell::new(x)
    }
    #[delayed]
    fn bump(c: std::cell::Cell<i64>) -> std::cell::Cell<i64> {
        c.set(c.get() + 1);
        c
    }
    for backend in BACKENDS {
        let cells: Vec<Delayed<std::cell::Cell<i64>>> =
            (0..100).map(|i| bump(bump(make_cell(i)))).collect();
        let r = compute_with(backend, cells).unwrap();
        assert_eq!(
            r.iter().map(|c| c.get()).collect::<Vec<_>>(),
            (2..102).collect::<Vec<i64>>()
        );
    }
}

/// "Drop the handle and the result goes with it": a kept result lives
/// exactly as long as a handle or an uncomputed consumer needs it.
#[test]
fn a_kept_result_lives_exactly_as_long_as_something_needs_it() {
    for backend in BACKENDS {
        let l = Arc::new(Ledger::default());
        let a = g_leaf(l.clone(), 5);
        let b = g_add(&a, guard(&l, 1)); // its plain input: one value
        let c = g_add(&a, guard(&l, 2));
        assert_eq!(l.alive(), 2, "{backend}: the plain inputs");
        let vb = compute_with(backend, b).unwrap();
        assert_eq!(vb.v, 6);
        // a's value is kept (for `a` and `c`); b's inputs are gone.
        assert_eq!(
            l.alive(),
            1 + 1 + 1,
            "{backend}: a's value, c's input, b's result"
        );
        drop(vb);
        drop(a);
        assert_eq!(l.alive(), 2, "{backend}: `c` still needs a's value");
        let vc = compute_with(backend, c).unwrap();
        assert_eq!(vc.v, 7);
        assert_eq!(l.alive(), 1, "{backend}: only c's result is left");
        drop(vc);
        l.check(&format!("{backend}"));
    }
}
