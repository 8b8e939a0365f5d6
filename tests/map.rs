//! Behaviour of `#[parallel_map]`: order, shared arguments, schedules,
//! backends, errors and panics that name the item, deterministic reduction.

use std::sync::atomic::{AtomicUsize, Ordering};

use parallel_runtime::prelude::*;

struct Model {
    scale: f64,
}

#[parallel_map]
fn simulate(p: &f64, model: &Model, seed: u64) -> f64 {
    p * model.scale + seed as f64
}

#[parallel_map]
fn plus_one(x: u64) -> u64 {
    x + 1
}

#[test]
fn plain_function_still_works() {
    assert_eq!(plus_one(41), 42);
    assert_eq!(simulate(&2.0, &Model { scale: 3.0 }, 1), 7.0);
}

#[test]
fn map_returns_results_in_input_order() {
    let params: Vec<f64> = (0..10_000).map(f64::from).collect();
    let model = Model { scale: 2.0 };
    let all = simulate::map(&params, &model, 7);
    let serial: Vec<f64> = params.iter().map(|p| simulate(p, &model, 7)).collect();
    assert_eq!(all, serial);
}

#[test]
fn map_accepts_vec_slice_range_array_and_iterators() {
    let v: Vec<u64> = (0..100).collect();
    let expect: Vec<u64> = (1..101).collect();
    assert_eq!(plus_one::map(v.clone()), expect);
    assert_eq!(plus_one::map(0..100u64), expect);
    assert_eq!(plus_one::map(0..=99u64), expect);
    assert_eq!(plus_one::map(v.iter().copied()), expect);
    assert_eq!(plus_one::map(v.iter().map(|x| x * 2 / 2)), expect);
    assert_eq!(plus_one::map([1u64, 2, 3]), vec![2, 3, 4]);
    assert_eq!(
        plus_one::map(items(std::iter::repeat_n(5u64, 3))),
        vec![6, 6, 6]
    );
    assert!(plus_one::map(Vec::new()).is_empty());
    let params = [1.0, 2.0];
    let model = Model { scale: 1.0 };
    assert_eq!(simulate::map(&params[..], &model, 0), vec![1.0, 2.0]);
    assert_eq!(simulate::map(params.iter(), &model, 0), vec![1.0, 2.0]);
}

#[test]
fn signed_ranges_cover_every_value() {
    #[parallel_map]
    fn id(x: i8) -> i8 {
        x
    }
    assert_eq!(id::map(-128i8..=127), (-128i8..=127).collect::<Vec<_>>());
    assert_eq!(id::map(-5i8..5), (-5i8..5).collect::<Vec<_>>());
    let (hi, lo) = (5i8, -5i8);
    assert!(id::map(hi..lo).is_empty());
}

#[test]
fn every_schedule_and_chunk_size_gives_the_same_answer() {
    let expect: Vec<u64> = (1..=1000).collect();
    for schedule in [Schedule::Static, Schedule::Dynamic, Schedule::Guided] {
        for chunk in [None, Some(1), Some(7), Some(5000)] {
            let mut o = MapOptions::new().schedule(schedule);
            if let Some(c) = chunk {
                o = o.chunk_size(c);
            }
            assert_eq!(
                plus_one::map_with(&o, 0..1000u64),
                expect,
                "{schedule:?} {chunk:?}"
            );
        }
    }
}

