//! Issue 10's second part: integer ranges that infer their item type,
//! pools of their own size beside the shared one, per-worker state
//! (`init`) and tuple items (`items = n`).

use std::collections::HashSet;
use std::sync::Mutex;

use parallel_runtime::prelude::*;

#[parallel_map]
fn as_usize(i: usize) -> usize {
    i * 2
}

#[parallel_map]
fn as_u64(i: u64) -> u64 {
    i * 2
}

#[parallel_map]
fn as_i32(i: i32) -> i32 {
    i * 2
}

#[test]
fn integer_ranges_take_the_item_type_of_the_function() {
    let expect: Vec<usize> = (0..100).map(|i| i * 2).collect();
    assert_eq!(as_usize::map(0..100), expect);
    assert_eq!(as_usize::map(0..=99), expect);
    let expect: Vec<u64> = (0..100).map(|i| i * 2).collect();
    assert_eq!(as_u64::map(0..100), expect);
    assert_eq!(as_u64::map(0..=99), expect);
    // Negative bounds, and the serial backend.
    let expect: Vec<i32> = (-50..50).map(|i| i * 2).collect();
    assert_eq!(as_i32::map(-50..50), expect);
    assert_eq!(as_i32::map(-50..=49), expect);
    let serial = MapOptions::new().backend(Backend::Serial);
    assert_eq!(as_i32::map_with(&serial, -50..50), expect);
    assert_eq!(as_i32::reduce(-50..=49, 0, |a, b| a + b), -100);
    assert_eq!(as_i32::map(5..5), Vec::<i32>::new());
    #[allow(clippy::reversed_empty_ranges)]
    let empty = as_i32::map(5..=4);
    assert!(empty.is_empty());
}

/// The worker thread each item ran on, as (thread id, rayon's index).
#[parallel_map]
fn whose(_i: usize, seen: &Mutex<HashSet<std::thread::ThreadId>>) -> Option<usize> {
    // Long enough for every thread of the pool to take some items.
    std::thread::sleep(std::time::Duration::from_micros(200));
    seen.lock()
        .expect("a test lock")
        .insert(std::thread::current().id());
    rayon::current_thread_index()
}

fn threads_used(options: &MapOptions) -> (usize, Vec<Option<usize>>) {
    let seen = Mutex::new(HashSet::new());
    let indices = whose::map_with(options, 0..400, &seen);
    let n = seen.lock().expect("a test lock").len();
    (n, indices)
}

#[test]
fn a_call_runs_on_a_pool_of_the_size_it_asks_for() {
    if parallel_tests::backend_forced_away_from(
        "a_call_runs_on_a_pool_of_the_size_it_asks_for",
        &["threads"],
    ) {
        return;
    }
    let shared = parallel_runtime::num_threads();
    for n in [1, 3, 5] {
        for schedule in [Schedule::Dynamic, Schedule::Guided, Schedule::Static] {
            let options = MapOptions::new().threads(n).schedule(schedule);
            let (distinct, indices) = threads_used(&options);
            assert!(distinct <= n, "{distinct} threads ran a call on {n}");
            assert!(indices.iter().all(|i| i.is_some_and(|i| i < n)));
            if n > 1 && schedule != Schedule::Static {
                assert!(distinct > 1, "only one of {n} threads took work");
            }
        }
    }
    // The pool of one size is built once and reused.
    let seen_before: HashSet<_> = {
        let seen = Mutex::new(HashSet::new());
        whose::map_with(&MapOptions::new().threads(3), 0..200, &seen);
        seen.into_inner().expect("a test lock")
    };
    let seen_after = Mutex::new(HashSet::new());
    whose::map_with(&MapOptions::new().threads(3), 0..200, &seen_after);
    assert!(seen_after
        .into_inner()
        .expect("a test lock")
        .is_subset(&seen_before));
    // The shared pool is the one it was, and runs everything else.
    assert_eq!(parallel_runtime::num_threads(), shared);
    let (_, indices) = threads_used(&MapOptions::new());
    assert!(indices.iter().all(|i| i.is_some_and(|i| i < shared)));
    assert_eq!(rayon::current_num_threads(), shared);
}

#[test]
fn reduce_and_try_map_run_on_the_asked_pool_too() {
    #[parallel_map]
    fn pool_size(_i: u32) -> Result<usize, String> {
        Ok(rayon::current_num_threads())
    }
    let two = MapOptions::new().threads(2);
    assert!(pool_size::try_map_with(&two, 0..100)
        .unwrap()
        .iter()
        .all(|&n| n == 2));
    let total = pool_size::reduce_with(&two, 0..100, Ok(0), |a, b| Ok(a? + b?));
    assert_eq!(total, Ok(200));
}

