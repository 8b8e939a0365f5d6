//! Maps across ranks beyond the whole world: `try_map` split across ranks
//! (the first failure reaching every rank), and maps and reduces on a
//! communicator from `split`, installed with `Comm::install`. Local worlds
//! of threads here; under real MPI in `tests/map.rs` (`mpi_maps split`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use parallel_runtime::mpi::local;
use parallel_runtime::prelude::*;

/// The tests count items across the ranks of one local world: one at a time.
static ONE: Mutex<()> = Mutex::new(());
static RAN: AtomicUsize = AtomicUsize::new(0);

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    let one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    RAN.store(0, Ordering::SeqCst);
    one
}

#[parallel_map(backend = "mpi")]
fn checked_sqrt(x: u64, bad: &Option<u64>) -> Result<f64, String> {
    RAN.fetch_add(1, Ordering::SeqCst);
    if Some(x) == *bad {
        Err(format!("{x} is bad"))
    } else {
        Ok((x as f64).sqrt())
    }
}

/// An error type without serde: `try_map` cannot send it between ranks.
#[derive(Debug, PartialEq)]
struct Opaque(u64);

// `backend = "mpi"` on the attribute requires serde results at compile
// time; the backend chosen at run time does not.
#[parallel_map]
fn opaque_check(x: u64, bad: &Option<u64>) -> Result<u64, Opaque> {
    RAN.fetch_add(1, Ordering::SeqCst);
    if Some(x) == *bad {
        Err(Opaque(x))
    } else {
        Ok(x * 2)
    }
}