#[test]
fn serial_backend_runs_on_the_calling_thread_in_order() {
    #[parallel_map]
    fn who(i: usize) -> (usize, std::thread::ThreadId) {
        (i, std::thread::current().id())
    }
    let o = MapOptions::new().backend(Backend::Serial);
    let out = who::map_with(&o, 0..50usize);
    let me = std::thread::current().id();
    assert!(out.iter().all(|(_, t)| *t == me));
    assert_eq!(
        out.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
}

#[test]
fn threads_backend_uses_the_pool() {
    if parallel_tests::backend_forced_away_from("threads_backend_uses_the_pool", &["threads"]) {
        return;
    }
    #[parallel_map(schedule = "dynamic")]
    fn name(_i: usize) -> Option<String> {
        std::thread::sleep(std::time::Duration::from_millis(1));
        std::thread::current().name().map(str::to_owned)
    }
    let names = name::map(0..20usize);
    assert!(
        names.iter().all(|n| n
            .as_deref()
            .is_some_and(|n| n.starts_with("parallel-worker-"))),
        "{names:?}"
    );
}

#[test]
fn shared_by_value_arguments_are_cloned_per_call() {
    #[parallel_map]
    fn tag(i: u32, label: String) -> String {
        format!("{label}{i}")
    }
    assert_eq!(tag::map(0..3u32, "x".to_string()), ["x0", "x1", "x2"]);
}

#[test]
fn try_map_returns_ok_values_or_names_the_failing_item() {
    #[parallel_map]
    fn checked(x: i64) -> Result<i64, String> {
        if x == 37 {
            Err(format!("bad input {x}"))
        } else {
            Ok(2 * x)
        }
    }
    assert_eq!(
        checked::try_map(0..10i64),
        Ok((0..10).map(|x| 2 * x).collect())
    );
    for backend in [Backend::Serial, Backend::Threads] {
        let err =
            checked::try_map_with(&MapOptions::new().backend(backend), 0..1000i64).unwrap_err();
        assert_eq!(err.index(), 37);
        assert_eq!(err.function(), "checked");
        assert_eq!(err.to_string(), "checked: item 37 failed: bad input 37");
    }
}

#[test]
fn try_map_reports_the_lowest_failing_index_it_saw() {
    // Item 600 fails first (about 100 ms in), item 1 later (200 ms in, but
    // it started at once, so it is not skipped): the lower index is reported,
    // not the first failure in time.
    #[parallel_map(schedule = "static")]
    fn two_fail(x: u32) -> Result<u32, u32> {
        let ms = |n| std::thread::sleep(std::time::Duration::from_millis(n));
        match x {
            1 => {
                ms(200);
                Err(1)
            }
            600 => Err(600),
            500..600 => {
                ms(1);
                Ok(x)
            }
            _ => Ok(x),
        }
    }
    let e = two_fail::try_map(0..1000u32).unwrap_err();
    assert_eq!((e.index(), *e.error()), (1, 1));
}

/// Item 3 fails with `Err` after 100 ms; item 5 panics at once (on another
/// thread, so before item 3's failure is seen), item 1 panics in the
/// second call.
#[parallel_map(schedule = "dynamic")]
fn err_then_panic(x: u64, panics_too: &u64) -> Result<u64, String> {
    if x == 3 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        return Err("three".into());
    }
    assert!(x != *panics_too, "item {x} panics");
    Ok(x)
}

/// The first failure in input order wins, whether an `Err` or a panic, as
/// in the serial loop: an item after the `Err` that had started and
/// panicked made `try_map` panic (`item 5 panicked`), where the serial
/// loop returns the `Err` of item 3 and never runs item 5.
#[test]
fn try_map_an_err_before_a_panic_wins_as_in_the_serial_loop() {
    for backend in [Backend::Serial, Backend::Threads] {
        let o = MapOptions::new().backend(backend);
        let e = err_then_panic::try_map_with(&o, 0..8u64, &5).unwrap_err();
        assert_eq!((e.index(), e.error().as_str()), (3, "three"), "{backend:?}");
        let f = map_fn("f", |x: u64| err_then_panic(x, &5)).options(o);
        assert_eq!(f.try_map(0..8u64).unwrap_err().index(), 3, "{backend:?}");
        // A panic before the `Err` wins.
        let caught = std::panic::catch_unwind(|| err_then_panic::try_map_with(&o, 0..8u64, &1));
        let p = caught.unwrap_err().downcast::<ItemPanic>().unwrap();
        assert_eq!(p.index(), 1, "{backend:?}");
    }
}

