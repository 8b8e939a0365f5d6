//! Graphs across ranks red-teamed, as a user porting dask-mpi and Dask
//! delayed tutorials would write them: every result equals the serial
//! loop's (one machine, `Backend::Serial`), or every rank returns an error
//! that names the task (and the rank) — never a hang, never a silently
//! wrong answer.
//!
//! ```text
//! graph_redteam MODE               # under mpirun -n 2 (or more)
//! graph_redteam MODE local N       # the same in a local world of N ranks
//! ```
//!
//! MODE: `values` (results of every shape and size: longer than a lane's
//! slot, `Vec<String>`, nested structs, maps, unit and zero-sized types),
//! `roots` (many, duplicated, feeding each other, plain values, every root
//! rank), `again` (a graph computed twice, a subgraph or an intermediate
//! handle computed after the whole), `pins`, `mismatch` (graphs that
//! differ between ranks in small ways), `fail` (panics and errors with
//! dependents on other ranks, on several ranks at once, long messages),
//! `unmovable`, `nested` (tasks that compute or map themselves), `empty`,
//! `big` (10^4 tasks wide and deep), `registry` (a type that only some
//! ranks registered), `split` (graphs on sub-communicators), `codec` (a
//! `Serialize` or `Deserialize` that fails or panics), and `mixed_calls`
//! (`compute_on` on some ranks, `compute()` with the `mpi` backend on the
//! others: it hung under real MPI). Each rank prints
//! `rank R: ok MODE` when its checks passed; tests/delayed_mpi_redteam.rs
//! runs it under deadlines.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use parallel_runtime::graph::{
    compute_on, compute_on_root, compute_with, transferable, value, Compute, FailureKind,
};
use parallel_runtime::prelude::*;
use parallel_runtime::serde::{Deserialize, Serialize};
use parallel_runtime::Backend;
use parallel_tests::{ensure, failed_compute};

type Res = Result<(), Box<dyn std::error::Error>>;

#[mpi_main]
fn main(world: Comm) -> Result<(), String> {
    parallel_tests::ranks_main(&world, "values", |w, mode| {
        run(w, mode).map_err(|e| e.to_string())
    })
}

fn run(w: &Comm, mode: &str) -> Res {
    match mode {
        "values" => values(w),
        "roots" => roots(w),
        "again" => again(w),
        "pins" => pins(w),
        "mismatch" => mismatch(w),
        "fail" => fail(w),
        "unmovable" => unmovable(w),
        "nested" => nested(w),
        "empty" => empty(w),
        "big" => big(w),
        "registry" => registry(w),
        "split" => split(w),
        "codec" => codec(w),
        "mixed_calls" => mixed_calls(w),
        other => Err(format!("unknown mode `{other}`").into()),
    }
}

/// The serial loop's result: the same graph on one thread.
fn serial<C: Compute>(c: C) -> Result<C::Output, String> {
    compute_with(Backend::Serial, c).map_err(|e| format!("serially: {e}"))
}

fn across<C: Compute>(w: &Comm, c: C) -> Result<C::Output, String> {
    compute_on(w, c).map_err(|e| format!("across ranks: {e}"))
}

/// Every rank returned an error of the same kind, function and rank (the
/// keys' numbers may differ between the ranks of a local world); a
/// `GraphMismatch` names, on each rank, that rank's side of the
/// difference: only its kind is the same everywhere.
fn same_everywhere(w: &Comm, e: &DelayedError) -> Res {
    let mine = if e.kind() == FailureKind::GraphMismatch {
        (format!("{:?}", e.kind()), String::new(), None)
    } else {
        (format!("{:?}", e.kind()), e.function().to_owned(), e.rank())
    };
    let all = w.allgather(&mine).map_err(|e| e.to_string())?;
    ensure(all.iter().all(|a| *a == mine), || {
        format!("the ranks returned different errors: {all:?} (this rank: {e})")
    })
}

/// Says, on rank 0, which of two allowed outcomes a case had.
fn note(w: &Comm, what: &str, r: &Result<u64, DelayedError>) {
    if w.rank() == 0 {
        match r {
            Ok(v) => println!("note ({} ranks): {what}: Ok({v})", w.size()),
            Err(e) => println!("note ({} ranks): {what}: {:?}", w.size(), e.kind()),
        }
    }
}

/// `r` must be an error of `kind` whose text holds every one of `words`,
/// the same on every rank.
fn error_says<T: std::fmt::Debug>(
    w: &Comm,
    r: Result<T, DelayedError>,
    kind: FailureKind,
    words: &[&str],
) -> Result<DelayedError, Box<dyn std::error::Error>> {
    let e = failed_compute(r)?;
    let text = e.to_string();
    ensure(
        e.kind() == kind && words.iter().all(|w| text.contains(w)),
        || {
            format!(
                "expected {kind:?} saying {words:?}, got {:?}: {text}",
                e.kind()
            )
        },
    )?;
    same_everywhere(w, &e)?;
    Ok(e)
}

// ---------------------------------------------------------------- values

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
#[serde(crate = "parallel_runtime::serde")]
struct Inner {
    name: String,
    xs: Vec<f64>,
    tag: Option<u8>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
#[serde(crate = "parallel_runtime::serde")]
struct Outer {
    id: u64,
    inner: Vec<Inner>,
    index: HashMap<String, Vec<u32>>,
    ordered: BTreeMap<u32, (i8, String)>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy, Default)]
