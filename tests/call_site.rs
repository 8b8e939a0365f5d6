//! Functions you cannot annotate: the call-site map (`map_fn`, Python's
//! `pool.map(math.sqrt, xs)`) and call-site tasks (`delayed_fn`, Dask's
//! `delayed(sum)(parts)`), with the guarantees of the attributes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use parallel_runtime::graph::{compute_with, FailureKind, SvgEngine};
use parallel_runtime::mpi::local;
use parallel_runtime::prelude::*;

const BACKENDS: [Backend; 3] = [Backend::Serial, Backend::Threads, Backend::Mpi];

fn opts(backend: Backend) -> MapOptions {
    MapOptions::new().backend(backend)
}

/// The text of a panic payload.
fn text_of(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .or_else(|| p.downcast_ref::<ItemPanic>().map(ToString::to_string))
        .unwrap_or_else(|| "<not text>".into())
}

// ----- the call-site map -----

#[test]
fn a_function_of_another_crate_maps_in_input_order_on_every_backend() {
    let xs: Vec<f64> = (0..10_000).map(f64::from).collect();
    let expect: Vec<f64> = xs.iter().map(|x| x.sqrt()).collect();
    assert_eq!(map_fn("sqrt", f64::sqrt).map(xs.clone()), expect);
    for backend in BACKENDS {
        for schedule in [Schedule::Static, Schedule::Dynamic, Schedule::Guided] {
            let o = opts(backend).schedule(schedule).chunk_size(7);
            let got = map_fn("sqrt", f64::sqrt).options(o).map(xs.clone());
            assert_eq!(got, expect, "{backend} {schedule:?}");
        }
    }
}

#[test]
fn a_closure_over_borrowed_items_and_captured_state() {
    let words = ["alpha", "be", "gamma"];
    let suffix = String::from("!");
    let f = map_fn("shout", |w: &&str| format!("{}{suffix}", w.to_uppercase()));
    assert_eq!(f.name(), "shout");
    assert_eq!(f.map(&words), ["ALPHA!", "BE!", "GAMMA!"]);
    // The same map runs again, on other items (ranges, iterators).
    let lens = map_fn("len", |i: u64| i * 2);
    assert_eq!(lens.map(0..5u64), [0, 2, 4, 6, 8]);
    assert_eq!(
        lens.map(parallel_runtime::items((0..3u64).map(|x| x + 10))),
        [20, 22, 24]
    );
}

#[test]
fn the_serial_backend_runs_on_the_calling_thread_in_order() {
    let seen = Mutex::new(Vec::new());
    let me = std::thread::current().id();
    let out = map_fn("log", |i: u32| {
        assert_eq!(std::thread::current().id(), me);
        seen.lock().unwrap().push(i);
        i
    })
    .options(opts(Backend::Serial))
    .map(0..50u32);
    assert_eq!(out, (0..50).collect::<Vec<_>>());
    assert_eq!(*seen.lock().unwrap(), out);
}

#[test]
fn try_map_names_the_lowest_failing_index_and_the_map() {
    for backend in BACKENDS {
        let parse = map_fn("parse", |s: &str| s.parse::<i32>()).options(opts(backend));
        let input = ["1", "2", "x", "4", "y"];
        let err = parse.try_map(input).unwrap_err();
        assert_eq!(err.index(), 2, "{backend}");
        assert_eq!(err.function(), "parse");
        assert_eq!(
            err.to_string(),
            "parse: item 2 failed: invalid digit found in string"
        );
        assert_eq!(parse.try_map(["3", "4"]).unwrap(), [3, 4]);
    }
}

#[test]
fn a_panic_is_raised_again_as_an_item_panic_naming_the_item_and_the_map() {
    for backend in BACKENDS {
        let caught = std::panic::catch_unwind(|| {
            map_fn("checked", |x: u32| {
                assert!(x != 13, "thirteen");
                x
            })
            .options(opts(backend))
            .map(0..100u32)
        })
        .unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!((p.function(), p.index()), ("checked", 13), "{backend}");
        assert_eq!(p.to_string(), "checked: item 13 panicked: thirteen");
    }
}

