//! Streaming and asynchronous calls of `#[parallel_map]`: `f::imap`,
//! `f::imap_unordered`, `f::apply_async` and their `try_` forms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parallel_runtime::prelude::*;

#[parallel_map]
fn scaled(x: u64, by: &u64) -> u64 {
    x * by
}

#[parallel_map]
fn checked(x: u64) -> Result<u64, String> {
    if x % 1000 == 777 {
        Err(format!("bad {x}"))
    } else {
        Ok(x)
    }
}

#[parallel_map]
fn panicky(x: u64) -> u64 {
    assert!(x != 300, "boom at {x}");
    x
}

/// An item borrowed from the caller (`&str`), and a `Result`.
#[parallel_map]
fn parse_num(s: &str) -> Result<i64, std::num::ParseIntError> {
    s.parse()
}

const BACKENDS: [Backend; 2] = [Backend::Serial, Backend::Threads];

/// Borrowed items stream through every form, the `try_` forms and a fold
/// included (bounds on the stream's `Iterator` impl once made rustc ask
/// for `'static` items from a `try_imap` of a `fn(&str)`).
#[test]
fn borrowed_items_stream_through_every_form() {
    let owned: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    let items = || owned.iter().map(String::as_str);
    let want: Vec<i64> = (0..5000).collect();
    let got: Vec<i64> = parse_num::imap(items()).map(Result::unwrap).collect();
    assert_eq!(got, want);
    let got: Vec<i64> = parse_num::try_imap(items()).map(Result::unwrap).collect();
    assert_eq!(got, want);
    let sum: i64 = parse_num::try_imap(items()).map(Result::unwrap).sum();
    assert_eq!(sum, want.iter().sum::<i64>());
    let mut got: Vec<i64> = parse_num::try_imap_unordered(items())
        .map(|r| r.unwrap().1)
        .collect();
    got.sort_unstable();
    assert_eq!(got, want);
    let bad = ["1", "2", "x", "4"];
    let err = parse_num::try_imap(bad).find_map(Result::err).unwrap();
    assert_eq!(err.index(), 2);
}

/// An input that counts the items pulled from it.
fn counted(n: u64, pulled: &AtomicUsize) -> impl Iterator<Item = u64> + '_ {
    (0..n).inspect(move |_| {
        pulled.fetch_add(1, Ordering::SeqCst);
    })
}

/// The most items `imap_with(chunk_size(4))` may hold in flight.
fn window(backend: Backend) -> usize {
    match backend {
        Backend::Serial => 1,
        _ => parallel_runtime::num_threads() * 4,
    }
}

#[test]
fn imap_yields_in_input_order() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let got: Vec<u64> = scaled::imap_with(&o, 0..10_000u64, &3).collect();
        assert_eq!(
            got,
            (0..10_000).map(|x| x * 3).collect::<Vec<_>>(),
            "{backend:?}"
        );
        let got: Vec<u64> = scaled::imap(vec![5u64, 1, 4], &2).collect();
        assert_eq!(got, [10, 2, 8]);
        // With a progress bar (drawn only on a terminal) across the windows.
        let o = o.progress(true);
        assert_eq!(
            scaled::imap_unordered_with(&o, 0..1_000u64, &1).count(),
            1_000
        );
        assert_eq!(scaled::imap_with(&o, 0..1_000u64, &1).last(), Some(999));
    }
}

#[test]
fn imap_pulls_its_input_lazily_one_window_at_a_time() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let pulled = AtomicUsize::new(0);
        let mut it = scaled::imap_with(&o, counted(1_000_000_000, &pulled), &1);
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            0,
            "nothing pulled before next()"
        );
        let w = window(backend);
        for k in 0..(3 * w as u64 + 1) {
            assert_eq!(it.next(), Some(k));
            let p = pulled.load(Ordering::SeqCst);
            // Never more than one window ahead of what was yielded.
            assert!(
                p <= k as usize + w,
                "{backend:?}: {p} pulled after {k} yielded"
            );
        }
    }
}

