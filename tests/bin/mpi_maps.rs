//! `#[parallel_map]` with `backend = "mpi"` across real MPI processes, run
//! under `mpirun` by `tests/map.rs` and `tests/properties.rs`:
//!
//! - `mpi_maps hashmap`: every rank builds its own `HashMap` of 1,000
//!   entries (so each iterates in its own order) and maps over it: every
//!   rank must fail, before any item runs, naming the ranks and the cause.
//! - `mpi_maps sorted`: the same entries in a `BTreeMap`, a sorted `Vec` and
//!   a `HashMap` with a fixed hasher: every key exactly once in the job.
//! - `mpi_maps properties <seed> <cases>`: random cases (items of every
//!   documented kind, sizes from 0, schedules, chunk sizes), `map`,
//!   `try_map` and `reduce` against the plain loop: the same results in the
//!   same order, the same bits for `reduce`.
//!
//! - `mpi_maps split`: the world split in two halves (even and odd ranks);
//!   `map`, `reduce` and `try_map` on each half through `Comm::install`:
//!   the loop's results on every rank, and each item once per half; then
//!   `try_map` on the world, split, its failure on every rank; the call-site
//!   `map_fn(…).map_mpi` and `reduce_mpi`, split.
//!
//! Each rank writes `rank R of S: started` first (a world of one under
//! `mpirun` means the binary was built without MPI).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};

use parallel_runtime::prelude::*;
use parallel_tests::{bits, plain_reduce};

static RAN: AtomicUsize = AtomicUsize::new(0);

#[parallel_map(backend = "mpi")]
fn key_of(entry: (&u32, &String)) -> u32 {
    RAN.fetch_add(1, Ordering::SeqCst);
    *entry.0
}

fn entries() -> impl Iterator<Item = (u32, String)> {
    (0..1000u32).map(|k| (k, format!("value {k}")))
}

/// Every key of `keys` exactly once.
fn each_once(what: &str, keys: &[u32]) -> Result<(), String> {
    let distinct: HashSet<u32> = keys.iter().copied().collect();
    if keys.len() == 1000 && distinct.len() == 1000 {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} results but {} distinct keys",
            keys.len(),
            distinct.len()
        ))
    }
}

// ----- properties (the same as tests/properties.rs, without proptest) ----

type Fixed = BuildHasherDefault<DefaultHasher>;

/// splitmix64: the same cases on every rank from the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn noisy(x: u64, salt: u64) -> f64 {
    let u = (x ^ salt) % 1000;
    (u as f64).sin() * 10f64.powi((u % 17) as i32 - 8)
}

#[parallel_map(backend = "mpi")]
fn owned(x: u64, salt: &u64) -> f64 {
    noisy(x, *salt)
}

#[parallel_map(backend = "mpi")]
fn owned_try(x: u64, fail: &Option<u64>) -> Result<f64, u64> {
    match fail {
        Some(k) if x % 13 == *k => Err(x),
        _ => Ok(noisy(x, 0)),
    }
}

#[parallel_map(backend = "mpi")]
fn by_ref(x: &u64, salt: &u64) -> f64 {
    noisy(*x, *salt)
}

#[parallel_map(backend = "mpi")]
fn by_ref_try(x: &u64, fail: &Option<u64>) -> Result<f64, u64> {
    owned_try(*x, fail)
}

#[parallel_map(backend = "mpi")]
fn pair(e: (u64, u64), salt: &u64) -> f64 {
    noisy(e.0 ^ e.1.rotate_left(17), *salt)
}

#[parallel_map(backend = "mpi")]
fn pair_try(e: (u64, u64), fail: &Option<u64>) -> Result<f64, u64> {
    owned_try(e.0 ^ e.1.rotate_left(17), fail)
}

#[parallel_map(backend = "mpi")]
fn entry(e: (&u64, &u64), salt: &u64) -> f64 {
    noisy(*e.0 ^ e.1.rotate_left(17), *salt)
}

#[parallel_map(backend = "mpi")]
fn entry_try(e: (&u64, &u64), fail: &Option<u64>) -> Result<f64, u64> {
    owned_try(*e.0 ^ e.1.rotate_left(17), fail)
}