/// The streaming forms (Python's `pool.imap(f, xs)`): in input order, lazy,
/// on every backend, failures and panics named as for `map`.
#[test]
fn imap_streams_any_function_lazily_in_order_naming_failures() {
    for backend in BACKENDS {
        let sqrt = map_fn("sqrt", f64::sqrt).options(opts(backend).chunk_size(8));
        let xs: Vec<f64> = (0..10_000).map(f64::from).collect();
        let want: Vec<f64> = xs.iter().map(|x| x.sqrt()).collect();
        assert_eq!(sqrt.imap(xs.clone()).collect::<Vec<_>>(), want, "{backend}");
        let mut folded = Vec::new();
        sqrt.imap(xs.iter().copied()).for_each(|r| folded.push(r));
        assert_eq!(folded, want, "{backend}");
        let pairs: Vec<(usize, f64)> = sqrt.imap_unordered(xs.clone()).collect();
        assert!(pairs
            .iter()
            .enumerate()
            .all(|(i, &(j, r))| i == j && r == want[i]));
        // An endless generator, pulled a window at a time.
        let pulled = AtomicUsize::new(0);
        let counted = (0u64..).inspect(|_| {
            pulled.fetch_add(1, Ordering::Relaxed);
        });
        let square = map_fn("square", |x: u64| x * x).options(opts(backend).chunk_size(8));
        assert_eq!(
            square.imap(counted).take(5).collect::<Vec<_>>(),
            [0, 1, 4, 9, 16]
        );
        let threads = parallel_runtime::num_threads();
        assert!(
            pulled.load(Ordering::Relaxed) <= 8 * threads.max(1),
            "{backend}: pulled lazily"
        );
        // The first failure, named, ends the stream.
        let parse = map_fn("parse", |s: &str| s.parse::<i32>()).options(opts(backend));
        let got: Vec<_> = parse.try_imap(["1", "2", "x", "4", "y"]).collect();
        assert_eq!(got.len(), 3, "{backend}");
        assert_eq!((got[0].clone(), got[1].clone()), (Ok(1), Ok(2)));
        let err = got[2].as_ref().unwrap_err();
        assert_eq!(
            err.to_string(),
            "parse: item 2 failed: invalid digit found in string"
        );
        let oks: Vec<_> = parse.try_imap_unordered(["7", "8"]).collect();
        assert_eq!(oks, [Ok((0, 7)), Ok((1, 8))]);
        // A panic comes out of `next()` as the map's, naming the item.
        let checked = map_fn("checked", |x: u32| {
            assert!(x != 13, "thirteen");
            x
        })
        .options(opts(backend));
        let caught = std::panic::catch_unwind(|| checked.imap(0..100u32).count()).unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!((p.function(), p.index()), ("checked", 13), "{backend}");
    }
}

#[test]
fn reduce_is_bitwise_the_attributes_on_every_backend() {
    #[parallel_map]
    fn third(x: &f64) -> f64 {
        x / 3.0
    }
    let xs: Vec<f64> = (0..100_003).map(|i| f64::from(i) * 1e-3).collect();
    let attr = third::reduce(&xs, 0.0, |a, b| a + b);
    for backend in BACKENDS {
        let ours = map_fn("third", |x: &f64| x / 3.0)
            .options(opts(backend))
            .reduce(&xs, 0.0, |a, b| a + b);
        assert_eq!(ours.to_bits(), attr.to_bits(), "{backend}");
    }
}

#[test]
fn the_mpi_backend_on_one_process_runs_on_the_pool() {
    let o = opts(Backend::Mpi);
    assert_eq!(
        map_fn("double", |x: u8| x * 2).options(o).map(0..4u8),
        [0, 2, 4, 6]
    );
}