#[test]
fn try_map_stops_handing_out_work_after_a_failure() {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    #[parallel_map(schedule = "dynamic")]
    fn fail_first(x: usize) -> Result<usize, String> {
        STARTED.fetch_add(1, Ordering::SeqCst);
        if x == 0 {
            return Err("first item fails".into());
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
        Ok(x)
    }
    let n = 20_000;
    assert!(fail_first::try_map(0..n).is_err());
    let started = STARTED.load(Ordering::SeqCst);
    assert!(
        started < n / 2,
        "{started} of {n} items started after the first failed"
    );
}

#[test]
fn try_map_works_through_result_aliases() {
    #[parallel_map]
    fn read(x: u8) -> std::io::Result<u8> {
        if x != 3 {
            Ok(x)
        } else {
            Err(std::io::Error::other("too big"))
        }
    }
    assert_eq!(read::try_map(0..3u8).unwrap(), vec![0, 1, 2]);
    let e = read::try_map(0..50u8).unwrap_err();
    assert_eq!(e.index(), 3);
    assert!(std::error::Error::source(&e).is_some());
}

/// The `ItemPanic` a map raised, with its function, index and line.
fn item_panic(p: Box<dyn std::any::Any + Send>) -> ItemPanic {
    match p.downcast::<ItemPanic>() {
        Ok(p) => *p,
        Err(other) => panic!(
            "the map raised something else than an ItemPanic: {:?}",
            other
                .downcast_ref::<String>()
                .map(String::as_str)
                .or(other.downcast_ref::<&str>().copied())
        ),
    }
}

#[parallel_map]
fn explode_at_13(x: u32) -> u32 {
    assert!(x != 13, "cannot handle {x}");
    x
}

#[test]
fn a_panicking_item_is_reported_with_function_and_index() {
    for backend in [Backend::Serial, Backend::Threads] {
        let o = MapOptions::new().backend(backend);
        let p = std::panic::catch_unwind(|| explode_at_13::map_with(&o, 0..100u32)).unwrap_err();
        let p = item_panic(p);
        assert_eq!((p.function(), p.index()), ("explode_at_13", 13));
        assert_eq!(p.message(), Some("cannot handle 13"), "{backend:?}");
        assert_eq!(
            p.to_string(),
            "explode_at_13: item 13 panicked: cannot handle 13",
            "{backend:?}"
        );
    }
    // The pool is still usable afterwards.
    assert_eq!(explode_at_13::map(0..5u32), vec![0, 1, 2, 3, 4]);
    let p =
        std::panic::catch_unwind(|| explode_at_13::reduce(0..100u32, 0, |a, b| a + b)).unwrap_err();
    assert_eq!(
        item_panic(p).to_string(),
        "explode_at_13: item 13 panicked: cannot handle 13"
    );
}

#[test]
fn the_lowest_panicking_index_is_reported() {
    #[parallel_map(schedule = "dynamic")]
    fn all_fail_from_500(x: u32) -> u32 {
        assert!(x < 500, "x = {x}");
        x
    }
    for backend in [Backend::Serial, Backend::Threads] {
        let p = std::panic::catch_unwind(|| {
            all_fail_from_500::map_with(&MapOptions::new().backend(backend), 0..1000u32)
        })
        .unwrap_err();
        assert_eq!(
            item_panic(p).to_string(),
            "all_fail_from_500: item 500 panicked: x = 500"
        );
    }
}

#[derive(Debug, PartialEq)]
struct MyErr(u32);

#[test]
fn a_non_string_payload_reaches_the_caller() {
    #[parallel_map]
    fn typed(x: u32) -> u32 {
        if x == 42 {
            std::panic::panic_any(MyErr(x));
        }
        x
    }
    for backend in [Backend::Serial, Backend::Threads] {
        let o = MapOptions::new().backend(backend);
        let p =
            item_panic(std::panic::catch_unwind(|| typed::map_with(&o, 0..100u32)).unwrap_err());
        assert_eq!(p.index(), 42);
        assert_eq!(p.message(), None);
        assert_eq!(p.downcast_ref::<MyErr>(), Some(&MyErr(42)), "{backend:?}");
        assert_eq!(
            p.to_string(),
            "typed: item 42 panicked: <non-string panic payload>"
        );
        let p = item_panic(
            std::panic::catch_unwind(|| typed::reduce_with(&o, 0..100u32, 0, |a, b| a + b))
                .unwrap_err(),
        );
        let payload = p.into_payload();
        assert_eq!(payload.downcast_ref::<MyErr>(), Some(&MyErr(42)));
    }
}

/// A payload whose destructor panics: the runtime must never drop it while
/// it raises its own panic (that aborts the process).
struct Bomb(u32);

static BOMBS_DEFUSED: AtomicUsize = AtomicUsize::new(0);

impl Drop for Bomb {
    fn drop(&mut self) {
        BOMBS_DEFUSED.fetch_add(1, Ordering::SeqCst);
        panic!("bomb {} went off while being dropped", self.0);
    }
}

#[test]
fn a_payload_that_panics_on_drop_does_not_abort() {
    #[parallel_map]
    fn bomb(x: u32) -> u32 {
        if x % 10 == 3 {
            // Several items panic: all but the lowest are dropped inside.
            std::panic::panic_any(Bomb(x));
        }
        x
    }
    for backend in [Backend::Serial, Backend::Threads] {
        let o = MapOptions::new().backend(backend);
        let p = item_panic(std::panic::catch_unwind(|| bomb::map_with(&o, 0..100u32)).unwrap_err());
        assert_eq!(p.index(), 3, "{backend:?}");
        assert_eq!(p.downcast_ref::<Bomb>().map(|b| b.0), Some(3));
        // The caller owns it now; dropping it is the caller's panic.
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(p)));
        assert!(dropped.is_err());
    }
    assert!(BOMBS_DEFUSED.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_panic_in_a_nested_map_keeps_both_indices() {
    #[parallel_map]
    fn inner(x: u32) -> u32 {
        if x == 5 {
            std::panic::panic_any(MyErr(5));
        }
        x
    }
    #[parallel_map]
    fn outer(x: u32) -> u32 {
        if x == 3 {
            inner::map(0..10u32).into_iter().sum()
        } else {
            x
        }
    }
    let p = item_panic(std::panic::catch_unwind(|| outer::map(0..8u32)).unwrap_err());
    assert_eq!(p.index(), 3);
    assert_eq!(
        p.to_string(),
        "outer: item 3 panicked: inner: item 5 panicked: <non-string panic payload>"
    );
    let inner = p
        .downcast_ref::<ItemPanic>()
        .expect("the inner map's panic");
    assert_eq!((inner.function(), inner.index()), ("inner", 5));
    assert_eq!(inner.downcast_ref::<MyErr>(), Some(&MyErr(5)));
}

#[test]
fn nested_maps_ten_thousand_deep_do_not_overflow() {
    #[parallel_map]
    fn nest(depth: u32) -> u32 {
        if depth == 0 {
            0
        } else {
            nest::map(vec![depth - 1])[0] + 1
        }
    }
    assert_eq!(nest::map(vec![10_000u32]), vec![10_000]);
    // Through reduce too, on the serial backend (the calling thread).
    #[parallel_map]
    fn nest_reduce(depth: u32) -> u64 {
        if depth == 0 {
            1
        } else {
            let o = MapOptions::new().backend(Backend::Serial);
            nest_reduce::reduce_with(&o, [depth - 1], 0, |a, b| a + b) + 1
        }
    }
    assert_eq!(nest_reduce::map(vec![10_000u32]), vec![10_001]);
}

/// The items of every chunk a trace recorded for `name`, in input order.
fn traced_pieces(name: &str, run: impl FnOnce()) -> Vec<(u64, u64, u64)> {
    static TRACE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = TRACE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let path = std::env::temp_dir().join(format!("map-pieces-{name}-{}.json", std::process::id()));
    let guard = parallel_runtime::trace::start(&path).expect("trace file");
    run();
    drop(guard);
    let events = parallel_runtime::trace::read(&path).expect("trace");
    let _ = std::fs::remove_file(&path);
    let arg = |e: &parallel_runtime::trace::Event, k: &str| {
        e.args.get(k).and_then(|v| v.as_u64()).unwrap_or(u64::MAX)
    };
    let mut pieces: Vec<(u64, u64, u64)> = events
        .iter()
        .filter(|e| e.name == name && e.cat == "map")
        .map(|e| (arg(e, "first_item"), arg(e, "last_item"), arg(e, "items")))
        .collect();
    pieces.sort();
    pieces
}

#[test]
fn dynamic_and_static_pieces_hold_exactly_chunk_size_items() {
    if parallel_tests::backend_forced_away_from(
        "dynamic_and_static_pieces_hold_exactly_chunk_size_items",
        &["threads"],
    ) {
        return;
    }
    #[parallel_map]
    fn piece_probe(x: u32) -> u32 {
        x
    }
    for schedule in [Schedule::Dynamic, Schedule::Static] {
        let o = MapOptions::new().schedule(schedule).chunk_size(100);
        let pieces = traced_pieces("piece_probe", || {
            assert_eq!(
                piece_probe::map_with(&o, 0..10_050u32),
                (0..10_050).collect::<Vec<_>>()
            );
        });
        assert_eq!(pieces.len(), 101, "{schedule:?}: {pieces:?}");
        for (k, &(first, last, items)) in pieces.iter().enumerate() {
            let k = k as u64;
            let want = if k == 100 { 50 } else { 100 };
            assert_eq!(
                (first, last, items),
                (100 * k, 100 * k + want - 1, want),
                "{schedule:?} piece {k}"
            );
        }
    }
    // Dynamic without a chunk size: one item per piece.
    let o = MapOptions::new().schedule(Schedule::Dynamic);
    let pieces = traced_pieces("piece_probe", || {
        piece_probe::map_with(&o, 0..300u32);
    });
    assert_eq!(pieces.len(), 300);
    assert!(pieces.iter().all(|p| p.2 == 1));
}

#[parallel_map]
fn noisy(x: &f64) -> f64 {
    // Values of very different magnitudes, so the grouping of additions shows in the bits.
    x.sin() * 1e10_f64.powf(x.cos())
}

#[test]
fn reduce_is_bitwise_reproducible_across_threads_schedules_and_backends() {
    let xs: Vec<f64> = (0..100_003).map(|i| i as f64 * 0.37).collect();
    let reference = noisy::reduce_with(
        &MapOptions::new().backend(Backend::Serial),
        &xs,
        0.0,
        |a, b| a + b,
    );
    // The plain left fold groups differently: the test would notice a change of tree.
    let naive: f64 = xs.iter().map(noisy).sum();
    assert_ne!(
        reference.to_bits(),
        naive.to_bits(),
        "input too tame to show grouping"
    );
    for threads in [1, 2, 3, 4, 7] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for schedule in [Schedule::Static, Schedule::Dynamic, Schedule::Guided] {
            let o = MapOptions::new().schedule(schedule).chunk_size(333);
            let got = pool.install(|| noisy::reduce_with(&o, &xs, 0.0, |a, b| a + b));
            assert_eq!(
                got.to_bits(),
                reference.to_bits(),
                "{threads} threads, {schedule:?}"
            );
        }
    }
}

