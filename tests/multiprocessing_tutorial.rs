//! Python's `multiprocessing` documentation and the tutorials people copy
//! from, ported as a user would write them from `docs/parallel_map.md`:
//! every port is checked against the plain serial loop over the same items,
//! in order, on every backend, schedule and chunk size; then the edges a
//! demanding user hits (empty and tiny inputs, failures at either end,
//! nesting, uneven costs, inputs of unknown length, closures and methods).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use parallel_runtime::map::AsyncResult;
use parallel_runtime::prelude::*;

/// The ways a user may run one map: the defaults, the serial backend, every
/// schedule with chunk sizes from 1 to far beyond the input, pools of their
/// own smaller and larger than the machine.
fn ways() -> Vec<MapOptions> {
    let mut v = vec![
        MapOptions::new(),
        MapOptions::new().backend(Backend::Serial),
        MapOptions::new().backend(Backend::Threads),
        MapOptions::new().threads(1),
        MapOptions::new().threads(3),
        MapOptions::new().threads(16).schedule(Schedule::Dynamic),
        // A bar on stderr, which is not a terminal here: nothing drawn.
        MapOptions::new().progress(true).chunk_size(3),
    ];
    for s in [Schedule::Static, Schedule::Dynamic, Schedule::Guided] {
        for c in [1, 2, 7, 1 << 20, usize::MAX] {
            v.push(MapOptions::new().schedule(s).chunk_size(c));
        }
    }
    v
}

/// The `ItemPanic` a call raised.
fn item_panic(p: Box<dyn std::any::Any + Send>) -> ItemPanic {
    match p.downcast::<ItemPanic>() {
        Ok(p) => *p,
        Err(other) => panic!(
            "raised something else than an ItemPanic: {:?}",
            other
                .downcast_ref::<String>()
                .map(String::as_str)
                .or(other.downcast_ref::<&str>().copied())
        ),
    }
}

/// Runs `f`, which must panic, with the panic hook's output kept short.
fn must_panic<T: std::fmt::Debug>(f: impl FnOnce() -> T) -> ItemPanic {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => panic!("expected a panic, got {v:?}"),
        Err(p) => item_panic(p),
    }
}

// ----- docs.python.org: "Using a pool of workers" -----

#[parallel_map]
fn f(x: u64) -> u64 {
    x * x
}

#[parallel_map]
fn sleep_then(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Counts its runs.
#[parallel_map]
fn count_run(_x: (), runs: &AtomicUsize) -> usize {
    runs.fetch_add(1, Ordering::SeqCst) + 1
}

#[parallel_map]
fn worker_of(_x: ()) -> std::thread::ThreadId {
    std::thread::current().id()
}

/// `with Pool(processes=4) as pool: print(pool.map(f, range(10)))`,
/// `imap_unordered`, `apply_async(f, (20,)).get(timeout=1)`, several
/// `apply_async(os.getpid, ())`, and `apply_async(time.sleep, (10,))`
/// whose `get(timeout=1)` raises `TimeoutError`.
#[test]
fn using_a_pool_of_workers() {
    let pool = MapOptions::new().threads(4);
    let serial: Vec<u64> = (0..10).map(f).collect();
    assert_eq!(f::map_with(&pool, 0..10), serial);
    assert_eq!(f::map(0..10), serial);
    let ordered: Vec<u64> = f::imap_with(&pool, 0..10).collect();
    assert_eq!(ordered, serial);

    let mut unordered: Vec<(usize, u64)> = f::imap_unordered_with(&pool, 0..10).collect();
    for &(i, r) in &unordered {
        assert_eq!(r, serial[i], "imap_unordered's index {i} is not its item's");
    }
    unordered.sort_unstable();
    let indices: Vec<usize> = unordered.iter().map(|p| p.0).collect();
    assert_eq!(indices, (0..10).collect::<Vec<_>>());

    let res = f::apply_async_with(&pool, 20);
    assert_eq!(res.get_timeout(Duration::from_secs(30)).unwrap(), f(20));

    // "evaluate os.getpid() asynchronously": several calls, each a handle.
    let multiple: Vec<_> = (0..4)
        .map(|_| worker_of::apply_async_with(&pool, ()))
        .collect();
    let ids: Vec<_> = multiple.into_iter().map(|r| r.get()).collect();
    assert_eq!(ids.len(), 4);
    // `PARALLEL_BACKEND=serial` runs each call before `apply_async` returns.
    if std::env::var_os("PARALLEL_BACKEND").is_some() {
        return;
    }
    assert!(ids.iter().all(|id| *id != std::thread::current().id()));

    // "make a single worker sleep for 10 seconds": the timeout, then the
    // handle back, which still gives the result.
    let res = sleep_then::apply_async_with(&pool, 300);
    // `res.wait(0.001)`, `res.successful()` (Python raises while it runs).
    assert!(!res.wait_timeout(Duration::from_millis(1)));
    assert_eq!(res.successful(), None);
    let late = res.get_timeout(Duration::from_millis(1)).unwrap_err();
    assert!(
        late.to_string().contains("sleep_then"),
        "the timeout names the function: {late}"
    );
    assert_eq!(late.into_handle().get(), 300);

    // `future.cancel()`: calls that wait behind the one busy thread of
    // their pool are cancelled and never run; a finished one is not.
    let one = MapOptions::new().threads(1);
    let busy = sleep_then::apply_async_with(&one, 300);
    let ran = std::sync::Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..3)
        .map(|_| count_run::apply_async_with(&one, (), std::sync::Arc::clone(&ran)))
        .collect();
    for q in queued {
        assert!(q.cancel().is_ok(), "a call behind a 300 ms one had started");
    }
    assert_eq!(busy.get(), 300);
    let last = count_run::apply_async_with(&one, (), std::sync::Arc::clone(&ran));
    assert_eq!(last.get(), 1, "a cancelled call ran");
    let done = f::apply_async(3);
    done.wait();
    assert_eq!(done.cancel().map_err(|h| h.get()), Err(9));

    // A thousand calls in flight at once, collected in the order started,
    // and `try_apply_async`'s `Ok`.
    let jobs: Vec<_> = (0..1000).map(f::apply_async).collect();
    let got: Vec<u64> = jobs.into_iter().map(|j| j.get()).collect();
    assert_eq!(got, (0..1000).map(f).collect::<Vec<_>>());
    assert_eq!(inverse::try_apply_async(6).get(), Ok(1.0));
}

#[parallel_map]
fn scaled(x: u64, k: u64, offset: &u64) -> u64 {
    x * k + offset
}