#[test]
fn across_ranks_the_plain_form_refuses_and_names_the_mpi_form() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    let o = opts(Backend::Mpi);
    let messages = local::run(3, |_world| {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        let f = map_fn("twice", |x: &f64| {
            RAN.fetch_add(1, Ordering::SeqCst);
            2.0 * x
        })
        .options(o);
        let map = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.map(&v)));
        let reduce = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f.reduce(&v, 0.0, |a, b| a + b)
        }));
        (
            text_of(&*map.expect_err("refused")),
            text_of(&*reduce.expect_err("refused")),
        )
    });
    assert_eq!(
        RAN.load(Ordering::SeqCst),
        0,
        "no item ran before the refusal"
    );
    for (map, reduce) in &messages {
        assert!(map.starts_with("twice: backend mpi: "), "{map}");
        assert!(map.contains("`map_fn(\"twice\", f).map_mpi(…)`"), "{map}");
        assert!(map.contains("`threads` backend"), "{map}");
        assert!(reduce.contains(".reduce_mpi(…)"), "{reduce}");
    }
}

#[test]
fn across_ranks_the_mpi_form_splits_and_every_rank_gets_every_result() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    let o = opts(Backend::Mpi);
    let out = local::run(3, |_world| {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        let f = map_fn("twice", |x: &f64| {
            RAN.fetch_add(1, Ordering::SeqCst);
            2.0 * x
        })
        .options(o);
        let parse = map_fn("parse", |s: &str| s.parse::<u8>()).options(o);
        (
            f.map_mpi(&v),
            f.reduce_mpi(&v, 0.0, |a, b| a + b),
            parse.try_map(["1", "z"]).unwrap_err().index(),
        )
    });
    // Each item once per call across the three ranks: 10 for map, 10 for reduce.
    assert_eq!(RAN.load(Ordering::SeqCst), 20);
    for (m, r, bad) in out {
        assert_eq!(m, (0..10).map(|x| 2.0 * f64::from(x)).collect::<Vec<_>>());
        assert_eq!(r, 90.0);
        assert_eq!(bad, 1);
    }
}