#[test]
fn imap_unordered_covers_every_index_once() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let pulled = AtomicUsize::new(0);
        let w = window(backend);
        let mut seen = vec![false; 5_000];
        for (k, (i, r)) in scaled::imap_unordered_with(&o, counted(5_000, &pulled), &2).enumerate()
        {
            assert_eq!(r, i as u64 * 2);
            assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
            assert!(pulled.load(Ordering::SeqCst) <= k + w, "{backend:?}");
        }
        assert!(seen.iter().all(|&s| s), "{backend:?}: an index is missing");
    }
}

#[test]
fn try_imap_yields_the_oks_then_the_first_error_and_stops() {
    // Item by item (`collect`), and in a fold (`for_each`).
    for (backend, fold) in BACKENDS.into_iter().flat_map(|b| [(b, false), (b, true)]) {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let pulled = AtomicUsize::new(0);
        let stream = checked::try_imap_with(&o, counted(1_000_000, &pulled));
        let got: Vec<_> = if fold {
            let mut got = Vec::new();
            stream.for_each(|r| got.push(r));
            got
        } else {
            stream.collect()
        };
        assert_eq!(got.len(), 778, "{backend:?}");
        assert!(got[..777]
            .iter()
            .enumerate()
            .all(|(i, r)| r == &Ok(i as u64)));
        let err = got[777].as_ref().unwrap_err();
        assert_eq!((err.function(), err.index()), ("checked", 777));
        assert_eq!(err.to_string(), "checked: item 777 failed: bad 777");
        // It stopped: at most the failing window was pulled.
        assert!(
            pulled.load(Ordering::SeqCst) <= 778 + window(backend),
            "{backend:?}"
        );
    }
}

#[test]
fn try_imap_unordered_yields_the_oks_that_ran_then_the_error() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let got: Vec<_> = checked::try_imap_unordered_with(&o, 0..5_000u64).collect();
        let (last, oks) = got.split_last().unwrap();
        assert_eq!(last.as_ref().unwrap_err().index(), 777, "{backend:?}");
        let last = checked::try_imap_unordered_with(&o, 0..5_000u64).fold(None, |_, r| Some(r));
        let err = last.unwrap().unwrap_err();
        assert_eq!(
            (err.function(), err.index()),
            ("checked", 777),
            "{backend:?}"
        );
        let mut idx: Vec<usize> = oks.iter().map(|r| r.as_ref().unwrap().0).collect();
        idx.sort();
        idx.dedup();
        assert_eq!(idx.len(), oks.len());
        assert!(
            (0..777).all(|i| idx.binary_search(&i).is_ok()),
            "{backend:?}"
        );
    }
}

#[test]
fn a_panic_in_imap_names_the_function_and_the_item_and_ends_the_stream() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let mut it = panicky::imap_with(&o, 0..1_000u64);
        let mut got = 0;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for x in it.by_ref() {
                assert_eq!(x, got);
                got += 1;
            }
        }))
        .unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!((p.function(), p.index()), ("panicky", 300), "{backend:?}");
        assert_eq!(p.message(), Some("boom at 300"));
        assert!(got <= 300);
        assert_eq!(it.next(), None, "the stream ends after a panic");
    }
}

#[test]
fn imap_runs_on_the_calling_thread_with_the_serial_backend() {
    #[parallel_map]
    fn thread_of(_x: u32) -> std::thread::ThreadId {
        std::thread::current().id()
    }
    let o = MapOptions::new().backend(Backend::Serial);
    let me = std::thread::current().id();
    assert!(thread_of::imap_with(&o, 0..100u32).all(|t| t == me));
    assert!(thread_of::imap_unordered_with(&o, 0..100u32)
        .enumerate()
        .all(|(k, (i, t))| k == i && t == me));
    // A fold too (no pool to overlap with).
    thread_of::imap_with(&o, 0..100u32).for_each(|t| assert_eq!(t, me));
    let n = thread_of::imap_unordered_with(&o, 0..100u32).fold(0, |k, (i, t)| {
        assert_eq!((i, t), (k, me));
        k + 1
    });
    assert_eq!(n, 100);
    assert_eq!(thread_of::apply_async_with(&o, 1).get(), me);
}