#[test]
fn reduce_of_nothing_is_the_identity() {
    assert_eq!(plus_one::reduce(0..0u64, 17, |a, b| a + b), 17);
    assert_eq!(plus_one::reduce(0..10u64, 0, |a, b| a + b), 55);
}

#[test]
fn results_can_borrow_from_items() {
    #[parallel_map]
    fn first_word(s: &str) -> &str {
        s.split(' ').next().unwrap_or("")
    }
    let lines = ["hello world", "good bye"];
    assert_eq!(
        first_word::map(lines.iter().copied()),
        vec!["hello", "good"]
    );
}

#[test]
fn per_item_mutable_borrows_update_in_place() {
    #[parallel_map]
    fn bump(x: &mut u32, by: u32) {
        *x += by;
    }
    let mut v = vec![1u32, 2, 3];
    bump::map(&mut v, 10);
    assert_eq!(v, vec![11, 12, 13]);
}

#[test]
fn pattern_parameters_are_supported() {
    #[parallel_map]
    fn add((a, b): (u32, u32), (k, _): (u32, u32)) -> u32 {
        a + b + k
    }
    assert_eq!(add::map(vec![(1, 2), (3, 4)], (10, 0)), vec![13, 17]);
}

// ----- backend mpi: every rank must split the same sequence of items -----