#[parallel_map(backend = "mpi")]
fn square(x: u64) -> u64 {
    RAN.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[test]
fn try_map_splits_its_items_across_ranks() {
    if parallel_tests::backend_forced_away_from("try_map_splits_its_items_across_ranks", &["mpi"]) {
        return;
    }
    let _one = one_at_a_time();
    let want: Vec<f64> = (0..1000u64).map(|x| (x as f64).sqrt()).collect();
    for ranks in 1..=4 {
        RAN.store(0, Ordering::SeqCst);
        let out = local::run(ranks, |_| checked_sqrt::try_map(0..1000u64, &None));
        for got in out {
            assert_eq!(got.expect("no item fails"), want, "{ranks} ranks");
        }
        // Each item ran once in the whole job, not once per rank.
        assert_eq!(RAN.load(Ordering::SeqCst), 1000, "{ranks} ranks");
    }
}

#[test]
fn a_failure_on_one_rank_reaches_every_rank_with_its_index_and_error() {
    let _one = one_at_a_time();
    for ranks in 1..=4 {
        // Item 900 is in the last rank's share.
        let out = local::run(ranks, |_| checked_sqrt::try_map(0..1000u64, &Some(900)));
        for (rank, got) in out.into_iter().enumerate() {
            let e = got.expect_err("item 900 fails");
            assert_eq!(e.index(), 900, "rank {rank} of {ranks}");
            assert_eq!(e.error(), "900 is bad", "rank {rank} of {ranks}");
            assert_eq!(
                e.to_string(),
                "checked_sqrt: item 900 failed: 900 is bad",
                "rank {rank} of {ranks}"
            );
        }
    }
}

#[test]
fn the_lowest_failing_rank_wins() {
    let _one = one_at_a_time();
    #[parallel_map(backend = "mpi")]
    fn fails_from(x: u64, from: &u64) -> Result<u64, u64> {
        if x >= *from {
            Err(x)
        } else {
            Ok(x)
        }
    }
    // Items from 30 fail: rank 0 (items 0..25) succeeds, ranks 1 to 3 fail.
    let out = local::run(4, |_| fails_from::try_map(0..100u64, &30));
    for got in out {
        let e = got.expect_err("items from 30 fail");
        // Shares of 25: rank 1 holds 25..50 and fails first at 30 or later
        // (items that started before its failure was seen may fail too).
        assert!(e.index() >= 30 && e.index() < 50, "{}", e.index());
        assert_eq!(*e.error(), e.index() as u64);
    }
}

#[test]
fn an_error_type_without_serde_runs_every_item_on_every_rank() {
    let _one = one_at_a_time();
    let mpi = MapOptions::new().backend(Backend::Mpi);
    let out = local::run(3, |_| opaque_check::try_map_with(&mpi, 0..100u64, &None));
    for got in out {
        assert_eq!(got.unwrap(), (0..100u64).map(|x| x * 2).collect::<Vec<_>>());
    }
    assert_eq!(RAN.load(Ordering::SeqCst), 300, "each rank ran every item");
    let out = local::run(3, |_| opaque_check::try_map_with(&mpi, 0..100u64, &Some(7)));
    for got in out {
        let e = got.unwrap_err();
        assert_eq!((e.index(), e.error()), (7, &Opaque(7)));
    }
}

#[test]
fn maps_and_reduces_run_on_an_installed_sub_communicator() {
    if parallel_tests::backend_forced_away_from(
        "maps_and_reduces_run_on_an_installed_sub_communicator",
        &["mpi"],
    ) {
        return;
    }
    let _one = one_at_a_time();
    let want: Vec<u64> = (0..100u64).map(|x| x * x).collect();
    let sum: u64 = want.iter().sum();
    let out = local::run(4, |world| {
        // Two halves: the even ranks and the odd ranks.
        let half = world
            .split(Some(world.rank() as u32 % 2), 0)
            .unwrap()
            .unwrap();
        let (squares, total) = half.install(|| {
            (
                square::map(0..100u64),
                square::reduce(0..100u64, 0, |a, b| a + b),
            )
        });
        world.barrier().unwrap();
        (half.size(), squares, total)
    });
    for (size, squares, total) in out {
        assert_eq!(size, 2);
        assert_eq!(squares, want);
        assert_eq!(total, sum);
    }
    // Each half ran each item once for the map and once for the reduce.
    assert_eq!(RAN.load(Ordering::SeqCst), 2 * 2 * 100);
}

#[test]
fn a_communicator_of_one_rank_runs_the_map_here_and_the_world_comes_back() {
    if parallel_tests::backend_forced_away_from(
        "a_communicator_of_one_rank_runs_the_map_here_and_the_world_comes_back",
        &["mpi"],
    ) {
        return;
    }
    let _one = one_at_a_time();
    let out = local::run(3, |world| {
        let alone = world.split(Some(world.rank() as u32), 0).unwrap().unwrap();
        let here = alone.install(|| square::map(0..10u64));
        world.barrier().unwrap();
        let ran_alone = RAN.load(Ordering::SeqCst);
        world.barrier().unwrap();
        // After install the world is the maps' communicator again.
        let again = square::map(0..10u64);
        (here, ran_alone, again)
    });
    let want: Vec<u64> = (0..10u64).map(|x| x * x).collect();
    for (here, ran_alone, again) in out {
        assert_eq!(here, want);
        assert_eq!(again, want);
        assert_eq!(ran_alone, 30, "each rank alone ran every item");
    }
    assert_eq!(RAN.load(Ordering::SeqCst), 30 + 10);
}

#[test]
fn install_puts_the_previous_communicator_back_after_a_panic() {
    if parallel_tests::backend_forced_away_from(
        "install_puts_the_previous_communicator_back_after_a_panic",
        &["mpi"],
    ) {
        return;
    }
    let _one = one_at_a_time();
    let out = local::run(2, |world| {
        let alone = world.split(Some(world.rank() as u32), 0).unwrap().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            alone.install(|| panic!("inside install"))
        }));
        assert!(r.is_err());
        square::map(0..10u64)
    });
    for got in out {
        assert_eq!(got, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
    }
    // Split across the world again: each item once.
    assert_eq!(RAN.load(Ordering::SeqCst), 10);
}