#[parallel_map]
fn slow(x: u64, pause: &Duration) -> u64 {
    std::thread::sleep(*pause);
    x + 1
}

#[test]
fn apply_async_get_ready_and_timeout() {
    // On the pool: the `serial` backend (`PARALLEL_BACKEND=serial`) runs
    // the call before `apply_async` returns, so it is never still running.
    let threads = MapOptions::new().backend(Backend::Threads);
    let call = slow::apply_async_with(&threads, 41, Duration::from_millis(300));
    assert!(!call.ready());
    let err = call.get_timeout(Duration::from_millis(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "slow: no result within 1ms; the call is still running"
    );
    let call = err.into_handle();
    assert_eq!(call.get_timeout(Duration::from_secs(30)).unwrap(), 42);

    let call = slow::apply_async(1, Arc::new(Duration::ZERO));
    call.wait();
    assert!(call.ready());
    assert_eq!(call.get(), 2);
}

#[test]
fn apply_async_shared_arguments_move_into_the_task() {
    #[parallel_map]
    fn weighted(x: f64, w: &[f64], label: &str, offset: f64) -> String {
        format!("{label}{}", x * w.iter().sum::<f64>() + offset)
    }
    let w = vec![1.0, 2.0];
    let calls: Vec<_> = (0..4)
        .map(|k| weighted::apply_async(k as f64, w.clone(), String::from("v="), 0.5))
        .collect();
    let got: Vec<String> = calls.into_iter().map(|c| c.get()).collect();
    assert_eq!(got, ["v=0.5", "v=3.5", "v=6.5", "v=9.5"]);
}

#[test]
fn apply_async_panic_and_err_come_back_through_get() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend);
        let caught =
            std::panic::catch_unwind(|| panicky::apply_async_with(&o, 300).get()).unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!((p.function(), p.index()), ("panicky", 0), "{backend:?}");
        assert_eq!(p.message(), Some("boom at 300"));

        let err = checked::try_apply_async_with(&o, 1777).get().unwrap_err();
        assert_eq!(err.to_string(), "checked: item 0 failed: bad 1777");
        assert_eq!(checked::try_apply_async_with(&o, 5).get(), Ok(5));
        assert_eq!(checked::apply_async_with(&o, 5).get(), Ok(5));
    }
}

#[test]
fn apply_async_runs_on_the_pool_while_the_caller_goes_on() {
    #[parallel_map]
    fn record(x: usize, log: &Mutex<Vec<usize>>) -> usize {
        log.lock().unwrap().push(x);
        x
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let calls: Vec<_> = (0..16)
        .map(|i| record::apply_async(i, Arc::clone(&log)))
        .collect();
    let total: usize = calls.into_iter().map(|c| c.get()).sum();
    assert_eq!(total, (0..16).sum::<usize>());
    let mut seen = log.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, (0..16).collect::<Vec<_>>());
}

#[parallel_map]
fn plus_one_later(x: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(100));
    x + 1
}

#[parallel_map]
fn waits_for_a_call(x: u64) -> u64 {
    plus_one_later::apply_async(x).get()
}

#[parallel_map]
fn polls_a_call(x: u64) -> u64 {
    let mut call = plus_one_later::apply_async(x);
    loop {
        match call.get_timeout(Duration::from_millis(1)) {
            Ok(v) => return v,
            Err(timeout) => call = timeout.into_handle(),
        }
    }
}

