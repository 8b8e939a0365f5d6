//! The general property of `#[parallel_map]`: whatever the items (every
//! documented kind: `Vec`, slices, ranges, `HashMap`, `BTreeMap`, `HashSet`,
//! iterators), their number (0 included), the schedule, the chunk size, the
//! number of threads and the backend (serial, threads, and `mpi` in a local
//! world of 1 to 4 ranks), `map`, `try_map` and `reduce` give what the plain
//! loop gives: the same results in the same order, and for `reduce` the same
//! bits (f64 sums of values of very different magnitudes, so that another
//! grouping of the additions would show).
//!
//! Thread counts: the runtime has one shared pool, so each case runs inside
//! a rayon `ThreadPool` of 1 to 4 threads (`ThreadPool::install`), which the
//! maps then use. In a local world the ranks are threads that are not in
//! such a pool (a map splits across ranks only on the thread its rank was
//! started on), so there the maps use the shared pool.
//!
//! Under real MPI the same comparisons run in `tests/bin/mpi_maps.rs`,
//! started here by `mpirun -n 2` and `mpirun -n 4 --oversubscribe` when the
//! binaries were built with MPI (`--features parallel-runtime/mpi`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use parallel_runtime::mpi::local;
use parallel_runtime::prelude::*;
use parallel_tests::{bits, plain_reduce};
use proptest::prelude::*;

#[allow(dead_code)]
#[path = "bin/mpirun_support.rs"]
mod mpirun_support;

// ----- the functions, one per item type ---------------------------------

/// Values of very different magnitudes, so that the grouping of additions
/// shows in the bits of a sum.
fn noisy(x: u64, salt: u64) -> f64 {
    let u = (x ^ salt) % 1000;
    (u as f64).sin() * 10f64.powi((u % 17) as i32 - 8)
}

fn fails(x: u64, fail: Option<u64>) -> bool {
    fail.is_some_and(|k| x % 13 == k)
}

fn pair_key(k: u64, v: u64) -> u64 {
    k ^ v.rotate_left(17)
}

#[parallel_map]
fn owned(x: u64, salt: &u64) -> f64 {
    noisy(x, *salt)
}

#[parallel_map]
fn owned_try(x: u64, fail: &Option<u64>) -> Result<f64, u64> {
    if fails(x, *fail) {
        Err(x)
    } else {
        Ok(noisy(x, 0))
    }
}

#[parallel_map]
fn by_ref(x: &u64, salt: &u64) -> f64 {
    noisy(*x, *salt)
}

#[parallel_map]
fn by_ref_try(x: &u64, fail: &Option<u64>) -> Result<f64, u64> {
    owned_try(*x, fail)
}

#[parallel_map]
fn pair(e: (u64, u64), salt: &u64) -> f64 {
    noisy(pair_key(e.0, e.1), *salt)
}

#[parallel_map]
fn pair_try(e: (u64, u64), fail: &Option<u64>) -> Result<f64, u64> {
    owned_try(pair_key(e.0, e.1), fail)
}

#[parallel_map]
fn entry(e: (&u64, &u64), salt: &u64) -> f64 {
    noisy(pair_key(*e.0, *e.1), *salt)
}

#[parallel_map]
fn entry_try(e: (&u64, &u64), fail: &Option<u64>) -> Result<f64, u64> {
    owned_try(pair_key(*e.0, *e.1), fail)
}

// ----- the plain loop ------------------------------------------------------

/// The plain loop of `try_map`: the values, or the first failure.
fn plain_try<T>(
    items: impl IntoIterator<Item = T>,
    f: impl Fn(T) -> Result<f64, u64>,
) -> Result<Vec<f64>, (usize, u64)> {
    let mut out = Vec::new();
    for (i, x) in items.into_iter().enumerate() {
        out.push(f(x).map_err(|e| (i, e))?);
    }
    Ok(out)
}