/// `pool.map_async(f, range(100)).get(timeout=…)`, in every way of running;
/// the timeout that hands the handle back; many maps in flight at once; a
/// shared argument by value and one by reference, given owned; the
/// `try_` form's lowest failing item; a panic named by item through `get()`.
#[test]
fn map_async_gives_the_maps_results_later() {
    let serial: Vec<u64> = (0..100).map(f).collect();
    assert_eq!(f::map_async(0..100).get(), serial);
    for w in ways() {
        let got = f::map_async_with(&w, (0..100).collect::<Vec<u64>>())
            .get_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{w:?}: {e}"));
        assert_eq!(got, serial, "{w:?}");
    }
    // Many maps in flight, collected in the order started.
    let jobs: Vec<_> = (0..50u64).map(|n| f::map_async(0..n)).collect();
    for (n, j) in jobs.into_iter().enumerate() {
        assert_eq!(j.get(), (0..n as u64).map(f).collect::<Vec<_>>());
    }
    let want: Vec<u64> = (0..1000).map(|x| scaled(x, 3, &7)).collect();
    assert_eq!(scaled::map_async(0..1000, 3, 7).get(), want);
    assert_eq!(
        scaled::map_async(0..1000, 3, std::sync::Arc::new(7)).get(),
        want
    );
    let err = fallible::try_map_async(0..100u64, vec![70, 30, 90])
        .get()
        .unwrap_err();
    assert_eq!((err.index(), err.error().as_str()), (30, "bad 30"));
    assert_eq!(
        fallible::try_map_async(0..5u64, vec![]).get(),
        Ok(vec![1, 2, 3, 4, 5])
    );
    let p = must_panic(|| inverse_or_panic::map_async(0..10).get());
    assert_eq!(p.index(), 5, "{p}");
    assert!(p.to_string().contains("division by zero"), "{p}");
    // `PARALLEL_BACKEND=serial` runs the map before `map_async` returns.
    if std::env::var_os("PARALLEL_BACKEND").is_some() {
        return;
    }
    let slow = sleep_then::map_async(vec![300, 1, 1]);
    let late = slow.get_timeout(Duration::from_millis(1)).unwrap_err();
    assert!(late.to_string().contains("sleep_then"), "{late}");
    let handle = late.into_handle();
    assert!(!handle.ready());
    assert!(handle.wait_timeout(Duration::from_secs(60)));
    assert_eq!(handle.successful(), Some(true));
    assert_eq!(handle.get(), vec![300, 1, 1]);
    // A panicking map is not successful; `get()` then raises.
    let bad = inverse_or_panic::map_async(0..10);
    bad.wait();
    assert_eq!(bad.successful(), Some(false));
    assert_eq!(must_panic(|| bad.get()).index(), 5);
    // A call that returned an `Err` returned: successful, the error in `get`.
    let err = inverse::try_apply_async(5);
    err.wait();
    assert_eq!(err.successful(), Some(true));
    assert!(err.get().is_err());
}

/// `concurrent.futures`' "ThreadPoolExecutor example": submit every call,
/// then take the results as they complete, each with its input.
#[test]
fn as_completed_gives_every_result_once_as_it_finishes() {
    let pauses = [600u64, 1, 50, 0, 5, 120, 2, 0];
    let handles: Vec<_> = pauses
        .iter()
        .map(|&ms| sleep_then::apply_async(ms))
        .collect();
    let got: Vec<(usize, u64)> = as_completed(handles).collect();
    let mut sorted = got.clone();
    sorted.sort();
    let want: Vec<(usize, u64)> = pauses.iter().copied().enumerate().collect();
    assert_eq!(sorted, want, "each result once, with its index");
    if std::env::var_os("PARALLEL_BACKEND").is_none() && rayon::current_num_threads() > 1 {
        // 600 ms against 0.18 s for all the others together: the
        // longest call is not the first to finish.
        assert_ne!(got[0].0, 0, "finished in {got:?}");
    }

    // A panicking call raises at its turn; the others still come.
    let handles: Vec<_> = [1i64, 5, 7]
        .into_iter()
        .map(inverse_or_panic::apply_async)
        .collect();
    let mut it = as_completed(handles);
    assert_eq!(it.len(), 3);
    let mut seen = vec![];
    let mut panics = 0;
    while it.len() > 0 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| it.next())) {
            Ok(Some((i, v))) => seen.push((i, v)),
            Ok(None) => unreachable!("len() said more"),
            Err(p) => {
                assert_eq!(item_panic(p).function(), "inverse_or_panic");
                panics += 1;
            }
        }
    }
    assert_eq!(panics, 1);
    seen.sort_by_key(|p| p.0);
    assert_eq!(seen, [(0, 1.0 / -4.0), (2, 1.0 / 2.0)]);
    assert!(it.next().is_none());
    assert_eq!(as_completed(Vec::<AsyncResult<u8>>::new()).count(), 0);

    // Inside an item of a map on a pool of one thread, the calls it starts
    // can only run on that thread: `as_completed` runs them there.
    let one = MapOptions::new().threads(1);
    let sums = map_fn("outer", |k: u64| {
        let hs: Vec<_> = (0..4).map(|i| f::apply_async(k + i)).collect();
        as_completed(hs).map(|(_, v)| v).sum::<u64>()
    })
    .options(one)
    .map(0..3u64);
    let want: Vec<u64> = (0..3).map(|k| (0..4).map(|i| f(k + i)).sum()).collect();
    assert_eq!(sums, want);
}

// ----- docs.python.org: the "Examples" section's pool test -----

fn mul(a: i64, b: i64) -> i64 {
    a * b
}

fn plus(a: i64, b: i64) -> i64 {
    a + b
}