#[serde(crate = "parallel_runtime::serde")]
struct Zst;

#[delayed]
fn words(n: u64, seed: u64) -> Vec<String> {
    (0..n)
        .map(|i| format!("w{}-{}-é✓", i, i.wrapping_mul(seed) % 97))
        .collect()
}

#[delayed]
fn join(ws: Vec<String>) -> String {
    ws.join("|")
}

#[delayed]
fn outer(id: u64, n: u64) -> Outer {
    let inner = (0..n)
        .map(|i| Inner {
            name: format!("inner-{id}-{i}"),
            xs: (0..i).map(|k| k as f64 * 0.1 + id as f64).collect(),
            tag: (i % 3 == 0).then_some(i as u8),
        })
        .collect();
    let index = (0..n)
        .map(|i| (format!("k{i}"), (0..i as u32).collect()))
        .collect();
    let ordered = (0..n as u32)
        .map(|i| (i, (-(i as i8), "x".repeat(i as usize))))
        .collect();
    Outer {
        id,
        inner,
        index,
        ordered,
    }
}

#[delayed]
fn reshape(o: Outer) -> Outer {
    let mut o = o;
    o.id += 1;
    o.index.insert("added".to_owned(), vec![7; 300]);
    o
}

#[delayed]
fn nothing(x: u64) {
    let _ = x;
}

#[delayed]
fn after_nothing(u: (), x: u64) -> u64 {
    let () = u;
    x + 1
}

#[delayed]
fn zst(x: u64) -> Zst {
    let _ = x;
    Zst
}

#[delayed]
fn zsts(zs: Vec<Zst>) -> u64 {
    zs.len() as u64
}

#[delayed]
fn maybe(x: u64) -> Option<Vec<u64>> {
    x.is_multiple_of(2).then(|| vec![x; x as usize])
}

#[delayed]
fn floats(n: u64) -> Vec<f64> {
    // Values whose bits must survive: -0.0, subnormals, infinities, NaN.
    let mut v: Vec<f64> = (0..n).map(|i| (i as f64).sqrt() / 3.0).collect();
    v.extend([
        -0.0,
        f64::MIN_POSITIVE / 2.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ]);
    v
}

#[delayed]
fn float_bits(v: Vec<f64>) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Results of many shapes, around and beyond the size of a lane's slot
/// (1 KiB), each made on one rank and read on another, in both directions.
fn values(w: &Comm) -> Res {
    let last = w.size() - 1;
    type G = (
        Vec<Delayed<String>>,
        Vec<Delayed<Outer>>,
        Delayed<u64>,
        Delayed<u64>,
        Vec<Delayed<Option<Vec<u64>>>>,
        Delayed<Vec<u64>>,
        Delayed<Vec<String>>,
    );
    let graph = || -> G {
        // Vec<String> of 0 to ~40 KiB, joined on the other rank.
        let joined = [0u64, 1, 30, 40, 41, 42, 60, 2000]
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let from = k % 2 * last;
                join(words(n, k as u64 + 3).on_rank(from)).on_rank(last - from)
            })
            .collect();
        let outers = [0u64, 3, 12, 40]
            .iter()
            .map(|&n| reshape(outer(n, n).on_rank(last)).on_rank(0))
            .collect();
        let unit = nothing(5).on_rank(0);
        let after = after_nothing(unit, 9).on_rank(last);
        let z: Vec<Delayed<Zst>> = (0..7)
            .map(|i| zst(i).on_rank(i as usize % w.size()))
            .collect();
        let count = zsts(z).on_rank(last);
        let opts = (0..6)
            .map(|i| maybe(i * 100).on_rank(i as usize % w.size()))
            .collect();
        let bits = float_bits(floats(500).on_rank(last)).on_rank(0);
        // A root of > 1 KiB that every rank receives.
        let root_words = words(300, 11);
        (joined, outers, after, count, opts, bits, root_words)
    };
    let expected = serial(graph())?;
    let got = across(w, graph())?;
    ensure(got == expected, || {
        format!("values across ranks differ from the serial loop's: {got:?}")
    })?;
    // The same with each result on one root rank only.
    for root in 0..w.size() {
        let got = compute_on_root(w, root, graph()).map_err(|e| e.to_string())?;
        let want = (w.rank() == root).then(|| expected.clone());
        ensure(got == want, || format!("compute_on_root({root}): {got:?}"))?;
    }
    // A unit root and a zero-sized root, everywhere.
    let got = across(w, (nothing(1), zst(2), value(())))?;
    ensure(got == ((), Zst, ()), || format!("unit roots: {got:?}"))?;
    Ok(())
}

// ----------------------------------------------------------------- roots

#[delayed]
fn sq(x: u64) -> u64 {
    x * x
}