use std::collections::{BTreeMap, HashMap, HashSet};

use parallel_runtime::mpi::local;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[parallel_map(backend = "mpi")]
fn key_of(entry: (&u32, &String)) -> u32 {
    RAN.fetch_add(1, Ordering::SeqCst);
    *entry.0
}

/// [`key_of`] without the count, for the tests that run items: `RAN` is
/// the count of the test that no item runs, which may run at the same time.
#[parallel_map(backend = "mpi")]
fn key_of_entry(entry: (&u32, &String)) -> u32 {
    *entry.0
}

fn thousand_entries() -> impl Iterator<Item = (u32, String)> {
    (0..1000u32).map(|k| (k, format!("value {k}")))
}

/// The text of the panic that `local::run` raised again.
fn text_of(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<not text>".into())
}

#[test]
fn a_hashmap_built_on_each_rank_is_an_error_on_every_rank_before_any_item_runs() {
    if parallel_tests::backend_forced_away_from(
        "a_hashmap_built_on_each_rank_is_an_error_on_every_rank_before_any_item_runs",
        &["mpi"],
    ) {
        return;
    }
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    for ranks in 2..=4 {
        RAN.store(0, Ordering::SeqCst);
        let messages = std::sync::Mutex::new(Vec::new());
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            local::run(ranks, |_world| {
                // Each rank builds its own map, with its own random hasher
                // keys, as each process of an MPI job does.
                let m: HashMap<u32, String> = thousand_entries().collect();
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| key_of::map(&m)));
                match r {
                    Ok(keys) => keys,
                    Err(p) => {
                        messages.lock().unwrap().push(text_of(p));
                        Vec::new()
                    }
                }
            })
        }));
        assert!(out.is_ok(), "no rank may hang or fail otherwise");
        let messages = messages.into_inner().unwrap();
        assert_eq!(messages.len(), ranks, "every rank errs: {messages:?}");
        let all = (0..ranks).map(|r| r.to_string()).collect::<Vec<_>>();
        for m in &messages {
            assert!(
                m.starts_with(
                    "key_of: backend mpi: the ranks do not hold the same items in the same order"
                ),
                "{m}"
            );
            assert!(m.contains("HashMap") && m.contains("BTreeMap"), "{m}");
            // Every rank is named.
            for r in &all {
                assert!(
                    m.contains(&format!(" {r}:")) || m.contains(&format!(" {r},")),
                    "rank {r} unnamed: {m}"
                );
            }
        }
        assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
        assert_eq!(RAN.load(Ordering::SeqCst), 0, "items ran before the error");
    }
}