#[test]
fn tracing_names_the_chunks_after_the_map() {
    // Tracing is process-wide: run in a child process.
    if std::env::var_os("CALL_SITE_TRACE_CHILD").is_none() {
        let dir = std::env::temp_dir().join(format!("call-site-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trace.json");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tracing_names_the_chunks_after_the_map"])
            .env("CALL_SITE_TRACE_CHILD", "1")
            .env("PARALLEL_TRACE", &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let events = parallel_runtime::trace::read(&path).unwrap();
        let chunks: Vec<_> = events.iter().filter(|e| e.name == "cube").collect();
        let items: u64 = chunks
            .iter()
            .map(|e| e.args["items"].as_u64().unwrap())
            .sum();
        assert_eq!(items, 1000, "every item in one chunk named after the map");
        assert!(chunks.iter().all(|e| e.cat == "map"));
        let tasks: Vec<_> = events.iter().filter(|e| e.cat == "task").collect();
        assert!(tasks.iter().any(|e| e.name == "halve"), "{tasks:?}");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    assert_eq!(
        map_fn("cube", |x: u64| x * x * x).map(0..1000u64).len(),
        1000
    );
    let half = delayed_fn("halve", |x: u64| x / 2).call(10);
    assert_eq!(half.compute().unwrap(), 5);
}

// ----- call-site tasks -----

#[delayed]
fn inc(x: i64) -> i64 {
    x + 1
}

#[test]
fn dask_delayed_sum_of_parts() {
    for backend in BACKENDS {
        let parts = vec![inc(1), inc(2), inc(3)];
        let total = delayed_fn("sum", |xs: Vec<i64>| xs.iter().sum::<i64>()).call(parts);
        assert_eq!(total.key().name(), "sum");
        assert_eq!(total.dependencies().len(), 3);
        assert_eq!(compute_with(backend, total).unwrap(), 9, "{backend}");
    }
}

#[test]
fn inputs_mix_values_handles_and_shared_handles_in_any_arity() {
    let a = inc(1);
    let none = delayed_fn("seven", || 7i64).call(());
    let one = delayed_fn("neg", |x: i64| -x).call(&a);
    let two = delayed_fn("sub", |x: i64, y: i64| x - y).call((&a, 10));
    let three = delayed_fn("mix", |x: i64, s: String, v: Vec<i64>| {
        x + s.len() as i64 + v.iter().sum::<i64>()
    })
    .call((none, "abc", vec![one, two]));
    assert_eq!(three.dependencies().len(), 3);
    // 7 + 3 + (-2 + -8)
    assert_eq!(compute((a, three)).unwrap(), (2, 0));
    let eight = delayed_fn(
        "eight",
        |a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8| a + b + c + d + e + f + g + h,
    );
    assert_eq!(eight.call((1, 1, 1, 1, 1, 1, 1, 1)).compute().unwrap(), 8);
}

#[test]
fn a_function_of_another_crate_becomes_a_task() {
    let m = delayed_fn("max", std::cmp::max::<i64>).call((inc(4), 3));
    assert_eq!(m.compute().unwrap(), 5);
    let s = delayed_fn("sqrt", f64::sqrt).call(16.0);
    assert_eq!(s.compute().unwrap(), 4.0);
}

#[test]
fn keys_are_numbered_per_name_and_the_picture_names_the_task() {
    let f = delayed_fn("combine", |x: i64, y: i64| x * y);
    let first = f.call((inc(1), inc(2)));
    let second = f.call((&first, 4));
    assert_eq!(second.key().seq(), first.key().seq() + 1);
    assert_eq!(second.dependencies(), vec![first.key()]);
    let dot = second.to_dot();
    for key in [first.key(), second.key()] {
        assert!(dot.contains(&format!("[label=\"{key}\"")), "{dot}");
    }
    assert!(dot.contains("[label=\"inc-"), "{dot}");
    let svg = second.graph().to_svg_with(SvgEngine::Builtin).unwrap();
    assert!(svg.contains(&second.key().to_string()), "{svg}");
    assert_eq!(second.compute().unwrap(), 24);
}

#[test]
fn a_panicking_closure_task_is_named_in_the_error() {
    for backend in BACKENDS {
        let bad = delayed_fn("explode", |x: i64| -> i64 { panic!("bad input {x}") }).call(inc(2));
        let key = bad.key();
        let after = delayed_fn("after", |x: i64| x + 1).call(bad);
        let err = compute_with(backend, after).unwrap_err();
        assert_eq!(err.kind(), FailureKind::Panicked);
        assert_eq!((err.key(), err.function()), (key, "explode"));
        assert_eq!(err.message(), "bad input 3");
        assert_eq!(
            err.to_string(),
            format!("task `{key}` panicked: bad input 3 (1 other task cancelled)")
        );
    }
}

#[test]
fn an_err_of_try_call_fails_the_task_naming_it_and_keeps_the_error() {
    let parse = delayed_fn("parse_int", |s: String| {
        s.parse::<i64>().map_err(|e| e.to_string())
    });
    let ok = parse.try_call("41");
    assert_eq!(
        delayed_fn("inc1", |x: i64| x + 1)
            .call(ok)
            .compute()
            .unwrap(),
        42
    );
    let bad = parse.try_call(String::from("x"));
    let key = bad.key();
    let err = bad.compute().unwrap_err();
    assert_eq!(err.kind(), FailureKind::Error);
    assert_eq!(err.key(), key);
    assert!(key.to_string().starts_with("parse_int-"));
    assert_eq!(err.message(), "invalid digit found in string");
    assert_eq!(
        err.take_error::<String>().as_deref(),
        Some("invalid digit found in string")
    );
    // `call` keeps a `Result` as the value.
    let kept = delayed_fn("parse_kept", |s: String| s.parse::<i64>().is_err()).call("x");
    assert!(kept.compute().unwrap());
}