/// A call started inside an item of a map is queued on that worker's own
/// deque; a worker waiting in `get()` runs it (and the pool's other
/// pending work). It hung, on a pool of any size, once every thread of the
/// pool waited in `get()` (or polled with `get_timeout`).
#[test]
fn get_inside_the_items_of_a_map_does_not_hang() {
    for threads in [1, 2, 4] {
        let o = MapOptions::new().backend(Backend::Threads).threads(threads);
        let want: Vec<u64> = (1..=64).collect();
        let got = parallel_tests::within(60, "get() in every item", move || {
            waits_for_a_call::map_with(&o, 0..64u64)
        });
        assert_eq!(got, want, "{threads} threads");
        let got = parallel_tests::within(60, "get_timeout() in every item", move || {
            polls_a_call::map_with(&o, 0..64u64)
        });
        assert_eq!(got, want, "{threads} threads");
    }
    // The shared pool, and a stream.
    let got = parallel_tests::within(60, "get() in every item of imap", || {
        waits_for_a_call::imap(0..200u64).collect::<Vec<_>>()
    });
    assert_eq!(got, (1..=200).collect::<Vec<u64>>());
}

#[parallel_map]
fn waits_holding_a_lock(x: u64, cache: &Mutex<Vec<u64>>) -> u64 {
    let mut cache = cache.lock().expect("a test lock");
    let v = plus_one_later::apply_async(x).get();
    cache.push(v);
    v
}

/// Items that hold a lock while they wait in `get()`: the thread that
/// waits must not take another item meanwhile (it would wait for the lock
/// it holds), and the others, blocked on the lock, cannot take the call.
/// It hung on the original `get()` (the call sat on the waiting thread's
/// deque) and can hang a `get()` that runs the pool's other jobs.
#[test]
fn get_holding_a_lock_inside_items_does_not_hang() {
    for threads in [1, 2, 4] {
        let o = MapOptions::new().backend(Backend::Threads).threads(threads);
        let got = parallel_tests::within(60, "get() holding a lock", move || {
            let cache = Mutex::new(Vec::new());
            let dynamic = o.schedule(Schedule::Dynamic);
            let got = waits_holding_a_lock::map_with(&dynamic, 0..200u64, &cache);
            (got, cache.into_inner().unwrap().len())
        });
        assert_eq!(
            got,
            ((1..=200).collect::<Vec<u64>>(), 200),
            "{threads} threads"
        );
    }
}

#[test]
fn apply_async_on_a_pool_of_its_own_runs_there() {
    #[parallel_map]
    fn thread_name(_x: u8) -> String {
        std::thread::current().name().unwrap_or("").to_owned()
    }
    let three = MapOptions::new().backend(Backend::Threads).threads(3);
    let name = thread_name::apply_async_with(&three, 0).get();
    assert!(name.starts_with("parallel-pool3-"), "ran on {name:?}");
    // A timeout of zero: the outcome if it is in, else the handle back.
    let call = plus_one_later::apply_async_with(&three, 1);
    let call = match call.get_timeout(Duration::ZERO) {
        Ok(v) => return assert_eq!(v, 2),
        Err(timeout) => timeout.into_handle(),
    };
    call.wait();
    assert_eq!(call.get_timeout(Duration::ZERO).unwrap(), 2);
}

#[test]
fn streams_report_to_the_trace_as_maps() {
    #[parallel_map]
    fn traced_stream(x: u32) -> u32 {
        x
    }
    let path = std::env::temp_dir().join(format!("stream-trace-{}.json", std::process::id()));
    let guard = parallel_runtime::trace::start(&path).expect("trace file");
    let o = MapOptions::new().chunk_size(8);
    assert_eq!(traced_stream::imap_with(&o, 0..1_000u32).count(), 1_000);
    assert_eq!(traced_stream::apply_async(7).get(), 7);
    drop(guard);
    let events = parallel_runtime::trace::read(&path).expect("trace");
    let _ = std::fs::remove_file(&path);
    let items: u64 = events
        .iter()
        .filter(|e| e.name == "traced_stream" && e.cat == "map")
        .filter_map(|e| e.args.get("items").and_then(|v| v.as_u64()))
        .sum();
    assert_eq!(items, 1_001);
}