#[delayed]
fn plus(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[delayed]
fn sum_all(xs: Vec<u64>) -> u64 {
    xs.iter().fold(0u64, |a, &b| a.wrapping_add(b))
}

fn roots(w: &Comm) -> Res {
    // Many roots (not a multiple of the ranks).
    let many = || (0..37).map(sq).collect::<Vec<_>>();
    let want: Vec<u64> = (0..37).map(|x| x * x).collect();
    ensure(serial(many())? == want, || "serial many".into())?;
    let got = across(w, many())?;
    ensure(got == want, || format!("37 roots: {got:?}"))?;
    // The same root twice, and roots that feed other roots.
    let graph = || {
        let a = sq(3);
        let b = plus(&a, 1);
        let c = sum_all(vec![a.clone(), b.clone(), a.clone()]);
        (a.clone(), a, b.clone(), c, b)
    };
    let want = serial(graph())?;
    ensure(want == (9, 9, 10, 28, 10), || format!("serial: {want:?}"))?;
    let got = across(w, graph())?;
    ensure(got == want, || format!("duplicated roots: {got:?}"))?;
    for root in 0..w.size() {
        let got = compute_on_root(w, root, graph()).map_err(|e| e.to_string())?;
        ensure(got == (w.rank() == root).then_some(want), || {
            format!("compute_on_root({root}) of duplicated roots: {got:?}")
        })?;
    }
    // A root that is a plain value, alone and beside tasks; a value read by
    // tasks on every rank.
    let v = || value(41u64);
    ensure(across(w, v())? == 41, || "a value root".into())?;
    let shared = value(5u64);
    let graph = (0..w.size() * 2)
        .map(|r| plus(&shared, r as u64).on_rank(r % w.size()))
        .collect::<Vec<_>>();
    let got = across(w, (shared, graph))?;
    let want = (
        5,
        (0..w.size() as u64 * 2).map(|r| 5 + r).collect::<Vec<_>>(),
    );
    ensure(got == want, || {
        format!("a value read on every rank: {got:?}")
    })?;
    // The same input twice (and five times) to one task, from another rank.
    let last = w.size() - 1;
    let graph = || {
        let a = sq(6).on_rank(0);
        let twice = plus(&a, &a).on_rank(last);
        let five = sum_all(vec![a.clone(); 5]).on_rank(last);
        let mixed = sum_all(vec![a.clone(), twice.clone(), a.clone()]).on_rank(0);
        (twice, five, mixed)
    };
    let want = serial(graph())?;
    ensure(want == (72, 180, 144), || format!("serial: {want:?}"))?;
    let got = across(w, graph())?;
    ensure(got == want, || format!("one input several times: {got:?}"))?;
    // A vector of the same handle, many times.
    let x = sq(7);
    let got = across(w, vec![x.clone(); 9])?;
    ensure(got == vec![49; 9], || {
        format!("one handle 9 times: {got:?}")
    })?;
    Ok(())
}

// ----------------------------------------------------------------- again

static RAN: AtomicUsize = AtomicUsize::new(0);

#[delayed]
fn counted(x: u64) -> u64 {
    RAN.fetch_add(1, Ordering::Relaxed);
    x + 100
}

/// A computed result is reused, or the ranks say why it cannot be; never a
/// wrong value or a hang.
fn again(w: &Comm) -> Res {
    // The same handle twice with compute_on: the second costs nothing.
    let a = counted(1);
    let b = plus(&a, 2);
    let first = across(w, b.clone())?;
    let second = across(w, b.clone())?;
    ensure((first, second) == (103, 103), || {
        format!("twice: {first} {second}")
    })?;
    // A graph built on the result of an earlier compute_on.
    let c = across(w, plus(&b, 1))?;
    ensure(c == 104, || format!("after: {c}"))?;
    // An intermediate handle kept, computed after the whole graph: its
    // result is on one rank only.
    let mid = counted(5);
    let top = plus(&mid, 1);
    let got = across(w, top)?;
    ensure(got == 106, || format!("top {got}"))?;
    w.barrier().map_err(|e| e.to_string())?;
    let before = RAN.load(Ordering::Relaxed);
    let r = compute_on(w, mid.clone());
    w.barrier().map_err(|e| e.to_string())?;
    ensure(RAN.load(Ordering::Relaxed) == before, || {
        "a result held from an earlier compute ran again".into()
    })?;
    note(w, "a source kept and computed after the whole graph", &r);
    match r {
        Ok(v) => ensure(v == 105, || format!("the intermediate later: {v}"))?,
        Err(e) => {
            ensure(matches!(e.kind(), FailureKind::GraphMismatch), || {
                format!("the intermediate later: {e}")
            })?;
            same_everywhere(w, &e)?;
        }
    }
    // An intermediate task with inputs, kept and computed after the whole.
    let mid = plus(counted(1), 1);
    let top = plus(&mid, 1);
    ensure(across(w, top)? == 103, || "top".into())?;
    let r = compute_on(w, mid);
    note(
        w,
        "an intermediate task kept and computed after the whole graph",
        &r,
    );
    match r {
        Ok(v) => ensure(v == 102, || format!("the intermediate later: {v}"))?,
        Err(e) => {
            ensure(e.kind() == FailureKind::GraphMismatch, || {
                format!("the intermediate later: {e}")
            })?;
            same_everywhere(w, &e)?;
        }
    }
    // A subgraph computed after the whole graph: every part was computed.
    let parts: Vec<Delayed<u64>> = (0..6).map(counted).collect();
    let whole = sum_all(parts.clone());
    let got = across(w, whole)?;
    ensure(got == (0..6).map(|x| x + 100).sum::<u64>(), || {
        format!("whole {got}")
    })?;
    let r = compute_on(w, parts[2].clone());
    note(w, "a source computed after the whole graph", &r);
    match r {
        Ok(v) => ensure(v == 102, || format!("a part later: {v}"))?,
        Err(e) => {
            ensure(e.kind() == FailureKind::GraphMismatch, || {
                format!("a part later: {e}")
            })?;
            same_everywhere(w, &e)?;
        }
    }
    // compute_on_root twice with the same handle, from every root.
    for root in 0..w.size() {
        let x = plus(counted(root as u64), 3);
        let one = compute_on_root(w, root, x.clone());
        let two = compute_on_root(w, root, x.clone());
        let want = (w.rank() == root).then_some(root as u64 + 103);
        let one = one.map_err(|e| e.to_string())?;
        ensure(one == want, || format!("root {root}, first: {one:?}"))?;
        match two {
            Ok(v) => ensure(v == want, || format!("root {root}, again: {v:?}"))?,
            Err(e) => {
                ensure(e.kind() == FailureKind::GraphMismatch, || {
                    format!("root {root}, again: {e}")
                })?;
                same_everywhere(w, &e)?;
            }
        }
        // Then everywhere.
        let r = compute_on(w, x);
        note(w, &format!("compute_on after compute_on_root({root})"), &r);
        match r {
            Ok(v) => ensure(v == root as u64 + 103, || {
                format!("root {root}, then everywhere: {v}")
            })?,
            Err(e) => {
                ensure(e.kind() == FailureKind::GraphMismatch, || {
                    format!("root {root}, then everywhere: {e}")
                })?;
                same_everywhere(w, &e)?;
            }
        }
    }
    // The world is usable after all of that.
    let ok = across(w, plus(1, 1))?;
    ensure(ok == 2, || format!("after: {ok}"))
}

// ------------------------------------------------------------------ pins

fn pins(w: &Comm) -> Res {
    let size = w.size();
    // Only some tasks pinned; the rest follow.
    let graph = || {
        let xs: Vec<Delayed<u64>> = (0..10)
            .map(|i| {
                let x = sq(i);
                if i % 3 == 0 {
                    x.on_rank((i as usize / 3) % size)
                } else {
                    x
                }
            })
            .collect();
        let ys: Vec<Delayed<u64>> = xs.windows(2).map(|p| plus(&p[0], &p[1])).collect();
        sum_all(ys).on_rank(size - 1)
    };
    let want = serial(graph())?;
    ensure(across(w, graph())? == want, || "partly pinned".into())?;
    // A chain whose every link is pinned to the next rank.
    let mut x = plus(0, 1).on_rank(0);
    for k in 1..20 {
        x = plus(x, k).on_rank(k as usize % size);
    }
    let got = across(w, x)?;
    ensure(got == 1 + (1..20).sum::<u64>(), || {
        format!("hopping chain {got}")
    })?;
    // Everything on the last rank.
    let all: Vec<Delayed<u64>> = (0..8).map(|i| sq(i).on_rank(size - 1)).collect();
    let got = across(w, sum_all(all).on_rank(size - 1))?;
    ensure(got == (0..8).map(|i| i * i).sum::<u64>(), || {
        format!("{got}")
    })?;
    // One task of many pinned beyond the world: an error on every rank,
    // naming that task, before anything runs.
    let before = RAN.load(Ordering::Relaxed);
    w.barrier().map_err(|e| e.to_string())?;
    let xs: Vec<Delayed<u64>> = (0..5).map(counted).collect();
    let bad = plus(&xs[3], 1).on_rank(size);
    let r = compute_on(w, (sum_all(xs), bad));
    let e = error_says(
        w,
        r,
        FailureKind::NotPlaceable,
        &["pinned to rank", &format!("world has {size} ranks")],
    )?;
    ensure(e.function() == "plus", || format!("named {e}"))?;
    w.barrier().map_err(|e| e.to_string())?;
    ensure(RAN.load(Ordering::Relaxed) == before, || {
        "a task ran before the error of a pin out of range".into()
    })?;
    // A pin to usize::MAX.
    let r = compute_on(w, sq(3).on_rank(usize::MAX));
    error_says(w, r, FailureKind::NotPlaceable, &["pinned to rank"])?;
    // Pinning twice: the last pin holds.
    let x = counted(1).on_rank(0).on_rank(size - 1);
    let got = across(w, x)?;
    ensure(got == 101, || format!("{got}"))?;
    let s = parallel_runtime::graph::last_cluster_stats().ok_or("no stats")?;
    ensure(s.tasks == usize::from(w.rank() == size - 1), || {
        format!("re-pinned: rank {} ran {} tasks", w.rank(), s.tasks)
    })
}

// -------------------------------------------------------------- mismatch

#[delayed]
fn minus(a: u64, b: u64) -> u64 {
    a.wrapping_sub(b)
}

/// Graphs that differ between ranks in small ways: an error on every rank.
fn mismatch(w: &Comm) -> Res {
    if w.size() == 1 {
        return Ok(());
    }
    let me = w.rank();
    let odd = me == w.size() - 1;
    // One extra task on one rank.
    let g = if odd {
        plus(sq(2), sq(3))
    } else {
        plus(sq(2), 9)
    };
    error_says(
        w,
        compute_on(w, g),
        FailureKind::GraphMismatch,
        &["different graphs"],
    )?;
    // The arguments in another order on one rank.
    let (a, b) = (sq(10), sq(1));
    let g = if odd { minus(&b, &a) } else { minus(&a, &b) };
    error_says(w, compute_on(w, g), FailureKind::GraphMismatch, &[])?;
    // A different number of roots.
    let r = if odd {
        compute_on(w, vec![sq(1), sq(2)])
    } else {
        compute_on(w, vec![sq(1)])
    };
    error_says(w, r, FailureKind::GraphMismatch, &[])?;
    // The same roots, in another order (a tuple of the same type).
    let (x, y) = (sq(4), sq(5));
    let r = if odd {
        compute_on(w, (y, x))
    } else {
        compute_on(w, (x, y))
    };
    error_says(w, r, FailureKind::GraphMismatch, &[])?;
    // Another function of the same shape.
    let g = if odd { sq(6) } else { counted(6) };
    error_says(w, compute_on(w, g), FailureKind::GraphMismatch, &[])?;
    // The same name, another result type (a `delayed_fn`): the value from
    // another rank cannot be decoded as this rank's type.
    transferable::<u32>();
    let r = if odd {
        let conv = delayed_fn("conv", |x: u64| x as u32).call(7u64).on_rank(0);
        let back = delayed_fn("back", |x: u32| u64::from(x) + 1).call(conv);
        compute_on(w, back.on_rank(w.size() - 1))
    } else {
        let conv = delayed_fn("conv", |x: u64| x + 1_000_000_000_000)
            .call(7u64)
            .on_rank(0);
        let back = delayed_fn("back", |x: u64| x + 1).call(conv);
        compute_on(w, back.on_rank(w.size() - 1))
    };
    if w.size() > 1 {
        let e = failed_compute(r)?;
        ensure(
            e.function() == "conv" && e.to_string().contains("another type"),
            || format!("a result type that differs: {e}"),
        )?;
        same_everywhere(w, &e)?;
    }
    // A rank that computes nothing at all while the others compute: no
    // hang, an error on the ranks that compute (and on the other, which
    // sees an empty graph).
    let r = if odd {
        compute_on(w, Vec::<Delayed<u64>>::new()).map(|v| v.len() as u64)
    } else {
        compute_on(w, sq(8))
    };
    error_says(w, r, FailureKind::GraphMismatch, &[])?;
    // Arguments that differ between ranks (not compared, as documented):
    // each task runs with its own rank's, and every rank gets the same
    // results, those of the ranks the tasks ran on.
    let per_rank: Vec<Delayed<u64>> = (0..7)
        .map(|k| plus(sq(me as u64 + 10 * k), me as u64))
        .collect();
    let got = across(w, (sum_all(per_rank.clone()), per_rank))?;
    let all = w.allgather(&got).map_err(|e| e.to_string())?;
    ensure(all.iter().all(|a| *a == got), || {
        format!("ranks got different results from rank-dependent arguments: {all:?}")
    })?;
    ensure(got.0 == got.1.iter().sum::<u64>(), || format!("{got:?}"))?;
    // Usable afterwards.
    let ok = across(w, plus(2, 3))?;
    ensure(ok == 5, || format!("after mismatches: {ok}"))
}

// ------------------------------------------------------------------ fail

#[delayed]
fn breaks(x: u64, how: u8) -> Result<u64, String> {
    match how {
        0 => Ok(x),
        1 => Err(format!("bad input {x}")),
        2 => panic!("boom at {x}"),
        _ => Err(format!("long error {x}: {}", "é".repeat(3000))),
    }
}

fn fail(w: &Comm) -> Res {
    let size = w.size();
    let last = size - 1;
    for (how, kind, says) in [
        (1u8, FailureKind::Error, "bad input 3"),
        (2, FailureKind::Panicked, "boom at 3"),
        (3, FailureKind::Error, "long error 3"),
    ] {
        // A failing task on the last rank with dependents on every rank,
        // beside independent work.
        let bad = breaks(3, how).on_rank(last);
        let deps: Vec<Delayed<u64>> = (0..size * 2)
            .map(|r| plus(&bad, r as u64).on_rank(r % size))
            .collect();
        let indep: Vec<Delayed<u64>> = (0..20).map(sq).collect();
        let r = compute_on(w, (sum_all(deps), sum_all(indep)));
        let e = error_says(w, r, kind, &[says])?;
        ensure(e.function() == "breaks" && e.rank() == Some(last), || {
            format!("named {:?} {:?}: {e}", e.function(), e.rank())
        })?;
        if how == 3 {
            ensure(e.message().len() > 3000, || {
                format!("a long message cut: {} bytes", e.message().len())
            })?;
        }
        // compute_on_root, to every root.
        for root in 0..size {
            let bad = breaks(4, how).on_rank(last);
            let r = compute_on_root(w, root, plus(bad, 1).on_rank(0));
            let e = error_says(w, r, kind, &[])?;
            ensure(e.rank() == Some(last), || format!("root {root}: {e}"))?;
        }
    }
    // Failures on several ranks at once: every rank returns the same one.
    let bads: Vec<Delayed<u64>> = (0..size).map(|r| breaks(r as u64, 1).on_rank(r)).collect();
    let r = compute_on(w, sum_all(bads));
    let e = error_says(w, r, FailureKind::Error, &["bad input"])?;
    ensure(e.rank().is_some(), || format!("no rank: {e}"))?;
    // A failure deep in a chain that crosses the ranks.
    let mut x = plus(0, 1).on_rank(0);
    for k in 1..12u64 {
        x = if k == 7 {
            plus(x, breaks(k, 2).on_rank(k as usize % size))
        } else {
            plus(x, k).on_rank(k as usize % size)
        };
    }
    let r = compute_on(w, x);
    let e = error_says(w, r, FailureKind::Panicked, &["boom at 7"])?;
    ensure(e.rank() == Some(7 % size), || format!("chain: {e}"))?;
    // A panic whose payload is not a string.
    let odd = delayed_fn("odd_panic", |x: u64| -> u64 {
        std::panic::panic_any(x as u32);
    });
    let r = compute_on(w, plus(odd.call(3u64).on_rank(last), 1).on_rank(0));
    let e = error_says(w, r, FailureKind::Panicked, &[])?;
    ensure(
        e.function() == "odd_panic" && e.rank() == Some(last),
        || e.to_string(),
    )?;
    if w.rank() == 0 {
        println!("note ({size} ranks): a panic_any(3u32) across ranks reads: {e}");
    }
    // A `delayed_fn` that returns an `Err`, read on another rank.
    let parse = delayed_fn("parse", |s: String| {
        s.parse::<u64>().map_err(|e| e.to_string())
    });
    let p = parse.try_call(join(words(2, 1)).on_rank(0)).on_rank(0);
    let r = compute_on(w, plus(p, 1).on_rank(last));
    let e = error_says(w, r, FailureKind::Error, &["invalid digit"])?;
    ensure(e.function() == "parse" && e.rank() == Some(0), || {
        e.to_string()
    })?;
    // Usable afterwards.
    let ok = across(w, plus(2, 2))?;
    ensure(ok == 4, || format!("after failures: {ok}"))
}

// ------------------------------------------------------------- unmovable

/// Not `Serialize`.
#[derive(Debug, PartialEq)]
struct Opaque(u64);

#[delayed]
fn opaque(x: u64) -> Opaque {
    RAN.fetch_add(1, Ordering::Relaxed);
    Opaque(x)
}

#[delayed]
fn open(o: Opaque) -> u64 {
    RAN.fetch_add(1, Ordering::Relaxed);
    o.0
}

#[derive(Debug, PartialEq, Clone)]
struct Unregistered(u64);

fn unmovable(w: &Comm) -> Res {
    let size = w.size();
    let last = size - 1;
    let before = RAN.load(Ordering::Relaxed);
    w.barrier().map_err(|e| e.to_string())?;
    if size > 1 {
        // A non-Serialize root asked for on every rank.
        let r = compute_on(w, opaque(1).on_rank(last));
        let e = error_says(w, r, FailureKind::NotPlaceable, &["Opaque"])?;
        ensure(e.function() == "opaque", || e.to_string())?;
        if w.rank() == 0 {
            println!("note ({size} ranks): {e}");
        }
        // A value of it read on another rank.
        let r = compute_on(w, open(value(Opaque(2)).on_rank(0)).on_rank(last));
        error_says(w, r, FailureKind::NotPlaceable, &[])?;
        // A delayed_fn result of a type never registered.
        let u = delayed_fn("unreg", |x: u64| Unregistered(x))
            .call(3u64)
            .on_rank(0);
        let r = compute_on(
            w,
            delayed_fn("use_unreg", |u: Unregistered| u.0)
                .call(u)
                .on_rank(last),
        );
        error_says(w, r, FailureKind::NotPlaceable, &["never registered"])?;
        // Among much else that could run, deep in the graph.
        let fine: Vec<Delayed<u64>> = (0..30).map(counted).collect();
        let o = opaque(sum_all(fine.clone()).on_rank(0)).on_rank(0);
        let r = compute_on(w, (fine, open(o).on_rank(last)));
        error_says(w, r, FailureKind::NotPlaceable, &["Opaque"])?;
    }
    w.barrier().map_err(|e| e.to_string())?;
    ensure(RAN.load(Ordering::Relaxed) == before, || {
        "a task ran before a not-placeable error".into()
    })?;
    // Kept on one rank, with compute_on_root there: fine.
    let got = compute_on_root(w, last, open(opaque(9).on_rank(last)).on_rank(last))
        .map_err(|e| e.to_string())?;
    ensure(got == (w.rank() == last).then_some(9), || {
        format!("{got:?}")
    })?;
    // A non-Serialize root with compute_on_root on the rank that makes it.
    let got = compute_on_root(w, last, opaque(4).on_rank(last)).map_err(|e| e.to_string())?;
    ensure(got == (w.rank() == last).then_some(Opaque(4)), || {
        format!("{got:?}")
    })?;
    Ok(())
}

// ---------------------------------------------------------------- nested

#[parallel_map]
fn cube(x: &u64) -> u64 {
    x * x * x
}

#[delayed]
fn maps_inside(n: u64) -> u64 {
    let xs: Vec<u64> = (0..n).collect();
    cube::map(&xs).iter().sum()
}

#[delayed]
fn computes_inside(n: u64) -> u64 {
    let inner: Vec<Delayed<u64>> = (0..n).map(sq).collect();
    let a = sum_all(inner).compute().unwrap_or(u64::MAX);
    let b = compute_with(Backend::Mpi, plus(n, 1)).unwrap_or(u64::MAX);
    a.wrapping_add(b)
}

fn nested(w: &Comm) -> Res {
    let graph = || {
        let m: Vec<Delayed<u64>> = (0..5).map(|i| maps_inside(i * 10)).collect();
        let c: Vec<Delayed<u64>> = (0..5).map(computes_inside).collect();
        (sum_all(m), sum_all(c))
    };
    let want = serial(graph())?;
    let got = across(w, graph())?;
    ensure(got == want, || format!("nested: {got:?} != {want:?}"))?;
    // compute() with the mpi backend from the program (not a task).
    let got = compute_with(Backend::Mpi, graph()).map_err(|e| e.to_string())?;
    ensure(got == want, || format!("mpi backend: {got:?} != {want:?}"))?;
    // A delayed_fn closure capturing a vector.
    let table: Vec<u64> = (0..100).map(|i| i * 3).collect();
    let look = delayed_fn("look", move |i: u64| table[i as usize]);
    let got = across(
        w,
        (0..50)
            .map(|i| look.clone().call(i * 2))
            .collect::<Vec<_>>(),
    )?;
    let want: Vec<u64> = (0..50).map(|i| i * 6).collect();
    ensure(got == want, || format!("closure: {got:?}"))
}

// ----------------------------------------------------------------- empty

fn empty(w: &Comm) -> Res {
    let got = across(w, Vec::<Delayed<u64>>::new())?;
    ensure(got.is_empty(), || format!("{got:?}"))?;
    let got = across(w, Vec::<Vec<Delayed<u64>>>::new())?;
    ensure(got.is_empty(), || format!("{got:?}"))?;
    let got = across(w, vec![Vec::<Delayed<u64>>::new(), vec![sq(2)]])?;
    ensure(got == vec![vec![], vec![4]], || format!("{got:?}"))?;
    for root in 0..w.size() {
        let got =
            compute_on_root(w, root, Vec::<Delayed<u64>>::new()).map_err(|e| e.to_string())?;
        ensure(got == (w.rank() == root).then(Vec::new), || {
            format!("{got:?}")
        })?;
    }
    // A root out of range: an error on every rank, even for an empty graph.
    let r = compute_on_root(w, w.size(), Vec::<Delayed<u64>>::new());
    error_says(w, r, FailureKind::NotPlaceable, &["asked for on rank"])?;
    let r = compute_on_root(w, w.size() + 5, sq(3));
    error_says(w, r, FailureKind::NotPlaceable, &["asked for on rank"])?;
    let ok = across(w, sq(3))?;
    ensure(ok == 9, || format!("{ok}"))
}

// ------------------------------------------------------------------- big

#[delayed]
fn leaf(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40
}

fn big(w: &Comm) -> Res {
    // 10^4 + 1 sources (not a multiple of the ranks), a tree over them, and
    // one task with all of them as inputs.
    let n = 10_001u64;
    let graph = || {
        let leaves: Vec<Delayed<u64>> = (0..n).map(leaf).collect();
        let mut level = leaves.clone();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|c| match c {
                    [a, b] => plus(a, b),
                    [a] => plus(a, 0),
                    _ => unreachable!(),
                })
                .collect();
        }
        (level.pop().unwrap_or_else(|| value(0)), sum_all(leaves))
    };
    let want = serial(graph())?;
    ensure(want.0 == want.1, || format!("serial: {want:?}"))?;
    let got = across(w, graph())?;
    ensure(got == want, || format!("wide: {got:?} != {want:?}"))?;
    // A chain of 10^4.
    let chain = || {
        let mut x = leaf(1);
        for k in 0..10_000u64 {
            x = plus(x, k);
        }
        x
    };
    let want = serial(chain())?;
    let got = across(w, chain())?;
    ensure(got == want, || format!("deep: {got} != {want}"))?;
    let got = compute_on_root(w, w.size() - 1, chain()).map_err(|e| e.to_string())?;
    ensure(got == (w.rank() == w.size() - 1).then_some(want), || {
        format!("deep to the last rank: {got:?}")
    })?;
    // A chain of 10^4 whose first task fails: every rank names it, the
    // rest cancelled across the ranks.
    let mut x = breaks(0, 1);
    for k in 0..10_000u64 {
        x = plus(x, k);
    }
    let e = error_says(w, compute_on(w, x), FailureKind::Error, &["bad input 0"])?;
    ensure(
        e.function() == "breaks" && e.cancelled() >= 10_000 / w.size(),
        || format!("a failed chain: {} cancelled: {e}", e.cancelled()),
    )
}