macro_rules! check_source {
    ($what:expr, $o:expr, $salt:expr, $fail:expr, $f:ident, $f_try:ident, $src:expr) => {{
        let (what, o, salt, fail): (&str, &MapOptions, &u64, &Option<u64>) =
            ($what, $o, $salt, $fail);
        let want: Vec<f64> = ($src).into_iter().map(|x| $f(x, salt)).collect();
        let got = $f::map_with(o, $src, salt);
        if bits(&got) != bits(&want) {
            return Err(format!("{what}: map differs from the loop"));
        }
        let sum = $f::reduce_with(o, $src, salt, 0.0, |a, b| a + b);
        if sum.to_bits() != plain_reduce(&want).to_bits() {
            return Err(format!(
                "{what}: reduce {sum:e} != {:e}",
                plain_reduce(&want)
            ));
        }
        let all: Vec<Result<f64, u64>> = ($src).into_iter().map(|x| $f_try(x, fail)).collect();
        let first = all.iter().position(Result::is_err);
        match ($f_try::try_map_with(o, $src, fail), first) {
            (Ok(v), None) => {
                let want: Vec<f64> = all.iter().map(|r| r.unwrap_or(f64::NAN)).collect();
                if bits(&v) != bits(&want) {
                    return Err(format!("{what}: try_map differs from the loop"));
                }
            }
            (Err(e), Some(first)) if e.index() >= first && all[e.index()] == Err(*e.error()) => {}
            (got, want) => {
                return Err(format!(
                    "{what}: try_map gave {:?}, the loop's first failure is {want:?}",
                    got.map(|v| v.len()).map_err(|e| e.index())
                ))
            }
        }
    }};
}

fn one_case(rng: &mut Rng) -> Result<String, String> {
    let n = match rng.below(9) {
        0..=3 => rng.below(17),
        4..=7 => rng.below(401),
        _ => 2000 + rng.below(3001),
    } as usize;
    let values: Vec<u64> = (0..n).map(|_| rng.next()).collect();
    let salt = rng.next();
    let fail = match rng.below(4) {
        0 | 1 => None,
        2 => Some(rng.below(13)),
        _ => Some(99),
    };
    let schedule = [Schedule::Static, Schedule::Dynamic, Schedule::Guided][rng.below(3) as usize];
    let mut o = MapOptions::new().schedule(schedule);
    let chunk = match rng.below(6) {
        0 | 1 => None,
        2..=4 => Some(1 + rng.below(40) as usize),
        _ => Some(100 + rng.below(9901) as usize),
    };
    if let Some(c) = chunk {
        o = o.chunk_size(c);
    }
    let o = &o;
    let keys: Vec<u64> = (0..n as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt)
        .collect();
    // A fixed hasher: the same order in every process.
    let hash_map: HashMap<u64, u64, Fixed> =
        keys.iter().copied().zip(values.iter().copied()).collect();
    let hash_set: HashSet<u64, Fixed> = keys.iter().copied().collect();
    let btree_map: BTreeMap<u64, u64> = hash_map.iter().map(|(k, v)| (*k, *v)).collect();
    let (v, nn) = (&values, n as u64);
    let (s, f) = (&salt, &fail);
    check_source!("Vec", o, s, f, owned, owned_try, v.clone());
    check_source!("&[T]", o, s, f, by_ref, by_ref_try, &v[..]);
    check_source!("&Vec", o, s, f, by_ref, by_ref_try, v);
    check_source!("slice::Iter", o, s, f, by_ref, by_ref_try, v.iter());
    check_source!("Range", o, s, f, owned, owned_try, 0..nn);
    check_source!("RangeInclusive", o, s, f, owned, owned_try, 1..=nn);
    check_source!("HashMap", o, s, f, pair, pair_try, hash_map.clone());
    check_source!("&HashMap", o, s, f, entry, entry_try, &hash_map);
    check_source!("BTreeMap", o, s, f, pair, pair_try, btree_map.clone());
    check_source!("&BTreeMap", o, s, f, entry, entry_try, &btree_map);
    check_source!("HashSet", o, s, f, owned, owned_try, hash_set.clone());
    check_source!(
        "iter().map()",
        o,
        s,
        f,
        owned,
        owned_try,
        v.iter().map(|x| x ^ 5)
    );
    check_source!(
        "items(…)",
        o,
        s,
        f,
        owned,
        owned_try,
        items(v.iter().copied().rev())
    );
    Ok(format!(
        "{n} items, {schedule:?}, chunk {chunk:?}, fail {fail:?}"
    ))
}

#[parallel_map(backend = "mpi")]
fn counted(x: u64, fail: &Option<u64>) -> Result<u64, String> {
    RAN.fetch_add(1, Ordering::SeqCst);
    match fail {
        Some(f) if x >= *f => Err(format!("item {x} refused")),
        _ => Ok(x * x + 1),
    }
}

#[parallel_map(backend = "mpi")]
fn counted_sq(x: u64) -> u64 {
    RAN.fetch_add(1, Ordering::SeqCst);
    x * x + 1
}