#[test]
fn the_same_hashmap_on_every_rank_or_a_btreemap_runs_every_item_exactly_once() {
    let shared: HashMap<u32, String> = thousand_entries().collect();
    for ranks in 1..=4 {
        let keys = local::run(ranks, |_world| {
            // A clone keeps its hasher, so its order: the check passes.
            let m = shared.clone();
            let from_hash = key_of_entry::map(&m);
            let b: BTreeMap<u32, String> = thousand_entries().collect();
            let from_btree = key_of_entry::map(&b);
            (from_hash, from_btree)
        });
        for (from_hash, from_btree) in keys {
            assert_eq!(from_hash.len(), 1000);
            let distinct: HashSet<u32> = from_hash.iter().copied().collect();
            assert_eq!(distinct.len(), 1000, "{ranks} ranks");
            assert_eq!(from_btree, (0..1000).collect::<Vec<_>>(), "{ranks} ranks");
        }
    }
}

#[test]
fn hash_items_with_no_fingerprint_are_refused_with_a_clear_error() {
    struct Opaque(#[allow(dead_code)] u32);
    #[parallel_map(backend = "threads")]
    fn opaque_key(entry: (&u32, &Opaque)) -> u32 {
        *entry.0
    }
    let m: HashMap<u32, Opaque> = (0..100).map(|k| (k, Opaque(k))).collect();
    let o = MapOptions::new().backend(Backend::Mpi);
    let messages = local::run(3, |_world| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            opaque_key::map_with(&o, &m)
        }));
        text_of(r.expect_err("refused"))
    });
    for msg in &messages {
        assert!(
            msg.starts_with("opaque_key: backend mpi: the items come from a HashMap or HashSet"),
            "{msg}"
        );
        assert!(
            msg.contains("neither `Hash` nor serde's `Serialize`"),
            "{msg}"
        );
    }
    // One process alone has nothing to split: it runs.
    assert_eq!(opaque_key::map_with(&o, &m).len(), 100);
}