// A fold of a stream (`fold`, `for_each`, `sum`, `count`, …) runs the next
// window on the pool while this one is consumed.

#[test]
fn a_fold_of_imap_yields_what_next_would_in_the_same_order() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let want: Vec<u64> = (0..10_000).map(|x| x * 3).collect();
        let got = scaled::imap_with(&o, 0..10_000u64, &3).fold(Vec::new(), |mut v, r| {
            v.push(r);
            v
        });
        assert_eq!(got, want, "{backend:?}");
        // After some `next()` calls, the fold goes on where they stopped.
        let mut it = scaled::imap_with(&o, 0..10_000u64, &3);
        let head: Vec<u64> = it.by_ref().take(5).collect();
        let mut tail = Vec::new();
        it.for_each(|r| tail.push(r));
        assert_eq!([head, tail].concat(), want, "{backend:?}");
        // Without a chunk size (windows that grow), and on a pool of its own.
        let sum: u64 = scaled::imap(0..100_000u64, &1).sum();
        assert_eq!(sum, (0..100_000).sum::<u64>());
        let own = MapOptions::new().threads(3).chunk_size(2);
        assert_eq!(scaled::imap_with(&own, 0..1_000u64, &1).count(), 1_000);
        let mut seen = vec![false; 5_000];
        scaled::imap_unordered_with(&o, 0..5_000u64, &2).for_each(|(i, r)| {
            assert_eq!(r, i as u64 * 2);
            assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
        });
        assert!(seen.iter().all(|&s| s), "{backend:?}: an index is missing");
    }
}

#[parallel_map]
fn noted(x: u64, calls: &AtomicUsize) -> u64 {
    calls.fetch_add(1, Ordering::SeqCst);
    x
}

/// Waits (up to 20 s) until `calls` reaches `n`; whether it did.
fn reaches(calls: &AtomicUsize, n: usize) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) < n {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn a_fold_runs_the_next_window_while_this_one_is_consumed_two_windows_at_most() {
    // The threads backend whatever `PARALLEL_BACKEND` says: it is what
    // overlaps.
    let o = MapOptions::new().backend(Backend::Threads).chunk_size(4);
    let w = window(Backend::Threads);
    let (calls, pulled) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut consumed = 0;
    noted::imap_with(&o, counted(10 * w as u64, &pulled), &calls).for_each(|x| {
        assert_eq!(x, consumed as u64);
        let p = pulled.load(Ordering::SeqCst);
        assert!(
            p <= consumed + 2 * w,
            "{p} pulled after {consumed} consumed"
        );
        // Consuming window k: window k + 1 runs, and window k + 2 is
        // pulled only once window k is consumed (then k + 1 still runs).
        assert_eq!(p, (consumed / w + 2).min(10) * w, "at {consumed}");
        if consumed == w {
            // Consuming window 1: window 2 runs meanwhile, on the pool.
            assert!(reaches(&calls, 3 * w), "window 2 did not run meanwhile");
        }
        consumed += 1;
    });
    assert_eq!(consumed, 10 * w);
}

#[test]
fn a_panic_in_the_window_after_the_one_consumed_comes_out_once_it_is_consumed() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let w = window(backend) as u64;
        let mut got = 0u64;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            panicky::imap_with(&o, 0..1_000u64).for_each(|x| {
                assert_eq!(x, got);
                if x + w == 300 / w * w {
                    // The first item of the window before the one that
                    // panics: the panic happens while this one is consumed.
                    std::thread::sleep(Duration::from_millis(50));
                }
                got += 1;
            });
        }))
        .unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!((p.function(), p.index()), ("panicky", 300), "{backend:?}");
        assert_eq!(p.message(), Some("boom at 300"));
        // Every window before the one that panicked was consumed whole.
        assert_eq!(got, 300 / w * w, "{backend:?}");
    }
}