/// Checks `try_map`'s answer against the plain loop's. The serial backend
/// reports the first failure; the others the lowest failure among the items
/// that ran, which is a failing item at or after the first one.
fn check_try(
    what: &str,
    got: Result<Vec<f64>, ItemError<u64>>,
    want: &Result<Vec<f64>, (usize, u64)>,
    all: &[Result<f64, u64>],
    serial: bool,
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(g), Ok(w)) => prop_assert_eq!(bits(&g), bits(w), "{}: try_map", what),
        (Err(e), Err((first, err))) => {
            if serial {
                prop_assert_eq!((e.index(), *e.error()), (*first, *err), "{}: try_map", what);
            } else {
                prop_assert!(
                    e.index() >= *first,
                    "{}: index {} < {}",
                    what,
                    e.index(),
                    first
                );
                prop_assert_eq!(&all[e.index()], &Err(*e.error()), "{}: try_map", what);
            }
        }
        (g, w) => prop_assert!(
            false,
            "{}: try_map gave {:?}, the loop {:?}",
            what,
            g.map(|v| v.len()),
            w.as_ref().map(|v| v.len())
        ),
    }
    Ok(())
}

// ----- the cases ----------------------------------------------------------

/// One random case: the items, and how to run them.
#[derive(Clone, Debug)]
struct Case {
    values: Vec<u64>,
    salt: u64,
    fail: Option<u64>,
    schedule: Schedule,
    chunk: Option<usize>,
}

impl Case {
    fn options(&self, backend: Backend) -> MapOptions {
        let o = MapOptions::new().schedule(self.schedule).backend(backend);
        match self.chunk {
            Some(c) => o.chunk_size(c),
            None => o,
        }
    }

    /// Distinct keys (an odd multiplier and a xor are bijections), for
    /// maps and sets.
    fn keys(&self) -> Vec<u64> {
        (0..self.values.len() as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.salt)
            .collect()
    }
}

fn case() -> impl Strategy<Value = Case> {
    let len = prop_oneof![4 => 0usize..=16, 4 => 0usize..=400, 1 => 2000usize..=5000];
    let chunk = prop_oneof![2 => Just(None), 3 => (1usize..=40).prop_map(Some), 1 => (100usize..=10_000).prop_map(Some)];
    let schedule = prop_oneof![
        Just(Schedule::Static),
        Just(Schedule::Dynamic),
        Just(Schedule::Guided)
    ];
    let fail = prop_oneof![2 => Just(None), 1 => (0u64..13).prop_map(Some), 1 => Just(Some(99))];
    (len, any::<u64>(), fail, schedule, chunk).prop_flat_map(|(n, salt, fail, schedule, chunk)| {
        proptest::collection::vec(any::<u64>(), n).prop_map(move |values| Case {
            values,
            salt,
            fail,
            schedule,
            chunk,
        })
    })
}

/// `map`, `try_map` and `reduce` of one function over one source, against
/// the plain loop. `$src` is evaluated afresh for every run (and for the
/// loop): a clone of a `HashMap` keeps its order.
macro_rules! check_source {
    ($what:expr, $o:expr, $case:expr, $serial:expr, $f:ident, $f_try:ident, $src:expr) => {{
        let (o, case, what): (&MapOptions, &Case, &str) = ($o, $case, $what);
        let want: Vec<f64> = ($src).into_iter().map(|x| $f(x, &case.salt)).collect();
        let got = $f::map_with(o, $src, &case.salt);
        prop_assert_eq!(bits(&got), bits(&want), "{}: map", what);
        let sum = $f::reduce_with(o, $src, &case.salt, 0.0, |a, b| a + b);
        prop_assert_eq!(
            sum.to_bits(),
            plain_reduce(&want).to_bits(),
            "{}: reduce",
            what
        );
        let all: Vec<Result<f64, u64>> =
            ($src).into_iter().map(|x| $f_try(x, &case.fail)).collect();
        let want_try = plain_try($src, |x| $f_try(x, &case.fail));
        check_try(
            what,
            $f_try::try_map_with(o, $src, &case.fail),
            &want_try,
            &all,
            $serial,
        )?;
    }};
}

/// The maps and sets of one case, built once: a clone keeps the order of
/// its original, so every rank of a local world sees the same order.
struct Collections {
    hash_map: HashMap<u64, u64>,
    btree_map: BTreeMap<u64, u64>,
    hash_set: HashSet<u64>,
}

impl Collections {
    fn of(case: &Case) -> Self {
        let keys = case.keys();
        let hash_map: HashMap<u64, u64> = keys
            .iter()
            .copied()
            .zip(case.values.iter().copied())
            .collect();
        Collections {
            btree_map: hash_map.iter().map(|(k, v)| (*k, *v)).collect(),
            hash_set: keys.into_iter().collect(),
            hash_map,
        }
    }
}