// -------------------------------------------------------------- registry

#[delayed]
fn names_only_here(x: u64) -> Vec<(u8, String)> {
    vec![(x as u8, x.to_string())]
}

/// A type registered (by a first call of a `#[delayed]` function that
/// returns it) on rank 0 only: a value of it that must move between ranks
/// is an error on every rank, whichever side lacks it, never a rank left
/// waiting (before: the rank that lacked it returned at once, and the
/// others waited forever for its result). In a local world the ranks
/// share one registry: it moves.
fn registry(w: &Comm) -> Res {
    if w.rank() == 0 {
        // Called, not computed: registers `Vec<(u8, String)>` here only.
        drop(names_only_here(1));
    }
    w.barrier().map_err(|e| e.to_string())?;
    let processes = std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() && w.size() > 1;
    let last = w.size() - 1;
    let count = delayed_fn("count_names", |v: Vec<(u8, String)>| v.len() as u64);
    // From a rank that lacks the type, to rank 0, which has it; then from
    // rank 0 to a rank that lacks it.
    for (from, to) in [(last, 0), (0, last)] {
        let v = value(vec![(7u8, "seven".to_owned())]).on_rank(from);
        let others: Vec<Delayed<u64>> = (0..10).map(sq).collect();
        let n = count.call(v).on_rank(to);
        let r = compute_on(w, (sum_all(others), n));
        if processes {
            let e = error_says(
                w,
                r,
                FailureKind::NotPlaceable,
                &["transferable", "every rank"],
            )?;
            ensure(e.function() == "value" && e.rank() == Some(1), || {
                format!("from {from} to {to}: {e}")
            })?;
        } else {
            let got = r.map_err(|e| e.to_string())?;
            ensure(got == ((0..10).map(|i| i * i).sum(), 1), || {
                format!("{got:?}")
            })?;
        }
    }
    let ok = across(w, plus(1, 2))?;
    ensure(ok == 3, || format!("after: {ok}"))
}