#[test]
fn a_panic_of_the_consumer_waits_for_the_window_that_runs_meanwhile() {
    #[parallel_map]
    fn slow_noted(x: u64, calls: &AtomicUsize) -> u64 {
        std::thread::sleep(Duration::from_millis(2));
        calls.fetch_add(1, Ordering::SeqCst);
        x
    }
    let o = MapOptions::new().chunk_size(8);
    let calls = AtomicUsize::new(0);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        slow_noted::imap_with(&o, 0..100_000u64, &calls).for_each(|x| {
            assert!(x < 20, "the consumer gives up at {x}");
        });
    }))
    .unwrap_err();
    assert_eq!(
        caught.downcast_ref::<String>().map(String::as_str),
        Some("the consumer gives up at 20")
    );
    // Nothing outlived the fold: no item runs after it returned.
    let after = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), after);
    assert!(after < 100_000);
}

// Issue 10, second pass: windows of cheap items grow (memory still bounded).

#[test]
fn a_long_fold_of_cheap_items_keeps_the_order_and_bounded_windows() {
    // Windows of cheap items grow past threads × 16384 items, up to 1 MiB
    // of items; two are in flight at most.
    let threads = parallel_runtime::num_threads();
    let bound = 2 * (threads * 16 * 1024).max((1 << 20) / 8);
    let n = 3_000_000u64;
    let pulled = AtomicUsize::new(0);
    let (mut next, mut most) = (0u64, 0);
    scaled::imap(counted(n, &pulled), &1).for_each(|x| {
        assert_eq!(x, next);
        most = most.max(pulled.load(Ordering::SeqCst) - next as usize);
        next += 1;
    });
    assert_eq!(next, n);
    assert!(most <= bound, "{most} items in flight, more than {bound}");
    let mut seen = vec![false; n as usize];
    scaled::imap_unordered(0..n, &3).for_each(|(i, x)| {
        assert_eq!(x, 3 * i as u64);
        assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
    });
    assert!(seen.iter().all(|&s| s), "an index is missing");
}

/// An input that panics when asked for item `at`.
struct PanicsAt {
    next: u64,
    at: u64,
}

impl Iterator for PanicsAt {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        let x = self.next;
        self.next += 1;
        assert!(x != self.at, "the input fails at {x}");
        Some(x)
    }
}

/// The input's panic comes out of `next()` and ends the stream. Caught and
/// followed by more `next()` calls, the stream went on pulling after the
/// items lost with the panicking window, and numbered them from where those
/// began: `imap_unordered` gave item 11's result the index 10.
#[test]
fn an_input_that_panics_ends_the_stream() {
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend).chunk_size(4);
        let mut it = scaled::imap_unordered_with(&o, PanicsAt { next: 0, at: 10 }, &2);
        let mut seen = Vec::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            seen.extend(it.by_ref());
        }))
        .unwrap_err();
        assert_eq!(
            caught.downcast_ref::<String>().map(String::as_str),
            Some("the input fails at 10")
        );
        assert!(seen.iter().all(|&(i, x)| x == 2 * i as u64), "{backend:?}");
        assert_eq!(it.next(), None, "{backend:?}: the stream goes on");
        // In a fold, the panic comes out of it.
        let caught = std::panic::catch_unwind(|| {
            scaled::imap_with(&o, PanicsAt { next: 0, at: 100 }, &1).count()
        });
        assert!(caught.is_err(), "{backend:?}");
    }
}

/// A stream on a pool of its own (`threads(n)`) sizes its windows by that
/// pool: n × the chunk size (it took the shared pool's size).
#[test]
fn a_stream_on_a_pool_of_its_own_sizes_its_windows_by_that_pool() {
    if parallel_tests::backend_forced_away_from(
        "a_stream_on_a_pool_of_its_own_sizes_its_windows_by_that_pool",
        &["threads"],
    ) {
        return;
    }
    for n in [1, 3, 8] {
        let o = MapOptions::new().threads(n).chunk_size(4);
        let pulled = AtomicUsize::new(0);
        let mut it = scaled::imap_with(&o, counted(1_000, &pulled), &1);
        assert_eq!(it.next(), Some(0));
        assert_eq!(pulled.load(Ordering::SeqCst), n * 4, "on {n} threads");
    }
}