#[test]
fn ranks_with_different_item_counts_are_named() {
    if parallel_tests::backend_forced_away_from(
        "ranks_with_different_item_counts_are_named",
        &["mpi"],
    ) {
        return;
    }
    #[parallel_map(backend = "mpi")]
    fn twice(x: &f64) -> f64 {
        2.0 * x
    }
    let messages = local::run(3, |world| {
        let n = if world.rank() == 1 { 9 } else { 10 };
        let v: Vec<f64> = (0..n).map(f64::from).collect();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| twice::map(&v)));
        text_of(r.expect_err("counts differ"))
    });
    for msg in &messages {
        assert!(msg.contains("(not the same number)"), "{msg}");
        assert!(msg.contains("ranks 0, 2: 10 items"), "{msg}");
        assert!(msg.contains("rank 1: 9 items"), "{msg}");
    }
    // The same items on every rank: split, and each item once.
    let out = local::run(3, |_world| {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        (twice::map(&v), twice::reduce(&v, 0.0, |a, b| a + b))
    });
    for (m, r) in out {
        assert_eq!(m, (0..10).map(|x| 2.0 * f64::from(x)).collect::<Vec<_>>());
        assert_eq!(r, 90.0);
    }
}

#[allow(dead_code)]
#[path = "bin/mpirun_support.rs"]
mod mpirun_support;

/// The report of bug 1 under real MPI: `mpirun -n 2` over a `HashMap` of
/// 1,000 entries built in each process gave 1,000 results but only about
/// 740 distinct keys, and exit 0. Now every rank fails before any item runs,
/// naming the ranks and the cause; sorted sources run every key once.
#[test]
fn under_mpirun_a_hashmap_per_process_fails_clearly_and_sorted_items_run_once() {
    let deadline = std::time::Duration::from_secs(60);
    let Some(run) = mpirun_support::run_mpi_maps(2, &["hashmap"], deadline) else {
        return;
    };
    assert_ne!(
        run.code,
        Some(0),
        "the job succeeded; stderr:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "key_of: backend mpi: the ranks do not hold the same items in the same order"
        ) && !run.stderr.contains("ranks 0, 1")
            && run.stderr.contains("rank 0:")
            && run.stderr.contains("rank 1:")
            && run
                .stderr
                .contains("HashMap or HashSet iterates in an order of its own"),
        "stderr:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("items ran here"),
        "the map returned; stderr:\n{}",
        run.stderr
    );
    let run = mpirun_support::run_mpi_maps(2, &["sorted"], deadline).expect("ran before");
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("all 2 ranks: every key exactly once"),
        "{}",
        run.stderr
    );
}

/// Maps, reduces and `try_map` on a communicator from `split` (installed
/// with `Comm::install`), and `try_map` split across the world, under
/// `mpirun -n 2` and `-n 4 --oversubscribe`, and the call-site
/// `map_fn(…).map_mpi`/`reduce_mpi`: `tests/bin/mpi_maps.rs split` checks
/// the results against the loop and counts the items run in the job.
#[test]
fn under_mpirun_maps_run_on_a_split_communicator_and_try_map_and_map_mpi_split() {
    let deadline = std::time::Duration::from_secs(90);
    for ranks in [2, 4] {
        let Some(run) = mpirun_support::run_mpi_maps(ranks, &["split"], deadline) else {
            return;
        };
        assert_eq!(run.code, Some(0), "{ranks} ranks; stderr:\n{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("all {ranks} ranks: maps on half the world")),
            "{}",
            run.stderr
        );
    }
}