type Op = fn(i64, i64) -> i64;
/// One of the example's `TASKS`: a named function and its arguments.
type Task = ((&'static str, Op), (i64, i64));

/// `calculate(func, args)`: each item a function (with its `__name__`)
/// and its arguments.
#[parallel_map(items = 2)]
fn calculate((name, func): (&str, Op), args: (i64, i64)) -> String {
    format!("{name}{args:?} = {}", func(args.0, args.1))
}

/// `f(x) = 1.0 / (x - 5.0)`, a `ZeroDivisionError` at 5 (here an `Err`).
#[parallel_map]
fn inverse(x: i64) -> Result<f64, String> {
    if x == 5 {
        Err(format!("division by zero at x = {x}"))
    } else {
        Ok(1.0 / (x as f64 - 5.0))
    }
}

/// The same, raising (Python's exception is Rust's panic).
#[parallel_map]
fn inverse_or_panic(x: i64) -> f64 {
    assert!(x != 5, "division by zero");
    1.0 / (x as f64 - 5.0)
}

#[parallel_map]
fn pow3(x: u64) -> u64 {
    x * x * x
}

#[test]
fn the_examples_sections_pool_test() {
    let tasks: Vec<Task> = (0..10)
        .map(|i| (("mul", mul as Op), (i, 7)))
        .chain((0..10).map(|i| (("plus", plus as Op), (i, 8))))
        .collect();
    let serial: Vec<String> = tasks.iter().map(|&(f, a)| calculate(f, a)).collect();
    for o in ways() {
        assert_eq!(calculate::map_with(&o, tasks.clone()), serial, "{o:?}");
    }
    // `pool.imap(calculatestar, TASKS)`, `imap_unordered`, `starmap_async`
    // and `apply_async(calculate, t)` for each task: with `items = 2` every
    // entry point takes the pairs.
    for o in ways() {
        let got: Vec<String> = calculate::imap_with(&o, tasks.clone()).collect();
        assert_eq!(got, serial, "imap {o:?}");
        let mut got: Vec<(usize, String)> =
            calculate::imap_unordered_with(&o, tasks.clone()).collect();
        got.sort();
        let want: Vec<(usize, String)> = serial.iter().cloned().enumerate().collect();
        assert_eq!(got, want, "imap_unordered {o:?}");
        let got = calculate::map_async_with(&o, tasks.clone()).get();
        assert_eq!(got, serial, "starmap_async {o:?}");
    }
    let handles: Vec<_> = tasks.iter().map(|&t| calculate::apply_async(t)).collect();
    let got: Vec<String> = handles.into_iter().map(|h| h.get()).collect();
    assert_eq!(got, serial, "apply_async(calculate, t)");

    // `pool.map(pow3, range(100))` against `list(map(pow3, range(100)))`.
    let serial: Vec<u64> = (0..100).map(pow3).collect();
    for o in ways() {
        assert_eq!(pow3::map_with(&o, 0..100), serial, "{o:?}");
        assert_eq!(pow3::imap_with(&o, 0..100).collect::<Vec<_>>(), serial);
    }

    // Error handling: `pool.apply(f, (5,))`, `pool.map(f, range(10))`,
    // `list(pool.imap(f, range(10)))` all raise at item 5.
    let e = inverse::try_apply_async(5).get().unwrap_err();
    assert_eq!(e.index(), 0, "a single call is item 0");
    assert!(e
        .to_string()
        .starts_with("inverse: item 0 failed: division by zero"));
    for o in ways() {
        let e = inverse::try_map_with(&o, 0..10).unwrap_err();
        assert_eq!(e.index(), 5, "{o:?}");
        assert_eq!(
            e.to_string(),
            "inverse: item 5 failed: division by zero at x = 5"
        );
        let e = inverse::try_imap_with(&o, 0..10)
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(e.index(), 5, "{o:?}");
        let p = must_panic(|| inverse_or_panic::map_with(&o, 0..10));
        assert_eq!((p.function(), p.index()), ("inverse_or_panic", 5), "{o:?}");
        assert_eq!(p.message(), Some("division by zero"));
    }

    // `it = pool.imap(f, range(10))`, `next(it)` ten times: the values
    // before 5 arrive in order, then the failure. Python's `imap` goes on
    // after it (6..9); here the stream ends, as the guide says.
    let mut it = inverse::try_imap(0..10);
    for i in 0..5 {
        assert_eq!(it.next().unwrap().unwrap(), 1.0 / (i as f64 - 5.0));
    }
    assert_eq!(it.next().unwrap().unwrap_err().index(), 5);
    assert!(it.next().is_none());
}

// ----- tutorials: squares, primes in ranges, Monte Carlo pi -----

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Counts the primes in `lo..hi`: the "split the range into chunks, one
/// per worker" tutorial. The chunks higher up cost more.
#[parallel_map]
fn count_primes(range: std::ops::Range<u64>) -> usize {
    range.filter(|&n| is_prime(n)).count()
}

#[test]
fn counting_primes_in_ranges() {
    let chunks: Vec<std::ops::Range<u64>> = (0..40).map(|k| k * 1_000..(k + 1) * 1_000).collect();
    let serial: Vec<usize> = chunks.iter().cloned().map(count_primes).collect();
    for o in ways() {
        assert_eq!(count_primes::map_with(&o, chunks.clone()), serial, "{o:?}");
        let total = count_primes::reduce_with(&o, chunks.clone(), 0, |a, b| a + b);
        assert_eq!(total, serial.iter().sum::<usize>());
    }
    // `is_prime` itself, over every number, on a pool of its own:
    // `pool.map(is_prime, range(n))`.
    let xs: Vec<u64> = (0..5_000).collect();
    let serial: Vec<bool> = xs.iter().map(|&n| is_prime(n)).collect();
    let four = MapOptions::new().threads(4);
    assert_eq!(map_fn("is_prime", is_prime).options(four).map(xs), serial);
}

/// A small generator of the kind tutorials seed per worker.
fn xorshift(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// One batch of `n` darts with its own seed: reproducible whatever the
/// worker.
#[parallel_map]
fn darts(seed: u64, n: &u64) -> u64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..*n)
        .filter(|_| {
            let (x, y) = (xorshift(&mut s), xorshift(&mut s));
            x * x + y * y <= 1.0
        })
        .count() as u64
}

struct Rng(u64, usize);

fn seeded_by_worker() -> Rng {
    // `Pool(initializer=init)` with `np.random.seed(os.getpid())`.
    let id = rayon::current_thread_index().unwrap_or(0) as u64;
    Rng(0x2545_F491_4F6C_DD1D ^ (id + 1), 0)
}

/// The per-worker-state version: which worker throws which batch varies,
/// so only the number of darts is reproducible.
#[parallel_map(init = "seeded_by_worker")]
fn darts_per_worker(_batch: u64, n: &u64, rng: &mut Rng) -> (u64, u64) {
    rng.1 += 1;
    let hits = (0..*n)
        .filter(|_| {
            let (x, y) = (xorshift(&mut rng.0), xorshift(&mut rng.0));
            x * x + y * y <= 1.0
        })
        .count() as u64;
    (hits, *n)
}

#[test]
fn monte_carlo_pi() {
    let n = 2_000u64;
    let seeds: Vec<u64> = (0..64).collect();
    let serial: Vec<u64> = seeds.iter().map(|&s| darts(s, &n)).collect();
    let serial_total: u64 = serial.iter().sum();
    for o in ways() {
        assert_eq!(darts::map_with(&o, seeds.clone(), &n), serial, "{o:?}");
        let total = darts::reduce_with(&o, seeds.clone(), &n, 0, |a, b| a + b);
        assert_eq!(total, serial_total, "{o:?}");
    }
    let pi = 4.0 * serial_total as f64 / (n * 64) as f64;
    assert!((pi - std::f64::consts::PI).abs() < 0.05, "pi = {pi}");

    let check = |out: Vec<(u64, u64)>, how: &str| {
        assert_eq!(out.len(), 64, "{how}");
        assert!(out.iter().all(|&(hits, m)| m == n && hits <= n), "{how}");
        let hits: u64 = out.iter().map(|p| p.0).sum();
        let pi = 4.0 * hits as f64 / (n * 64) as f64;
        assert!((pi - std::f64::consts::PI).abs() < 0.05, "pi = {pi}, {how}");
    };
    for o in ways() {
        check(
            darts_per_worker::map_with(&o, 0..64, &n),
            &format!("map {o:?}"),
        );
        // The streaming and asynchronous calls keep a state per worker too.
        let out = darts_per_worker::imap_with(&o, 0..64, &n).collect();
        check(out, &format!("imap {o:?}"));
        let mut out: Vec<(usize, (u64, u64))> =
            darts_per_worker::imap_unordered_with(&o, 0..64, &n).collect();
        out.sort_by_key(|p| p.0);
        assert!(out.iter().enumerate().all(|(i, p)| p.0 == i), "{o:?}");
        check(
            out.into_iter().map(|p| p.1).collect(),
            &format!("imap_unordered {o:?}"),
        );
        let out = darts_per_worker::map_async_with(&o, 0..64, n).get();
        check(out, &format!("map_async {o:?}"));
    }
    let handles: Vec<_> = (0..64)
        .map(|b| darts_per_worker::apply_async(b, n))
        .collect();
    check(
        handles.into_iter().map(|h| h.get()).collect(),
        "apply_async",
    );
}

thread_local! {
    static BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct Counted(usize);

/// Counts its builds on the thread that makes it.
fn counted() -> Counted {
    BUILT.with(|b| b.set(b.get() + 1));
    Counted(0)
}

/// Each call counts itself in the state of the worker that runs it.
#[parallel_map(init = "counted")]
fn tally(_x: u64, state: &mut Counted) -> usize {
    state.0 += 1;
    state.0
}

#[test]
fn map_fn_init_takes_initargs_and_keeps_states_across_calls() {
    // `Pool(initializer=make, initargs=(seed,))`, then two maps on the pool.
    let builds = AtomicUsize::new(0);
    let seed = 7u64;
    let noisy = map_fn("noisy", |x: u64, s: &mut (u64, u64)| {
        s.1 += 1;
        x * s.0
    })
    .init(|| {
        builds.fetch_add(1, Ordering::Relaxed);
        (seed, 0)
    });
    let want: Vec<u64> = (0..1000).map(|x| x * seed).collect();
    assert_eq!(noisy.map(0..1000u64), want);
    assert_eq!(noisy.imap(0..1000u64).collect::<Vec<_>>(), want);
    let workers = rayon::current_num_threads();
    let n = builds.load(Ordering::Relaxed);
    assert!(
        (1..=workers + 1).contains(&n),
        "{n} builds for two calls on {workers} workers"
    );
    // On the serial backend: one state for every call, counting all items.
    let serial = map_fn("count", |_x: u64, s: &mut u64| {
        *s += 1;
        *s
    })
    .init(|| 0u64)
    .options(MapOptions::new().backend(Backend::Serial));
    assert_eq!(serial.map(0..3u64), [1, 2, 3]);
    assert_eq!(serial.map(0..2u64), [4, 5], "the state outlives a call");
    // `try_map` and `reduce` with a state; a failure names the item.
    let checked = map_fn("checked", |x: u64, s: &mut u64| {
        *s = seed;
        if x == 17 {
            Err(format!("bad {x}"))
        } else {
            Ok(x + *s)
        }
    })
    .init(|| 0u64);
    assert_eq!(
        checked.try_map(0..10u64).unwrap(),
        (7..17).collect::<Vec<_>>()
    );
    let e = checked.try_map(0..100u64).unwrap_err();
    assert_eq!(e.to_string(), "checked: item 17 failed: bad 17");
    let total = map_fn("plus", |x: u64, s: &mut u64| x + *s)
        .init(move || seed)
        .reduce(0..100u64, 0, |a, b| a + b);
    assert_eq!(total, (0..100).map(|x| x + seed).sum::<u64>());
}

#[test]
fn a_stream_builds_each_workers_state_once() {
    // On one thread of its own: one build for the whole stream, whatever
    // its windows, and each call sees the count of the calls before it.
    let one = MapOptions::new().threads(1).chunk_size(3);
    let got: Vec<usize> = tally::imap_with(&one, 0..100).collect();
    assert_eq!(got, (1..=100).collect::<Vec<_>>());
    let serial = MapOptions::new().backend(Backend::Serial);
    let before = BUILT.with(|b| b.get());
    let got: Vec<usize> = tally::imap_with(&serial, 0..100).collect();
    assert_eq!(got, (1..=100).collect::<Vec<_>>());
    assert_eq!(
        BUILT.with(|b| b.get()) - before,
        1,
        "one build on the serial backend"
    );
    // Two streams do not share a state.
    let (mut a, mut b) = (
        tally::imap_with(&serial, 0..3),
        tally::imap_with(&serial, 0..3),
    );
    assert_eq!((a.next(), b.next(), a.next()), (Some(1), Some(1), Some(2)));
}

// ----- tutorials: word count over chunks, many small inputs -----

const TEXT: &str = "It was the best of times, it was the worst of times, \
it was the age of wisdom, it was the age of foolishness, it was the epoch \
of belief, it was the epoch of incredulity, it was the season of Light, it \
was the season of Darkness, it was the spring of hope, it was the winter of \
despair";

/// The words of one chunk of text, counted: "map" of map-reduce.
#[parallel_map]
fn count_words(chunk: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for w in chunk
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(w.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

fn merge(mut a: BTreeMap<String, usize>, b: BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    for (w, n) in b {
        *a.entry(w).or_insert(0) += n;
    }
    a
}

#[test]
fn word_count_over_chunks_of_text() {
    let text: String = (0..200).map(|i| format!("{TEXT} line{} ", i % 7)).collect();
    let lines: Vec<&str> = text.split(", ").collect();
    let serial: Vec<BTreeMap<String, usize>> = lines.iter().map(|l| count_words(l)).collect();
    let whole = count_words(&text);
    for o in ways() {
        // Borrowed `&str` items, from a `Vec<&str>`, its slice, an iterator.
        assert_eq!(count_words::map_with(&o, lines.clone()), serial, "{o:?}");
        assert_eq!(count_words::map_with(&o, lines.iter().copied()), serial);
        let merged = count_words::reduce_with(&o, lines.clone(), BTreeMap::new(), merge);
        assert_eq!(merged, whole, "{o:?}");
        let streamed = count_words::imap_with(&o, text.split(", ")).fold(BTreeMap::new(), merge);
        assert_eq!(streamed, whole, "{o:?}");
    }
    // The lines of a "file", pulled lazily, `str::lines` of unknown length.
    let file = text.replace(", ", "\n");
    let per_line = count_words::map(file.lines());
    assert_eq!(per_line, serial);
}

/// One small "file": parse a header and the numbers under it.
#[parallel_map]
fn summarize(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let name = lines.next().unwrap_or_default().to_string();
    let mut sum = 0;
    for l in lines {
        sum += l
            .trim()
            .parse::<u64>()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    }
    Ok((name, sum))
}

#[test]
fn many_small_files() {
    let dir = std::env::temp_dir().join(format!("mp-tutorial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<std::path::PathBuf> = (0..120)
        .map(|i| {
            let p = dir.join(format!("{i:03}.txt"));
            let body: String = (0..i % 13).map(|k| format!("{}\n", k * i)).collect();
            std::fs::write(&p, format!("file {i}\n{body}")).unwrap();
            p
        })
        .collect();
    let serial: Vec<(String, u64)> = paths.iter().map(|p| summarize(p).unwrap()).collect();
    for o in ways() {
        // `&PathBuf` items through `fn f(&Path)`: a map over the paths'
        // references, and the directory listing as an iterator.
        let got = summarize::try_map_with(&o, paths.iter().map(|p| p.as_path()));
        assert_eq!(got.unwrap(), serial, "{o:?}");
    }
    let mut listed: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    listed.sort();
    assert_eq!(listed, paths);
    let got = summarize::try_map(listed.iter().map(|p| p.as_path())).unwrap();
    assert_eq!(got, serial);

    // A missing file in the middle: named, with the `io::Error` as its
    // source.
    std::fs::remove_file(&paths[60]).unwrap();
    for o in ways() {
        let e = summarize::try_map_with(&o, paths.iter().map(|p| p.as_path())).unwrap_err();
        assert_eq!(e.index(), 60, "{o:?}");
        assert_eq!(e.error().kind(), std::io::ErrorKind::NotFound);
        assert!(e.to_string().starts_with("summarize: item 60 failed: "));
        assert!(std::error::Error::source(&e).is_some());
    }
    // And a malformed one at the end: the serial loop names 60; threads
    // name the lowest of those that had started (as Python's `map` raises
    // the exception of the chunk that failed first), so 119 only when 60
    // never started.
    std::fs::write(&paths[119], "file 119\nnot a number\n").unwrap();
    for o in ways() {
        let started = Mutex::new(Vec::new());
        let e = map_fn("summarize", |p: &std::path::Path| {
            started.lock().unwrap().push(p.to_owned());
            summarize(p)
        })
        .options(o)
        .try_map(paths.iter().map(|p| p.as_path()))
        .unwrap_err();
        let started = started.into_inner().unwrap();
        let lowest = if started.contains(&paths[60]) {
            60
        } else {
            119
        };
        assert_eq!(e.index(), lowest, "{o:?}");
        if o == MapOptions::new().backend(Backend::Serial) {
            assert_eq!((e.index(), started.len()), (60, 61));
        }
    }
    let tail = summarize::try_map(paths[61..].iter().map(|p| p.as_path())).unwrap_err();
    assert_eq!(tail.index(), 58);
    assert_eq!(tail.error().kind(), std::io::ErrorKind::InvalidData);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ----- nested data, uneven costs, large results -----

#[derive(Clone, Debug, PartialEq)]
struct Order {
    customer: String,
    lines: Vec<(String, u32, f64)>,
    tags: HashMap<String, Vec<u8>>,
}

#[derive(Debug, PartialEq)]
struct Invoice {
    customer: String,
    total: f64,
    by_item: BTreeMap<String, u32>,
    tag_bytes: usize,
}

#[parallel_map]
fn invoice(o: &Order, vat: &f64) -> Invoice {
    let mut by_item = BTreeMap::new();
    for (name, n, _) in &o.lines {
        *by_item.entry(name.clone()).or_insert(0) += n;
    }
    Invoice {
        customer: o.customer.clone(),
        total: o
            .lines
            .iter()
            .map(|(_, n, p)| f64::from(*n) * p)
            .sum::<f64>()
            * vat,
        by_item,
        tag_bytes: o.tags.values().map(Vec::len).sum(),
    }
}

#[test]
fn nested_data_structures_as_items() {
    let orders: Vec<Order> = (0..300)
        .map(|i| Order {
            customer: format!("c{i}"),
            lines: (0..i % 9)
                .map(|k| (format!("sku{}", k % 4), k + 1, 0.5 * f64::from(k)))
                .collect(),
            tags: (0..i % 3)
                .map(|k| (format!("t{k}"), vec![k as u8; i as usize]))
                .collect(),
        })
        .collect();
    let serial: Vec<Invoice> = orders.iter().map(|o| invoice(o, &1.2)).collect();
    for o in ways() {
        assert_eq!(invoice::map_with(&o, &orders, &1.2), serial, "{o:?}");
        assert_eq!(invoice::map_with(&o, &orders[..], &1.2), serial, "{o:?}");
        let streamed: Vec<Invoice> = invoice::imap_with(&o, &orders, &1.2).collect();
        assert_eq!(streamed, serial);
    }
    // Items by value, nested: a `Vec<Vec<Order>>`, one batch per item,
    // each batch mapped again inside (a map that calls a map).
    let batches: Vec<Vec<Order>> = orders.chunks(17).map(<[Order]>::to_vec).collect();
    let per_batch = map_fn("batch", |b: Vec<Order>| invoice::map(&b, &1.2)).map(batches);
    assert_eq!(per_batch.into_iter().flatten().collect::<Vec<_>>(), serial);
}

/// Items whose cost grows as the cube of their index, and a few that cost
/// far more: the "results of uneven cost" tutorial.
#[parallel_map]
fn uneven(i: u64) -> u64 {
    let work = if i.is_multiple_of(97) {
        50_000
    } else {
        (i % 50).pow(2) * 4
    };
    (0..work).fold(i, |a, k| a.wrapping_mul(31).wrapping_add(k))
}

#[test]
fn results_of_uneven_cost() {
    let serial: Vec<u64> = (0..1000).map(uneven).collect();
    for o in ways() {
        assert_eq!(uneven::map_with(&o, 0..1000), serial, "{o:?}");
        let mut un: Vec<(usize, u64)> = uneven::imap_unordered_with(&o, 0..1000).collect();
        un.sort_unstable();
        assert_eq!(un.into_iter().map(|p| p.1).collect::<Vec<_>>(), serial);
    }
}

#[parallel_map]
fn big_result(i: usize) -> Vec<u64> {
    vec![i as u64; 1 << 17]
}

#[parallel_map]
fn big_array(i: usize) -> Box<[u64; 1 << 15]> {
    let mut a = Box::new([0u64; 1 << 15]);
    a[i % (1 << 15)] = i as u64;
    a
}

/// Results that are large on the heap (1 MiB each) and inline (64 KiB).
#[parallel_map]
fn inline_array(i: u32) -> [u32; 1 << 14] {
    [i; 1 << 14]
}

/// 256 KiB inline: the serial loop returns it on a thread of 2 MiB (a
/// test's) with room to spare (512 KiB passes too). A debug build's pool
/// threads, whose stacks were rayon's default 2 MiB, overflowed and
/// aborted the whole process (`thread 'parallel-worker-0' has overflowed
/// its stack`) on every schedule, `imap` included; they now have a main
/// thread's 8 MiB.
#[parallel_map]
fn huge_inline(i: u32) -> [u32; 1 << 16] {
    [i; 1 << 16]
}

#[test]
fn a_256_kib_result_by_value_does_not_overflow_a_worker_stack() {
    let serial = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| (0..4).map(huge_inline).map(|a| a[0]).collect::<Vec<_>>())
        .unwrap()
        .join()
        .unwrap();
    // Called from a thread with a main thread's stack, 8 MiB (a test's is
    // 2 MiB; in a debug build the call's own frames on the calling thread
    // hold more copies of a result than a plain loop's).
    let each = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let mut each = vec![
                (
                    "map".to_owned(),
                    huge_inline::map(0..4).iter().map(|a| a[0]).collect(),
                ),
                (
                    "imap".to_owned(),
                    huge_inline::imap(0..4).map(|a| a[0]).collect::<Vec<u32>>(),
                ),
            ];
            for o in ways() {
                let firsts: Vec<u32> = huge_inline::map_with(&o, 0..4)
                    .iter()
                    .map(|a| a[0])
                    .collect();
                each.push((format!("{o:?}"), firsts));
            }
            each
        })
        .unwrap()
        .join()
        .unwrap();
    for (o, firsts) in each {
        assert_eq!(firsts, serial, "{o}");
    }
}

#[test]
fn large_results() {
    let out = big_result::map(0..48);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, v)| v.len() == 1 << 17 && v.iter().all(|&x| x == i as u64)));
    let sums: Vec<u64> = big_result::imap(0..48).map(|v| v.iter().sum()).collect();
    assert_eq!(sums, (0..48).map(|i| i << 17).collect::<Vec<u64>>());
    let boxed = big_array::map(0..40);
    assert!(boxed.iter().enumerate().all(|(i, a)| a[i] == i as u64));
    for o in ways() {
        let inline = inline_array::map_with(&o, 0..6);
        assert!(
            inline
                .iter()
                .zip(0..)
                .all(|(a, i)| a.iter().all(|&x| x == i)),
            "{o:?}"
        );
    }
}

// ----- the edges -----

#[parallel_map]
fn double(x: &u64) -> u64 {
    x * 2
}

#[parallel_map]
fn fallible(x: u64, bad: &[u64]) -> Result<u64, String> {
    if bad.contains(&x) {
        Err(format!("bad {x}"))
    } else {
        Ok(x + 1)
    }
}

#[parallel_map(items = 2)]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[test]
fn empty_and_one_item_and_more_threads_than_items() {
    let none: Vec<u64> = vec![];
    for o in ways() {
        assert_eq!(double::map_with(&o, &none), Vec::<u64>::new(), "{o:?}");
        assert_eq!(double::map_with(&o, none.iter()), Vec::<u64>::new());
        assert_eq!(double::imap_with(&o, &none).count(), 0);
        assert_eq!(double::imap_unordered_with(&o, &none).count(), 0);
        assert_eq!(double::reduce_with(&o, &none, 7, |a, b| a + b), 7);
        assert_eq!(
            fallible::try_map_with(&o, 0..0, &[0]).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(fallible::try_imap_with(&o, 0..0, &[0]).count(), 0);
        assert_eq!(
            add::map_with(&o, Vec::<(u64, u64)>::new()),
            Vec::<u64>::new()
        );
        assert_eq!(
            darts_per_worker::map_with(&o, 0..0, &1),
            Vec::<(u64, u64)>::new()
        );
        let empty = map_fn("id", |x: u64| x).options(o);
        assert_eq!(empty.map(std::iter::empty::<u64>()), Vec::<u64>::new());

        for n in [1u64, 2, 3, 5] {
            let v: Vec<u64> = (0..n).collect();
            let serial: Vec<u64> = v.iter().map(double).collect();
            assert_eq!(double::map_with(&o, &v), serial, "{n} items, {o:?}");
            assert_eq!(double::imap_with(&o, &v).collect::<Vec<_>>(), serial);
            let pairs: Vec<(u64, u64)> = v.iter().map(|&x| (x, x)).collect();
            assert_eq!(add::map_with(&o, pairs), serial);
            let e = fallible::try_map_with(&o, 0..n, &[n - 1]).unwrap_err();
            assert_eq!(e.index() as u64, n - 1);
        }
    }
    // Many more threads than items: 3 items on a pool of 64.
    let wide = MapOptions::new().threads(64).schedule(Schedule::Dynamic);
    assert_eq!(double::map_with(&wide, &[1, 2, 3]), vec![2, 4, 6]);
    assert_eq!(darts_per_worker::map_with(&wide, 0..3, &10).len(), 3);
}

/// `chunk_size(0)` is a mistake the builder refuses where it is written.
#[test]
fn chunk_size_zero_is_refused_where_it_is_written() {
    let p = std::panic::catch_unwind(|| MapOptions::new().chunk_size(0)).unwrap_err();
    let text = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or(p.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(text.contains("chunk_size"), "{text}");
}

/// An `Err` or a panic at the first, a middle and the last item, on every
/// way of running: the item and its index are named; with several
/// failures, the lowest (the first of the serial loop) wins whenever it
/// fails first in time, and always under the serial backend.
#[test]
fn a_failure_at_the_start_middle_or_end_is_named() {
    let n = 1000u64;
    for o in ways() {
        for bad in [0, n / 2, n - 1] {
            let e = fallible::try_map_with(&o, 0..n, &[bad]).unwrap_err();
            assert_eq!(e.index() as u64, bad, "{o:?}");
            assert_eq!(
                e.to_string(),
                format!("fallible: item {bad} failed: bad {bad}")
            );
            // try_imap: the values before it, in order, then the failure.
            let got: Vec<_> = fallible::try_imap_with(&o, 0..n, &[bad]).collect();
            assert_eq!(got.len() as u64, bad + 1, "{o:?}");
            assert!(got[..bad as usize]
                .iter()
                .zip(1..)
                .all(|(r, x)| *r.as_ref().unwrap() == x));
            assert_eq!(
                got.last().unwrap().as_ref().unwrap_err().index() as u64,
                bad
            );
            // try_imap_unordered: the Oks that ran, then the failure.
            let un: Vec<_> = fallible::try_imap_unordered_with(&o, 0..n, &[bad]).collect();
            let (last, oks) = un.split_last().unwrap();
            assert_eq!(last.as_ref().unwrap_err().index() as u64, bad);
            assert!(oks
                .iter()
                .all(|r| matches!(r, Ok((i, x)) if *x == *i as u64 + 1 && (*i as u64) != bad)));
            // A panic at the same place.
            let p = must_panic(|| {
                map_fn("explode", |x: u64| {
                    assert!(x != bad, "explode at {x}");
                    x
                })
                .options(o)
                .map(0..n)
            });
            assert_eq!((p.function(), p.index() as u64), ("explode", bad), "{o:?}");
            assert_eq!(p.message(), Some(format!("explode at {bad}").as_str()));
        }
        // All of 0, the middle and the end fail: item 0 runs first in every
        // schedule's first piece only under the serial backend; elsewhere the
        // lowest index that had started is named.
        let e = fallible::try_map_with(&o, 0..n, &[0, n / 2, n - 1]).unwrap_err();
        assert!([0, n / 2, n - 1].contains(&(e.index() as u64)), "{o:?}");
        if o == MapOptions::new().backend(Backend::Serial) {
            assert_eq!(e.index(), 0);
        }
    }
}

// ----- nesting -----

#[parallel_map]
fn row_sum(row: u64, width: &u64) -> u64 {
    // A map inside an item: each row's cells on the same pool.
    f::map(row * width..(row + 1) * width).iter().sum()
}

#[parallel_map]
fn inner_check(x: u64, row: &u64) -> Result<u64, String> {
    if x == 7 && *row == 3 {
        Err(format!("cell {x} of row {row}"))
    } else {
        Ok(x)
    }
}

/// An outer `try_map` whose items run an inner `try_map`: the inner
/// failure comes out as the outer item's error, both indices named.
#[parallel_map]
fn checked_row(row: u64) -> Result<u64, ItemError<String>> {
    Ok(inner_check::try_map(0..10, &row)?.iter().sum())
}

#[parallel_map]
fn panics_inside(row: u64) -> u64 {
    map_fn("cell", |x: u64| {
        assert!(!(x == 4 && row == 6), "cell {x} of row {row}");
        x
    })
    .map(0..10)
    .iter()
    .sum()
}

#[test]
fn a_function_that_itself_calls_a_parallel_map() {
    let width = 50;
    let serial: Vec<u64> = (0..40).map(|r| row_sum(r, &width)).collect();
    for o in ways() {
        assert_eq!(row_sum::map_with(&o, 0..40, &width), serial, "{o:?}");
        let streamed: Vec<u64> = row_sum::imap_with(&o, 0..40, &width).collect();
        assert_eq!(streamed, serial);

        let e = checked_row::try_map_with(&o, 0..10).unwrap_err();
        assert_eq!(e.index(), 3, "{o:?}");
        assert_eq!(e.error().index(), 7);
        assert_eq!(
            e.to_string(),
            "checked_row: item 3 failed: inner_check: item 7 failed: cell 7 of row 3"
        );
        let p = must_panic(|| panics_inside::map_with(&o, 0..10));
        assert_eq!((p.function(), p.index()), ("panics_inside", 6), "{o:?}");
        assert!(p.to_string().contains("cell: item 4 panicked"), "{p}");
    }
    // A nested map inside an `apply_async`, and its `get` inside an item.
    let job = row_sum::apply_async(5, width);
    assert_eq!(job.get(), serial[5]);
    let via_async = map_fn("via_async", |r: u64| row_sum::apply_async(r, width).get()).map(0..40);
    assert_eq!(via_async, serial);
}

// ----- inputs of unknown length, closures, methods, generics -----

#[test]
fn iterators_of_unknown_length() {
    let collatz = |mut n: u64| {
        std::iter::from_fn(move || {
            (n != 1).then(|| {
                n = if n.is_multiple_of(2) {
                    n / 2
                } else {
                    3 * n + 1
                };
                n
            })
        })
    };
    let serial: Vec<u64> = collatz(27).map(f).collect();
    for o in ways() {
        assert_eq!(f::map_with(&o, collatz(27)), serial, "{o:?}");
        assert_eq!(f::imap_with(&o, collatz(27)).collect::<Vec<_>>(), serial);
        assert_eq!(f::map_with(&o, items(collatz(27))), serial);
        let filtered = (0..500u64).filter(|x| x % 3 == 1).skip_while(|&x| x < 40);
        let expect: Vec<u64> = filtered.clone().map(f).collect();
        assert_eq!(f::map_with(&o, filtered.clone()), expect, "{o:?}");
        assert_eq!(f::imap_with(&o, filtered).collect::<Vec<_>>(), expect);
        // A channel's receiver, its senders gone.
        let (tx, rx) = std::sync::mpsc::channel();
        for x in 0..300u64 {
            tx.send(x).unwrap();
        }
        drop(tx);
        let got: Vec<u64> = f::imap_with(&o, rx).collect();
        assert_eq!(got, (0..300).map(f).collect::<Vec<_>>());
    }
}

fn scale<T: Copy + std::ops::Mul<Output = T>>(x: T, k: T) -> T {
    x * k
}

/// The non-generic wrapper the guide recommends.
#[parallel_map]
fn scale_u64(x: u64, k: &u64) -> u64 {
    scale(x, *k)
}

struct Histogram {
    edges: Vec<f64>,
}

impl Histogram {
    fn bin(&self, x: &f64) -> usize {
        self.edges.partition_point(|e| e <= x)
    }
}

#[test]
fn generics_methods_and_closures_capturing_state() {
    let xs: Vec<u64> = (0..1000).collect();
    let serial: Vec<u64> = xs.iter().map(|&x| scale(x, 3)).collect();
    let floats: Vec<f64> = xs.iter().map(|&x| x as f64 * 0.37).collect();
    let h = Histogram {
        edges: (0..20).map(|k| f64::from(k) * 20.0).collect(),
    };
    let bins: Vec<usize> = floats.iter().map(|x| h.bin(x)).collect();
    let calls = AtomicUsize::new(0);
    let seen = Mutex::new(Vec::new());
    for o in ways() {
        assert_eq!(scale_u64::map_with(&o, xs.clone(), &3), serial, "{o:?}");
        // A generic function named at the call site, instantiated.
        let g = map_fn("scale", |x: u64| scale(x, 3u64)).options(o);
        assert_eq!(g.map(xs.clone()), serial);
        let g = map_fn("scale_f64", |x: f64| scale(x, 2.0)).options(o);
        assert_eq!(
            g.map(floats.clone()),
            floats.iter().map(|x| x * 2.0).collect::<Vec<_>>()
        );
        // A method: through a closure borrowing the value, and by path.
        assert_eq!(
            map_fn("bin", |x: &f64| h.bin(x)).options(o).map(&floats),
            bins
        );
        let words = vec!["a".to_string(), "bcd".into(), String::new()];
        assert_eq!(
            map_fn("len", String::len).options(o).map(&words),
            vec![1, 3, 0]
        );
        assert_eq!(
            map_fn("upper", str::to_uppercase)
                .options(o)
                .map(words.iter().map(String::as_str)),
            vec!["A", "BCD", ""]
        );
        // A closure capturing state it updates through `&` (atomics, a lock).
        calls.store(0, Ordering::SeqCst);
        seen.lock().unwrap().clear();
        let counting = map_fn("counting", |x: u64| {
            calls.fetch_add(1, Ordering::SeqCst);
            seen.lock().unwrap().push(x);
            x + 1
        })
        .options(o);
        assert_eq!(counting.map(0..200u64), (1..=200).collect::<Vec<u64>>());
        assert_eq!(calls.load(Ordering::SeqCst), 200);
        let mut all = std::mem::take(&mut *seen.lock().unwrap());
        all.sort_unstable();
        assert_eq!(
            all,
            (0..200).collect::<Vec<u64>>(),
            "each item exactly once"
        );
    }
}

/// Per-item `&mut`: updating a `Vec` of records in place, as the serial
/// loop `for r in &mut v` would.
#[parallel_map]
fn normalize(r: &mut Vec<f64>) -> f64 {
    // Zeros dropped (a `Vec` method), the rest scaled to sum to one.
    r.retain(|x| *x != 0.0);
    let total: f64 = r.iter().sum();
    if total != 0.0 {
        r.iter_mut().for_each(|x| *x /= total);
    }
    total
}

#[test]
fn per_item_mutable_borrows_update_like_the_serial_loop() {
    let data: Vec<Vec<f64>> = (0..200)
        .map(|i| (0..i % 11).map(|k| f64::from(k * i)).collect())
        .collect();
    let mut serial = data.clone();
    let totals: Vec<f64> = serial.iter_mut().map(normalize).collect();
    for o in ways() {
        let mut v = data.clone();
        assert_eq!(normalize::map_with(&o, &mut v), totals, "{o:?}");
        assert_eq!(v, serial);
        let mut v = data.clone();
        assert_eq!(normalize::map_with(&o, v.iter_mut()), totals);
        assert_eq!(v, serial);
    }
}

// ----- removing the attribute gives back the serial program -----

/// The same function twice: in `with`, annotated; in `without`, as plain
/// as the day before the attribute was added.
macro_rules! twice {
    ($($attr:meta)?; $item:item) => {
        mod with {
            use super::*;
            $(#[$attr])?
            $item
        }
        mod without {
            #[allow(unused_imports)]
            use super::*;
            $item
        }
    };
}

twice!(parallel_map; pub(crate) fn tokens(line: &str, min: &usize) -> Vec<String> {
    line.split_whitespace()
        .filter(|w| w.len() >= *min)
        .map(str::to_owned)
        .collect()
});

#[test]
fn removing_the_attribute_gives_back_the_serial_program() {
    let lines: Vec<String> = (0..500)
        .map(|i| format!("{} {} tail{}", "w".repeat(i % 6), i, i % 3))
        .collect();
    let plain: Vec<Vec<String>> = lines.iter().map(|l| without::tokens(l, &2)).collect();
    let direct: Vec<Vec<String>> = lines.iter().map(|l| with::tokens(l, &2)).collect();
    assert_eq!(
        direct, plain,
        "the annotated function is still the plain one"
    );
    for o in ways() {
        let mapped = with::tokens::map_with(&o, lines.iter().map(String::as_str), &2);
        assert_eq!(mapped, plain, "{o:?}");
    }
}

// ----- more edges: order-sensitive reductions, lying size hints, pools
// inside pools, failures outside the items -----

#[parallel_map]
fn word(i: u64) -> String {
    format!("{i},")
}

/// `reduce` with an associative but not commutative `op` (concatenation)
/// gives the serial loop's string: blocks are combined in input order.
#[test]
fn a_non_commutative_reduce_keeps_the_input_order() {
    let serial: String = (0..3000).map(word).collect();
    for o in ways() {
        let got = word::reduce_with(&o, 0..3000, String::new(), |a, b| a + &b);
        assert_eq!(got, serial, "{o:?}");
        let folded = word::imap_with(&o, 0..3000).fold(String::new(), |a, b| a + &b);
        assert_eq!(folded, serial);
    }
}

/// An iterator whose size hint lies (it claims 5 items and yields 40, or
/// claims 100 and yields 3): safe code may lie, and the results are still
/// the serial loop's.
struct Liar {
    left: u64,
    claims: usize,
}

impl Iterator for Liar {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        (self.left > 0).then(|| {
            self.left -= 1;
            self.left
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claims, Some(self.claims))
    }
}

impl ExactSizeIterator for Liar {}

#[test]
fn iterators_whose_size_hint_lies() {
    for (left, claims) in [(40, 5), (3, 100), (0, 7), (1000, 1)] {
        let serial: Vec<u64> = Liar { left, claims: 0 }.map(f).collect();
        for o in ways() {
            let liar = || Liar { left, claims };
            assert_eq!(
                f::map_with(&o, items(liar())),
                serial,
                "{left} {claims} {o:?}"
            );
            assert_eq!(f::imap_with(&o, liar()).collect::<Vec<_>>(), serial);
            let mut un: Vec<(usize, u64)> = f::imap_unordered_with(&o, liar()).collect();
            un.sort_unstable();
            assert_eq!(un.into_iter().map(|p| p.1).collect::<Vec<_>>(), serial);
            let g = map_fn("f", f).options(o);
            assert_eq!(g.map(items(liar())), serial);
        }
    }
    // A slice's iterator already partly walked starts where it stands.
    let v: Vec<u64> = (0..100).collect();
    let mut it = v.iter();
    it.nth(9);
    it.next_back();
    assert_eq!(
        double::imap(it.clone()).collect::<Vec<_>>(),
        double::map(it.clone())
    );
    assert_eq!(double::map(it), (10..99).map(|x| x * 2).collect::<Vec<_>>());
}

/// Runs `work` on a thread of its own and fails if it takes over a minute
/// (a deadlock fails the test instead of hanging it).
fn within_a_minute<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("no result within a minute: a deadlock")
}

/// Pools of different sizes inside one another (`Pool(1)` whose items use
/// a `Pool(2)` whose items use the `Pool(1)` again): no deadlock, and the
/// serial result.
#[test]
fn pools_inside_pools_do_not_deadlock() {
    fn innermost(x: u64) -> u64 {
        map_fn("innermost", |y: u64| x * 100 + y)
            .options(MapOptions::new().threads(1))
            .reduce(0..10u64, 0, |a, b| a + b)
    }
    fn middle(x: u64) -> u64 {
        map_fn("middle", innermost)
            .options(MapOptions::new().threads(2))
            .map(x * 3..x * 3 + 3)
            .iter()
            .sum()
    }
    let serial: Vec<u64> = (0..8).map(middle).collect();
    let got = within_a_minute(|| {
        map_fn("outer", middle)
            .options(MapOptions::new().threads(1))
            .map(0..8u64)
    });
    assert_eq!(got, serial);
    // The same with streams and async calls on the single-thread pool.
    let got = within_a_minute(|| {
        let one = MapOptions::new().threads(1);
        let jobs: Vec<_> = (0..8).map(|x| f::apply_async_with(&one, x)).collect();
        let streamed: Vec<u64> = f::imap_with(&one, 0..8).collect();
        (
            jobs.into_iter().map(|j| j.get()).collect::<Vec<_>>(),
            streamed,
        )
    });
    assert_eq!(got.0, (0..8).map(f).collect::<Vec<_>>());
    assert_eq!(got.1, got.0);
}

static BUILDS: AtomicUsize = AtomicUsize::new(0);

fn counted_state() -> Vec<u64> {
    BUILDS.fetch_add(1, Ordering::SeqCst);
    Vec::new()
}

/// `Pool(initializer=…)` with `initargs`: the state's function takes no
/// arguments, so what it needs comes from the item or the shared arguments.
#[parallel_map(init = "counted_state")]
fn running_max(x: u64, offset: &u64, seen: &mut Vec<u64>) -> u64 {
    seen.push(x);
    x + offset
}

#[test]
fn the_state_is_not_built_for_no_items_and_at_most_once_per_thread() {
    BUILDS.store(0, Ordering::SeqCst);
    assert_eq!(running_max::map(0..0, &1), Vec::<u64>::new());
    assert_eq!(BUILDS.load(Ordering::SeqCst), 0, "built for no item");
    let four = MapOptions::new().threads(4);
    let serial: Vec<u64> = (0..500).map(|x| x + 7).collect();
    assert_eq!(running_max::map_with(&four, 0..500, &7), serial);
    assert!((1..=4).contains(&BUILDS.load(Ordering::SeqCst)));
}

/// A panic of the `op` of `reduce` or of the consumer is not an item's:
/// it comes out as it is, and the pool lives on.
#[test]
fn a_panic_outside_the_items_comes_out_as_it_is() {
    for o in ways() {
        let p = std::panic::catch_unwind(|| {
            f::reduce_with(&o, 0..100, 0, |a, b| {
                assert!(b != 49 * 49, "op failed");
                a + b
            })
        })
        .unwrap_err();
        let text = p
            .downcast_ref::<String>()
            .cloned()
            .or(p.downcast_ref::<&str>().map(|s| s.to_string()))
            .or(p.downcast_ref::<ItemPanic>().map(|p| p.to_string()))
            .unwrap_or_default();
        assert!(text.contains("op failed"), "{text:?}, {o:?}");
        assert_eq!(f::map_with(&o, 0..10), (0..10).map(f).collect::<Vec<_>>());
    }
}

/// Every item fails: the lowest of those that started is named, whatever
/// the way; the serial loop names item 0.
#[test]
fn the_failure_named_is_the_lowest_that_started() {
    for o in ways() {
        for failing in [
            vec![0u64, 500, 999],
            (0..1000).collect(),
            vec![3, 4],
            vec![998, 999],
        ] {
            let started = Mutex::new(Vec::new());
            let e = map_fn("check", |x: u64| {
                started.lock().unwrap().push(x);
                if failing.contains(&x) {
                    Err(x)
                } else {
                    Ok(x)
                }
            })
            .options(o)
            .try_map(0..1000u64)
            .unwrap_err();
            let started = started.into_inner().unwrap();
            let lowest = started
                .iter()
                .filter(|x| failing.contains(x))
                .min()
                .copied();
            assert_eq!(Some(e.index() as u64), lowest, "{o:?}");
            assert_eq!(*e.error(), e.index() as u64);
        }
    }
}