#[test]
#[should_panic(expected = "threads must be at least 1")]
fn zero_threads_is_refused() {
    let _ = MapOptions::new().threads(0);
}

#[test]
fn more_threads_than_the_machine_can_run_is_refused_at_the_call() {
    if parallel_tests::backend_forced_away_from(
        "more_threads_than_the_machine_can_run_is_refused_at_the_call",
        &["threads"],
    ) {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let absurd = (cores * parallel_runtime::config::MAX_THREADS_PER_CORE + 1)
        .min(parallel_runtime::config::MAX_THREADS);
    if absurd <= cores * parallel_runtime::config::MAX_THREADS_PER_CORE {
        return; // a machine of 64 cores or more: the cap is MAX_THREADS itself
    }
    let options = MapOptions::new().threads(absurd);
    let err = std::panic::catch_unwind(|| as_usize::map_with(&options, 0..10))
        .expect_err("too many threads");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.starts_with(&format!(
            "invalid number of threads {absurd}: expected at most"
        )),
        "{msg}"
    );
}

/// A small random-number generator, the typical per-worker state.
struct Rng {
    state: u64,
}

static RNG_BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn make_rng() -> Rng {
    RNG_BUILDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Rng { state: 0x9E37_79B9 }
}

/// Each item's result depends on the item alone; the state is scratch
/// space (here: it counts the items its worker ran).
#[parallel_map(init = "make_rng")]
fn noisy(x: u64, scale: &u64, rng: &mut Rng) -> u64 {
    rng.state = rng.state.wrapping_mul(6364136223846793005).wrapping_add(1);
    x * scale
}

/// Builds of `make_rng` during `run`. Serialised: the counter is global.
fn builds_during<R>(run: impl FnOnce() -> R) -> (R, usize) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let before = RNG_BUILDS.load(std::sync::atomic::Ordering::SeqCst);
    let out = run();
    (
        out,
        RNG_BUILDS.load(std::sync::atomic::Ordering::SeqCst) - before,
    )
}

#[test]
fn the_state_is_built_at_most_once_per_worker_per_call() {
    let expect: Vec<u64> = (0..10_000).map(|x| x * 3).collect();
    for n in [1, 2, 3] {
        for schedule in [Schedule::Guided, Schedule::Dynamic, Schedule::Static] {
            let options = MapOptions::new().threads(n).schedule(schedule);
            let (out, builds) = builds_during(|| noisy::map_with(&options, 0..10_000, &3));
            assert_eq!(out, expect);
            assert!((1..=n).contains(&builds), "{builds} builds on {n} threads");
        }
    }
    let shared = parallel_runtime::num_threads();
    let (out, builds) = builds_during(|| noisy::map(0..10_000, &3));
    assert_eq!(out, expect);
    assert!(
        (1..=shared).contains(&builds),
        "{builds} builds on {shared} threads"
    );
    // The serial backend builds it once.
    let serial = MapOptions::new().backend(Backend::Serial);
    let (out, builds) = builds_during(|| noisy::map_with(&serial, 0..10_000, &3));
    assert_eq!((out, builds), (expect, 1));
}

#[test]
fn the_state_works_with_try_map_and_reduce() {
    #[parallel_map(init = "Vec::new", threads = 2)]
    fn parse(s: &str, scratch: &mut Vec<u8>) -> Result<u32, String> {
        scratch.clear();
        scratch.extend(s.bytes().rev());
        s.parse().map_err(|_| format!("not a number: {s}"))
    }
    assert_eq!(parse::try_map(["1", "2", "3"]), Ok(vec![1, 2, 3]));
    let err = parse::try_map(["1", "x", "3"]).expect_err("x is no number");
    assert_eq!(err.index(), 1);
    let (total, builds) = builds_during(|| noisy::reduce(0..1000, &1, 0, |a, b| a + b));
    assert_eq!(total, 499_500);
    assert!((1..=parallel_runtime::num_threads()).contains(&builds));
}

/// `Pool.starmap`: each item a pair, given to the first two parameters.
#[parallel_map(items = 2)]
fn power(base: u64, exp: u32, modulus: &u64) -> u64 {
    base.pow(exp) % modulus
}

#[test]
fn tuple_items_fill_the_first_parameters() {
    // The example of docs/parallel_map.md.
    assert_eq!(power::map(vec![(2, 10), (3, 4)], &1000), vec![24, 81]);
    let pairs: Vec<(u64, u32)> = (0..100).map(|i| (i, (i % 4) as u32)).collect();
    let expect: Vec<u64> = pairs.iter().map(|&(b, e)| b.pow(e) % 7).collect();
    assert_eq!(power::map(pairs.clone(), &7), expect);
    // Zipped sequences, as Python's `starmap(f, zip(a, b))`.
    let (bases, exps): (Vec<u64>, Vec<u32>) = pairs.iter().copied().unzip();
    assert_eq!(power::map(bases.into_iter().zip(exps), &7), expect);
    let serial = MapOptions::new().backend(Backend::Serial);
    assert_eq!(power::map_with(&serial, pairs.clone(), &7), expect);
    let sum = power::reduce(pairs, &7, 0, |a, b| a + b);
    assert_eq!(sum, expect.iter().sum::<u64>());
}