// ----------------------------------------------------------------- split

/// Two sub-communicators computing different graphs at the same time.
fn split(w: &Comm) -> Res {
    let color = (w.rank() % 2) as u32;
    let sub = w
        .split(Some(color), w.rank() as i32)
        .map_err(|e| e.to_string())?
        .ok_or("no communicator")?;
    let graph = |c: u32| {
        let xs: Vec<Delayed<u64>> = (0..(20 + c as u64)).map(|i| sq(i + u64::from(c))).collect();
        sum_all(xs)
    };
    let want = serial(graph(color))?;
    let got = across(&sub, graph(color))?;
    ensure(got == want, || format!("color {color}: {got} != {want}"))?;
    // Then on the whole world again.
    let got = across(w, graph(7))?;
    ensure(got == serial(graph(7))?, || {
        format!("world after split: {got}")
    })
}

// ----------------------------------------------------------------- codec

/// A value whose `Serialize` fails (13), or panics (14), and whose
/// `Deserialize` fails (15), or panics (16): user code that runs when a
/// result moves between ranks.
#[derive(Debug, PartialEq, Clone)]
struct Touchy(u64);

impl Serialize for Touchy {
    fn serialize<S: parallel_runtime::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            13 => Err(parallel_runtime::serde::ser::Error::custom(
                "thirteen cannot be written",
            )),
            14 => panic!("fourteen panics when written"),
            x => s.serialize_u64(x),
        }
    }
}