/// Item 3 fails with `Err` after 100 ms; item `panics_too` panics at once.
#[parallel_map]
fn err_then_panic(x: u64, panics_too: &u64) -> Result<u64, String> {
    if x == 3 {
        std::thread::sleep(Duration::from_millis(100));
        return Err("three".into());
    }
    assert!(x != *panics_too, "item {x} panics");
    Ok(x)
}

/// As in the serial loop, the first failure in input order ends a `try_`
/// stream, whether an `Err` or a panic. Item 5 of the window, started
/// before item 3's `Err` was seen, panicked out of `next()`, and items 0 to
/// 2 and the `Err` were never yielded.
#[test]
fn try_imap_an_err_before_a_panic_wins_as_in_the_serial_loop() {
    for backend in BACKENDS {
        let o = MapOptions::new()
            .backend(backend)
            .schedule(Schedule::Dynamic);
        let got: Vec<_> = err_then_panic::try_imap_with(&o, 0..8u64, &5).collect();
        assert_eq!(got.len(), 4, "{backend:?}");
        assert!(got[..3].iter().enumerate().all(|(i, r)| r == &Ok(i as u64)));
        assert_eq!(got[3].as_ref().unwrap_err().index(), 3, "{backend:?}");
        let last = err_then_panic::try_imap_with(&o, 0..8u64, &5).last();
        assert_eq!(last.unwrap().unwrap_err().index(), 3, "{backend:?}");
        let got: Vec<_> = err_then_panic::try_imap_unordered_with(&o, 0..8u64, &5).collect();
        let err = got.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.index(), 3, "{backend:?}");
        // A panic before the `Err` wins, and ends the stream.
        let mut it = err_then_panic::try_imap_with(&o, 0..8u64, &1);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| it.by_ref().count()));
        let p = caught.unwrap_err().downcast::<ItemPanic>().unwrap();
        assert_eq!((p.function(), p.index()), ("err_then_panic", 1));
        assert!(it.next().is_none());
    }
}

// Items by reference to a sized type: a slice's (`&v`, `&v[..]`,
// `v.iter()`, an array by reference) are cut into ranges read in place,
// any other iterator's pulled; the results are the serial loop's either
// way, in every form, through `next()` and through a fold.

#[parallel_map]
fn halve(x: &f64) -> f64 {
    x / 2.0
}

#[derive(Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

#[parallel_map]
fn norm1(p: &Point) -> f64 {
    p.x.abs() + p.y.abs()
}

#[parallel_map]
fn checked_ref(x: &u64) -> Result<u64, String> {
    if *x == 4321 {
        Err(format!("bad {x}"))
    } else {
        Ok(*x)
    }
}

#[parallel_map]
fn panicky_ref(x: &u64) -> u64 {
    assert!(*x != 2024, "boom at {x}");
    *x
}

#[parallel_map]
fn unit(_: &()) -> u8 {
    1
}

/// `stream` through `next()`, then again through a fold after five
/// `next()`s: both the same values.
fn both_ways<T: PartialEq + std::fmt::Debug>(
    mut stream: impl FnMut() -> Box<dyn Iterator<Item = T> + 'static>,
) -> Vec<T> {
    let by_next: Vec<T> = stream().collect();
    let mut it = stream();
    let mut folded: Vec<T> = it.by_ref().take(5).collect();
    it.for_each(|r| folded.push(r));
    assert_eq!(by_next, folded, "a fold yields what next() would");
    by_next
}