fn split(world: &Comm) -> Result<(), Box<dyn std::error::Error>> {
    let n = 1000u64;
    let want: Vec<u64> = (0..n).map(|x| x * x + 1).collect();
    let half = world
        .split(Some(world.rank() as u32 % 2), 0)?
        .ok_or("every rank passed a color")?;
    let (got, sum, tried) = half.install(|| {
        (
            counted_sq::map(0..n),
            counted_sq::reduce(0..n, 0, |a, b| a + b),
            counted::try_map(0..n, &None),
        )
    });
    if got != want || sum != want.iter().sum::<u64>() || tried.as_deref() != Ok(&want[..]) {
        return Err(format!(
            "rank {}: a map on half the world differs from the loop",
            world.rank()
        )
        .into());
    }
    // Each half ran every item once per call: 3 calls, 2 halves (1 with one rank).
    let halves = world.size().min(2) as u64;
    let ran = world.all_reduce(RAN.swap(0, Ordering::SeqCst) as u64, Op::Sum)?;
    if ran != 3 * halves * n {
        return Err(format!("{ran} items ran in the job, not {}", 3 * halves * n).into());
    }
    // try_map on the world, split: the failure from item 700 reaches every rank.
    let e = counted::try_map(0..n, &Some(700))
        .err()
        .ok_or("item 700 must fail")?;
    if e.index() < 700 || e.error() != &format!("item {} refused", e.index()) {
        return Err(format!("rank {}: wrong failure {e}", world.rank()).into());
    }
    let ran = world.all_reduce(RAN.swap(0, Ordering::SeqCst) as u64, Op::Sum)?;
    if ran > n {
        return Err(format!("try_map ran {ran} items for {n}: not split").into());
    }
    // The call-site map under the `mpi` backend: `map_mpi` and `reduce_mpi`
    // split the items too.
    let sq = map_fn("sq", |x: u64| {
        RAN.fetch_add(1, Ordering::SeqCst);
        x * x + 1
    })
    .options(MapOptions::new().backend(Backend::Mpi));
    let (got, sum) = (sq.map_mpi(0..n), sq.reduce_mpi(0..n, 0, |a, b| a + b));
    if got != want || sum != want.iter().sum::<u64>() {
        return Err(format!(
            "rank {}: map_mpi or reduce_mpi differs from the loop",
            world.rank()
        )
        .into());
    }
    let ran = world.all_reduce(RAN.swap(0, Ordering::SeqCst) as u64, Op::Sum)?;
    if ran != 2 * n {
        return Err(
            format!("map_mpi and reduce_mpi ran {ran} items for 2 x {n}: not split").into(),
        );
    }
    let ranks = world.all_reduce(1u32, Op::Sum)?;
    if world.rank() == 0 {
        eprintln!("all {ranks} ranks: maps on half the world, a split try_map and map_mpi agree with the loop");
    }
    Ok(())
}

#[mpi_main]
fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (rank, size) = (world.rank(), world.size());
    eprintln!("rank {rank} of {size}: started");
    match args.first().map(String::as_str) {
        Some("hashmap") => {
            // Built here, with this process's random hasher keys.
            let m: HashMap<u32, String> = entries().collect();
            let keys = key_of::map(&m);
            eprintln!(
                "rank {rank}: {} items ran here, {} results",
                RAN.load(Ordering::SeqCst),
                keys.len()
            );
            each_once("HashMap", &keys)?;
        }
        Some("sorted") => {
            let b: BTreeMap<u32, String> = entries().collect();
            each_once("BTreeMap", &key_of::map(&b))?;
            let mut v: Vec<(u32, String)> = entries().collect();
            v.sort();
            each_once("sorted Vec", &key_of::map(v.iter().map(|(k, s)| (k, s))))?;
            let fixed: HashMap<u32, String, Fixed> = entries().collect();
            each_once("HashMap with a fixed hasher", &key_of::map(&fixed))?;
            // One line, from rank 0, once every rank got here (the ranks'
            // stderr interleave).
            let ranks = world.all_reduce(1u32, Op::Sum)?;
            if rank == 0 {
                eprintln!("all {ranks} ranks: every key exactly once");
            }
        }
        Some("split") => split(&world)?,
        Some("properties") => {
            let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
            let cases: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
            for c in 0..cases {
                let mut rng = Rng(seed ^ c.wrapping_mul(0xd134_2543_de82_ef95));
                one_case(&mut rng).map_err(|e| format!("seed {seed}, case {c}: {e}"))?;
            }
            let ranks = world.all_reduce(1u32, Op::Sum)?;
            if rank == 0 {
                eprintln!("all {ranks} ranks: {cases} cases passed");
            }
        }
        other => {
            return Err(format!(
                "unknown mode {other:?}: hashmap, sorted, split or properties <seed> <cases>"
            )
            .into())
        }
    }
    Ok(())
}