impl<'de> Deserialize<'de> for Touchy {
    fn deserialize<D: parallel_runtime::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            15 => Err(parallel_runtime::serde::de::Error::custom(
                "fifteen cannot be read",
            )),
            16 => panic!("sixteen panics when read"),
            x => Ok(Touchy(x)),
        }
    }
}

#[delayed]
fn touchy(x: u64) -> Touchy {
    Touchy(x)
}

#[delayed]
fn untouch(t: Touchy) -> u64 {
    t.0
}

/// A result that cannot be written or read on its way to another rank:
/// an error on every rank naming the task, never a hang; the world usable
/// afterwards.
fn codec(w: &Comm) -> Res {
    let last = w.size() - 1;
    let ok = across(w, untouch(touchy(3).on_rank(0)).on_rank(last))?;
    ensure(ok == 3, || format!("{ok}"))?;
    if w.size() == 1 {
        return Ok(());
    }
    for (x, says) in [
        // The user's own text from `Error::custom`, not only that serde
        // failed (postcard's error dropped it).
        (13u64, "thirteen cannot be written"),
        (14, "fourteen panics when written"),
        (15, "fifteen cannot be read"),
        (16, "sixteen panics when read"),
    ] {
        let others: Vec<Delayed<u64>> = (0..8).map(sq).collect();
        let t = touchy(x).on_rank(0);
        let r = compute_on(w, (sum_all(others), untouch(t).on_rank(last)));
        let e = failed_compute(r)?;
        let text = e.to_string();
        ensure(e.function() == "touchy" && text.contains(says), || {
            format!("a value of {x} across ranks: {text}")
        })?;
        same_everywhere(w, &e)?;
        let ok = across(w, plus(x, 1))?;
        ensure(ok == x + 1, || format!("after {x}: {ok}"))?;
    }
    Ok(())
}

