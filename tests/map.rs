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

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
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
        let msg = panic_message(p);
        assert_eq!(
            msg, "explode_at_13: item 13 panicked: cannot handle 13",
            "{backend:?}"
        );
    }
    // The pool is still usable afterwards.
    assert_eq!(explode_at_13::map(0..5u32), vec![0, 1, 2, 3, 4]);
    let p =
        std::panic::catch_unwind(|| explode_at_13::reduce(0..100u32, 0, |a, b| a + b)).unwrap_err();
    assert_eq!(
        panic_message(p),
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
    let p = std::panic::catch_unwind(|| {
        all_fail_from_500::map_with(&MapOptions::new().backend(Backend::Serial), 0..1000u32)
    })
    .unwrap_err();
    assert_eq!(
        panic_message(p),
        "all_fail_from_500: item 500 panicked: x = 500"
    );
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