/// Every documented kind of items, through `check_source!`.
fn check_all_sources(case: &Case, c: &Collections, backend: Backend) -> Result<(), TestCaseError> {
    let o = &case.options(backend);
    let serial = backend == Backend::Serial;
    let v = &case.values;
    let n = v.len() as u64;
    let Collections {
        hash_map,
        btree_map,
        hash_set,
    } = c;

    check_source!("Vec", o, case, serial, owned, owned_try, v.clone());
    check_source!("&[T]", o, case, serial, by_ref, by_ref_try, &v[..]);
    check_source!("&Vec", o, case, serial, by_ref, by_ref_try, v);
    check_source!("slice::Iter", o, case, serial, by_ref, by_ref_try, v.iter());
    check_source!("Range", o, case, serial, owned, owned_try, 0..n);
    check_source!("RangeInclusive", o, case, serial, owned, owned_try, 1..=n);
    check_source!("HashMap", o, case, serial, pair, pair_try, hash_map.clone());
    check_source!("&HashMap", o, case, serial, entry, entry_try, hash_map);
    check_source!(
        "hash_map::Iter",
        o,
        case,
        serial,
        entry,
        entry_try,
        hash_map.iter()
    );
    check_source!(
        "BTreeMap",
        o,
        case,
        serial,
        pair,
        pair_try,
        btree_map.clone()
    );
    check_source!("&BTreeMap", o, case, serial, entry, entry_try, btree_map);
    check_source!(
        "HashSet",
        o,
        case,
        serial,
        owned,
        owned_try,
        hash_set.clone()
    );
    check_source!("&HashSet", o, case, serial, by_ref, by_ref_try, hash_set);
    check_source!(
        "iter().map()",
        o,
        case,
        serial,
        owned,
        owned_try,
        v.iter().map(|x| x ^ 5)
    );
    check_source!(
        "filter",
        o,
        case,
        serial,
        owned,
        owned_try,
        v.clone().into_iter().filter(|x| x % 3 != 0)
    );
    check_source!(
        "items(…)",
        o,
        case,
        serial,
        owned,
        owned_try,
        items(v.iter().copied().rev())
    );
    Ok(())
}

/// Pools of 1 to 4 threads, built once.
fn pool(threads: usize) -> &'static rayon::ThreadPool {
    static POOLS: OnceLock<Vec<rayon::ThreadPool>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        (1..=4)
            .map(|t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .expect("a test pool")
            })
            .collect()
    });
    &pools[threads - 1]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn serial_and_threads_backends_match_the_plain_loop(
        case in case(),
        threads in 1usize..=4,
        serial in any::<bool>(),
    ) {
        let backend = if serial { Backend::Serial } else { Backend::Threads };
        let collections = Collections::of(&case);
        pool(threads).install(|| check_all_sources(&case, &collections, backend))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_mpi_backend_in_a_local_world_matches_the_plain_loop(
        case in case(),
        ranks in 1usize..=4,
    ) {
        // Every rank builds its own sources from the case; the maps and sets
        // are cloned from one built here, so every rank sees the same order.
        let collections = Collections::of(&case);
        let outcomes =
            local::run(ranks, |_world| check_all_sources(&case, &collections, Backend::Mpi));
        for (rank, outcome) in outcomes.into_iter().enumerate() {
            outcome.map_err(|e| TestCaseError::fail(format!("rank {rank} of {ranks}: {e}")))?;
        }
    }
}

/// The same comparisons under real MPI: `tests/bin/mpi_maps.rs` run by
/// `mpirun -n 2` and `mpirun -n 4 --oversubscribe`, each under a deadline.
/// Skipped, saying why, where `mpirun` is missing or the binaries were built
/// without MPI.
#[test]
fn the_mpi_backend_under_mpirun_matches_the_plain_loop() {
    for (ranks, cases) in [(2, 100), (4, 50)] {
        let args = ["properties", "20240611", &cases.to_string()];
        let deadline = std::time::Duration::from_secs(300);
        let Some(run) = mpirun_support::run_mpi_maps(ranks, &args, deadline) else {
            return;
        };
        assert_eq!(
            run.code,
            Some(0),
            "{ranks} ranks failed; stderr:\n{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains(&format!("all {ranks} ranks: {cases} cases passed")),
            "{ranks} ranks; stderr:\n{}",
            run.stderr
        );
    }
}