// ----------------------------------------------------------- mixed calls

/// `compute_on` on some ranks, `compute()` across the world (the `mpi`
/// backend) on the others: the same graph, another call.
fn mixed_calls(w: &Comm) -> Res {
    // Rank 0 by `compute_on`, the others by `compute()` with the `mpi`
    // backend, then the other way round, then all by `compute_on`, and
    // `compute_on_root` with `compute()` elsewhere (a mismatch): each
    // round's result equals the serial loop's, or every rank says why.
    let expect: u64 = (0..6u64).map(|x| x * x).sum();
    for round in 0..4 {
        let g = sum_all((0..6).map(sq).collect::<Vec<_>>());
        let by_compute_on = match round {
            0 => w.rank() == 0,
            1 => w.rank() != 0,
            _ => true,
        };
        let r = if round == 3 && w.rank() == 0 {
            compute_on_root(w, 0, g).map(|v| v.unwrap_or(0))
        } else if by_compute_on {
            compute_on(w, g)
        } else {
            compute_with(Backend::Mpi, g)
        };
        match (round, r) {
            (0..=2, Ok(v)) => ensure(v == expect, || format!("round {round}: {v}"))?,
            (0..=2, Err(e)) => return Err(format!("round {round}: {e}").into()),
            (_, Ok(v)) if w.size() == 1 => ensure(v == expect, || format!("{v}"))?,
            (_, Ok(v)) => return Err(format!("round 3: Ok({v}), expected a mismatch").into()),
            (_, Err(e)) => {
                ensure(e.kind() == FailureKind::GraphMismatch, || e.to_string())?;
                same_everywhere(w, &e)?;
            }
        }
    }
    Ok(())
}