#[test]
fn tuple_items_by_reference_and_the_state_together() {
    #[parallel_map(items = 2, init = "String::new")]
    fn label(name: &str, n: &usize, buf: &mut String) -> usize {
        use std::fmt::Write;
        buf.clear();
        let _ = write!(buf, "{name}-{n}");
        buf.len()
    }
    let names = ["a", "bb", "ccc"];
    let items: Vec<(&str, &usize)> = names.iter().copied().zip(&[1, 22, 333]).collect();
    assert_eq!(label::map(items), vec![3, 5, 7]);
}

/// A state whose building runs a parallel map of slow items itself.
#[parallel_map]
fn slow_double(x: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_micros(20));
    2 * x
}

struct Table(Vec<u64>);

fn table_built_in_parallel() -> Table {
    let dynamic = MapOptions::new().schedule(Schedule::Dynamic);
    Table(slow_double::map_with(&dynamic, 0..100u64))
}

#[parallel_map(init = "table_built_in_parallel")]
fn look_up(i: usize, table: &mut Table) -> u64 {
    table.0[i % 100]
}

/// While `init` runs a map, its worker may take another item of the same
/// call (rayon lets a waiting thread run other jobs); that item must not
/// wait for the slot the first one is still building. It hung within a few
/// calls, on 2 threads and more, when `init` ran with the slot locked.
#[test]
fn a_state_built_by_a_parallel_map_does_not_deadlock() {
    let want: Vec<u64> = (0..64).map(|i| 2 * i as u64).collect();
    for threads in [1, 2, 4] {
        let options = MapOptions::new().threads(threads);
        let want = want.clone();
        parallel_tests::within(120, "an init that runs a map", move || {
            for _ in 0..100 {
                assert_eq!(look_up::map_with(&options, 0..64), want);
            }
        });
    }
}

fn failing_init() -> u64 {
    panic!("no state today")
}

#[parallel_map(init = "failing_init")]
fn needs_state(x: u64, s: &mut u64) -> u64 {
    x + *s
}

#[test]
fn an_init_that_panics_is_the_items_panic_and_the_pool_lives_on() {
    for backend in [Backend::Serial, Backend::Threads] {
        let options = MapOptions::new().backend(backend);
        let caught = std::panic::catch_unwind(|| needs_state::map_with(&options, 0..100u64))
            .expect_err("init panics");
        let p = caught.downcast::<ItemPanic>().expect("an ItemPanic");
        assert_eq!(p.function(), "needs_state");
        assert_eq!(p.message(), Some("no state today"));
        assert_eq!(look_up::map_with(&options, 0..3), [0, 2, 4]);
    }
}

/// The program's first parallel call made inside a rayon pool of its own
/// (here of one thread): the shared pool is the size asked for, and says
/// so. It took the size of the pool the call ran in (1) for the shared
/// pool's, warned that the 3 threads asked for were not granted, and sized
/// the windows of streams by it. In a child process: the first call is
/// once per process.
#[test]
fn a_first_call_inside_a_pool_of_the_programs_own_sizes_the_shared_pool_right() {
    const CHILD: &str = "WORKER_STATE_FIRST_CALL_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let exe = std::env::current_exe().expect("the test binary");
        let mut cmd = std::process::Command::new(exe);
        cmd.args([
            "--exact",
            "a_first_call_inside_a_pool_of_the_programs_own_sizes_the_shared_pool_right",
        ])
        .env(CHILD, "1")
        .env("PARALLEL_NUM_THREADS", "3")
        .env_remove("PARALLEL_BACKEND")
        .env_remove("RAYON_NUM_THREADS");
        let done = parallel_tests::run_with_deadline(&mut cmd, std::time::Duration::from_secs(60));
        assert!(done.success, "{}\n{}", done.stdout, done.stderr);
        assert!(done.stdout.contains("1 passed"), "{}", done.stdout);
        assert!(!done.stderr.contains("warning"), "{}", done.stderr);
        return;
    }
    let own = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool of one thread");
    let inside = own.install(|| {
        let doubled = as_usize::map(0..10);
        (parallel_runtime::num_threads(), doubled[9])
    });
    assert_eq!(inside, (3, 18));
    assert_eq!(parallel_runtime::num_threads(), 3);
    assert_eq!(rayon::current_num_threads(), 3);
}