#[test]
fn references_stream_from_every_shape_of_input_as_the_serial_loop() {
    let v: &'static [f64] = (0..100_000).map(f64::from).collect::<Vec<_>>().leak();
    let half = |xs: &mut dyn Iterator<Item = &f64>| xs.map(|x| x / 2.0).collect::<Vec<_>>();
    let options = [
        MapOptions::new().backend(Backend::Serial),
        MapOptions::new().backend(Backend::Threads),
        MapOptions::new().backend(Backend::Threads).chunk_size(7),
        MapOptions::new()
            .backend(Backend::Threads)
            .schedule(Schedule::Dynamic)
            .chunk_size(64),
        MapOptions::new().threads(3),
    ];
    for o in options {
        let want = half(&mut v.iter());
        assert_eq!(
            both_ways(|| Box::new(halve::imap_with(&o, v))),
            want,
            "{o:?}"
        );
        assert_eq!(
            both_ways(|| Box::new(halve::imap_with(&o, &v[10..]))),
            want[10..]
        );
        assert_eq!(both_ways(|| Box::new(halve::imap_with(&o, v.iter()))), want);
        let mut started = v.iter();
        started.nth(99);
        let rest = both_ways(|| Box::new(halve::imap_with(&o, started.clone())));
        assert_eq!(rest, want[100..]);
        // Other iterators of references: pulled.
        let rev = both_ways(|| Box::new(halve::imap_with(&o, v.iter().rev())));
        assert_eq!(rev, half(&mut v.iter().rev()));
        let stepped = both_ways(|| Box::new(halve::imap_with(&o, v.iter().step_by(3))));
        assert_eq!(stepped, half(&mut v.iter().step_by(3)));
        let refs: Vec<&f64> = v.iter().collect();
        let pulled: Vec<f64> = halve::imap_with(&o, refs).collect();
        assert_eq!(pulled, want);
        // Indices numbered from the slice's start.
        let pairs: Vec<(usize, f64)> = halve::imap_unordered_with(&o, &v[..1000]).collect();
        assert!(pairs
            .iter()
            .enumerate()
            .all(|(i, &(j, h))| i == j && h == want[i]));
        let mut folded = Vec::new();
        halve::imap_unordered_with(&o, v).for_each(|p| folded.push(p));
        assert!(folded
            .iter()
            .enumerate()
            .all(|(i, &(j, h))| i == j && h == want[i]));
    }
    let points: Vec<Point> = (0..5000)
        .map(|i| Point {
            x: -f64::from(i),
            y: 1.0,
        })
        .collect();
    let sum: f64 = norm1::imap(&points).sum();
    assert_eq!(
        sum,
        points.iter().map(|p| p.x.abs() + p.y.abs()).sum::<f64>()
    );
    let array = [Point { x: 1.0, y: -2.0 }, Point { x: 3.0, y: 4.0 }];
    assert_eq!(norm1::imap(&array).collect::<Vec<_>>(), [3.0, 7.0]);
    let units = vec![(); 10_000];
    assert_eq!(unit::imap(&units).map(u64::from).sum::<u64>(), 10_000);
    assert_eq!(halve::imap(&v[..0]).count(), 0);
}

#[test]
fn references_from_a_slice_fail_and_panic_at_the_right_item() {
    let v: Vec<u64> = (0..10_000).collect();
    for backend in BACKENDS {
        let o = MapOptions::new().backend(backend);
        let got: Vec<Result<u64, ItemError<String>>> = checked_ref::try_imap_with(&o, &v).collect();
        assert_eq!(
            got.len(),
            4322,
            "{backend:?}: the Oks, then the error, then the end"
        );
        assert!(got[..4321]
            .iter()
            .enumerate()
            .all(|(i, r)| r == &Ok(i as u64)));
        let err = got[4321].as_ref().unwrap_err();
        assert_eq!((err.index(), err.error().as_str()), (4321, "bad 4321"));
        let mut it = panicky_ref::imap_with(&o, v.iter());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            it.by_ref().for_each(drop);
        }))
        .unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!(
            (p.function(), p.index()),
            ("panicky_ref", 2024),
            "{backend:?}"
        );
        assert_eq!(p.message(), Some("boom at 2024"));
    }
}
