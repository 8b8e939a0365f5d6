//! `#[delayed]` graphs across ranks (`compute_on`), on real MPI and in a
//! local world: results equal to one machine's, pins, transfers only to
//! the ranks that consume, and every failure path returning the same error
//! on every rank.
//!
//! ```text
//! mpi_graph MODE               # under mpirun -n 2 (or more)
//! mpi_graph MODE local N       # the same in a local world of N ranks
//! ```
//!
//! MODE: `results`, `pins`, `panic`, `err`, `mismatch`, `unmovable`,
//! `after` (held handles computed again after a failed or a finished
//! compute across ranks), and
//! `dies` (mpirun only: the last rank's process exits inside a task).
//! Each rank prints `rank R: ok MODE` when its checks passed;
//! tests/delayed_mpi.rs runs it under deadlines.

use std::sync::atomic::{AtomicUsize, Ordering};

use parallel_runtime::graph::{
    compute_on, compute_on_root, compute_with, last_cluster_stats, FailureKind,
};
use parallel_runtime::prelude::*;
use parallel_runtime::Backend;
use parallel_tests::{ensure, failed_compute};

type Res = Result<(), Box<dyn std::error::Error>>;

#[mpi_main]
fn main(world: Comm) -> Result<(), String> {
    parallel_tests::ranks_main(&world, "results", |w, mode| {
        run(w, mode).map_err(|e| e.to_string())
    })
}

fn run(w: &Comm, mode: &str) -> Res {
    match mode {
        "results" => results(w),
        "pins" => pins(w),
        "panic" => fails(w, true),
        "err" => fails(w, false),
        "mismatch" => mismatch(w),
        "unmovable" => unmovable(w),
        "after" => after_a_compute(w),
        "dies" => dies(w),
        other => Err(format!("unknown mode `{other}`").into()),
    }
}

/// Held handles computed again after a compute across ranks (2 ranks or
/// more). A compute that fails on rank 1 after rank 0 sent it `w`'s
/// result (and dropped its own), before `x = f(w)` ran there: computing
/// `g(&x)` again across the ranks runs `x` where `w`'s result is (before,
/// `x` followed `w` to rank 0, which had dropped it, and every rank got
/// "no longer available … a handle was cloned", a wrong cause). Then a
/// local `compute()` of a handle whose input was sent away: an error that
/// says so on the rank that sent it, and the value on the others.
fn after_a_compute(w: &Comm) -> Res {
    if w.size() < 2 {
        return Ok(());
    }
    // Rank 0 is full with ten tasks, so `x` lands on rank 1; `w` takes
    // 300 ms, `bad` fails on rank 1 after 100 ms.
    let fill: Vec<Delayed<u64>> = (0..10).map(|i| slow(i, 0).on_rank(0)).collect();
    let x = plus(slow(1, 300).on_rank(0), 1);
    let y = plus(&x, 100);
    let z = add(x, fails_after(100).on_rank(1)).on_rank(1);
    let e = failed_compute(compute_on(w, (fill, z)))?;
    ensure(e.kind() == FailureKind::Error, || e.to_string())?;
    let y = compute_on(w, y).map_err(|e| e.to_string())?;
    ensure(y == 111, || format!("y = {y}"))?;
    // `x` runs on rank 1, `w` on rank 0: rank 0 sends `w` and drops it.
    let x = plus(slow(1, 0).on_rank(0), 1).on_rank(1);
    let y = plus(&x, 100);
    let z = compute_on(w, plus(x, 1000)).map_err(|e| e.to_string())?;
    ensure(z == 1011, || format!("z = {z}"))?;
    // Rank 1 holds `x`; rank 0 sent `w` away; a rank that took no part
    // holds both tasks unrun, and runs them.
    match (w.rank(), y.compute()) {
        (0, Ok(y)) => Err(format!("y computed on rank 0, which sent `w` away: {y}").into()),
        (_, Ok(y)) => ensure(y == 111, || format!("y = {y}")),
        (0, Err(e)) => ensure(
            e.kind() == FailureKind::Unavailable
                && e.to_string()
                    .contains("was sent to the ranks that consumed it"),
            || e.to_string(),
        ),
        (_, Err(e)) => Err(e.to_string().into()),
    }?;
    busy_on_one_rank(w)
}

/// Rank 1 computes a task of the graph on another thread when the ranks
/// compute the graph across them: rank 1 cannot start (`Busy`), and the
/// others say why (before: "0 tasks on rank 1", a graph mismatch).
fn busy_on_one_rank(w: &Comm) -> Res {
    let s = slow(1, 600);
    let g = add(plus(&s, 1), 2);
    let other = (w.rank() == 1).then(|| {
        let s = s.clone();
        std::thread::spawn(move || s.compute())
    });
    std::thread::sleep(std::time::Duration::from_millis(150));
    let e = failed_compute(compute_on(w, g))?;
    if let Some(other) = other {
        let got = other.join().map_err(|_| "the other compute panicked")?;
        ensure(matches!(got, Ok(10)), || format!("{got:?}"))?;
    }
    let text = e.to_string();
    ensure(
        if w.rank() == 1 {
            e.kind() == FailureKind::Busy
        } else {
            text.contains("rank 1 could not start this compute")
                && text.contains("another `compute`")
        },
        || text.clone(),
    )
}

#[delayed]
fn slow(x: u64, ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    x * 10
}

#[delayed]
fn plus(x: u64, k: u64) -> u64 {
    x + k
}

#[delayed]
fn fails_after(ms: u64) -> Result<u64, String> {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Err(format!("failed after {ms} ms"))
}

#[delayed]
fn point(i: u64) -> Vec<u64> {
    vec![i; 4]
}

#[delayed]
fn step(left: Vec<u64>, mid: Vec<u64>, right: Vec<u64>) -> Vec<u64> {
    mid.iter()
        .zip(&left)
        .zip(&right)
        .map(|((m, l), r)| m.wrapping_mul(3).wrapping_add(*l).wrapping_add(r / 2))
        .collect()
}

#[delayed]
fn total(xs: Vec<Vec<u64>>) -> u64 {
    xs.iter().flatten().fold(0u64, |a, &b| a.wrapping_add(b))
}

#[delayed]
fn sum(xs: Vec<u64>) -> u64 {
    xs.iter().fold(0u64, |a, &b| a.wrapping_add(b))
}

#[delayed]
fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// A stencil of `width` points and `steps` steps, its total, and a tree
/// reduction of its last row: the result, by whatever computes it.
fn stencil(width: u64, steps: usize) -> (Delayed<u64>, Delayed<u64>) {
    let mut row: Vec<Delayed<Vec<u64>>> = (0..width).map(point).collect();
    for _ in 0..steps {
        let w = row.len();
        row = (0..w)
            .map(|i| {
                let l = &row[i.saturating_sub(1)];
                let r = &row[(i + 1).min(w - 1)];
                step(l, &row[i], r)
            })
            .collect();
    }
    let sums: Vec<Delayed<u64>> = row.iter().map(|x| total(vec![x.clone()])).collect();
    let mut level = sums;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| match c {
                [a, b] => add(a, b),
                [a] => add(a, 0),
                _ => unreachable!(),
            })
            .collect();
    }
    let tree = level.pop().unwrap_or_else(|| add(0, 0));
    (total(row), tree)
}

/// Across ranks equals one machine, with `compute_on`, `Delayed::compute_on`,
/// `compute_on_root` and `compute()` with the `mpi` backend.
fn results(w: &Comm) -> Res {
    let expected = compute_with(Backend::Threads, stencil(8, 6)).map_err(|e| e.to_string())?;
    let got = compute_on(w, stencil(8, 6)).map_err(|e| e.to_string())?;
    ensure(got == expected, || {
        format!("compute_on: {got:?}, one machine: {expected:?}")
    })?;
    let one = stencil(5, 3).0.compute_on(w).map_err(|e| e.to_string())?;
    let one_expected =
        compute_with(Backend::Threads, stencil(5, 3).0).map_err(|e| e.to_string())?;
    ensure(one == one_expected, || {
        format!("Delayed::compute_on: {one} != {one_expected}")
    })?;
    let root = w.size() - 1;
    let at_root = compute_on_root(w, root, stencil(8, 6)).map_err(|e| e.to_string())?;
    if w.rank() == root {
        ensure(at_root == Some(expected), || {
            format!("root got {at_root:?}")
        })?;
    } else {
        ensure(at_root.is_none(), || {
            format!("rank {} got {at_root:?}", w.rank())
        })?;
    }
    let via_backend = compute_with(Backend::Mpi, stencil(8, 6)).map_err(|e| e.to_string())?;
    ensure(via_backend == expected, || {
        format!("compute() on mpi: {via_backend:?}")
    })?;
    // A task that computes a graph of its own runs it on its rank alone.
    let nested: Vec<Delayed<u64>> = (0..4).map(nested).collect();
    let nested = compute_on(w, nested).map_err(|e| e.to_string())?;
    ensure(nested == [1, 2, 3, 4], || {
        format!("nested computes: {nested:?}")
    })?;
    let stats = last_cluster_stats().ok_or("no stats after a compute across ranks")?;
    ensure(stats.rank == w.rank(), || {
        format!("stats of rank {}", stats.rank)
    })?;
    transfers(w)?;
    sizes(w)
}

#[delayed]
fn bytes(n: u64, seed: u64) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31) ^ seed) as u8).collect()
}

#[delayed]
fn digest(v: Vec<u8>) -> u64 {
    v.iter().fold(v.len() as u64, |a, &b| {
        (a ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Values of every size across ranks: empty, around the size a rank
/// receives into a buffer posted in advance (a frame of 1,024 bytes: a
/// `Vec<u8>` of 1,006 to 1,010 bytes), and 1 MiB (sent as a notice and a
/// message of its own), each made on one rank and read on another, in
/// both directions; the same as one machine.
fn sizes(w: &Comm) -> Res {
    let last = w.size() - 1;
    let graph = || {
        let lens = [0u64, 1, 1000, 1006, 1007, 1008, 1009, 1010, 4096, 1 << 20];
        let digests: Vec<Delayed<u64>> = lens
            .iter()
            .enumerate()
            .flat_map(|(k, &n)| {
                let there = digest(bytes(n, k as u64).on_rank(0)).on_rank(last);
                let back = digest(bytes(n, k as u64 + 100).on_rank(last)).on_rank(0);
                [there, back]
            })
            .collect();
        digests
    };
    let expected = compute_with(Backend::Threads, graph()).map_err(|e| e.to_string())?;
    let got = compute_on(w, graph()).map_err(|e| e.to_string())?;
    ensure(got == expected, || {
        format!("values of every size across ranks: {got:?}, one machine: {expected:?}")
    })
}

#[delayed]
fn nested(x: u64) -> u64 {
    compute_with(Backend::Mpi, add(x, 1)).unwrap_or(u64::MAX)
}

/// Independent chains, one per rank, each summed on rank 0: a rank sends
/// only its chain's end, to rank 0, and receives nothing.
fn transfers(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let ends: Vec<Delayed<u64>> = (0..size)
        .map(|r| {
            let mut x = add(r as u64, 1).on_rank(r);
            for _ in 0..10 {
                x = add(x, 1);
            }
            x
        })
        .collect();
    let sum = delayed_fn("sum", |xs: Vec<u64>| xs.iter().sum::<u64>())
        .call(ends)
        .on_rank(0);
    let got = compute_on_root(w, 0, sum).map_err(|e| e.to_string())?;
    let want = (0..size as u64).map(|r| r + 11).sum::<u64>();
    if me == 0 {
        ensure(got == Some(want), || format!("sum {got:?}, want {want}"))?;
    }
    let s = last_cluster_stats().ok_or("no stats")?;
    let (sent, received) = if me == 0 { (0, size - 1) } else { (1, 0) };
    ensure(s.tasks == 11 + usize::from(me == 0), || {
        format!(
            "rank {me} ran {} tasks, want {}",
            s.tasks,
            11 + usize::from(me == 0)
        )
    })?;
    ensure((s.sent, s.received) == (sent, received), || {
        format!(
            "rank {me} sent {} and received {} results, want {sent} and {received}",
            s.sent, s.received
        )
    })
}

static RAN: AtomicUsize = AtomicUsize::new(0);

#[delayed]
fn counted(x: u64) -> u64 {
    RAN.fetch_add(1, Ordering::Relaxed);
    x
}

/// A pinned task runs on its rank.
fn pins(w: &Comm) -> Res {
    let last = w.size() - 1;
    let x = counted(7).on_rank(last);
    let got = compute_on(w, x).map_err(|e| e.to_string())?;
    let s = last_cluster_stats().ok_or("no stats")?;
    ensure(got == 7, || format!("got {got}"))?;
    let want = usize::from(w.rank() == last);
    ensure(s.tasks == want, || {
        format!("rank {} ran {} tasks, want {want}", w.rank(), s.tasks)
    })?;
    let out_of_range = failed_compute(compute_on(w, counted(1).on_rank(w.size() + 3)))?;
    ensure(out_of_range.kind() == FailureKind::NotPlaceable, || {
        out_of_range.to_string()
    })?;
    ensure(out_of_range.to_string().contains("pinned to rank"), || {
        out_of_range.to_string()
    })
}

#[delayed]
fn breaks(x: u64, panic: bool) -> Result<u64, String> {
    if panic {
        panic!("boom at {x}");
    }
    Err(format!("bad input {x}"))
}

/// A task that fails on the last rank: the same error on every rank,
/// naming the task and the rank, its dependents cancelled.
fn fails(w: &Comm, panic: bool) -> Res {
    let last = w.size() - 1;
    let (_, tree) = stencil(4, 2);
    let bad = breaks(3, panic).on_rank(last);
    let dependent = add(&bad, 1).on_rank(0);
    let other = add(dependent, 2);
    let err = failed_compute(compute_on(w, (tree, other)))?;
    let text = err.to_string();
    let kind = if panic {
        FailureKind::Panicked
    } else {
        FailureKind::Error
    };
    ensure(err.kind() == kind, || {
        format!("kind {:?}: {text}", err.kind())
    })?;
    ensure(err.function() == "breaks", || format!("function: {text}"))?;
    ensure(err.rank() == Some(last), || {
        format!("rank {:?}: {text}", err.rank())
    })?;
    ensure(text.contains(&format!("on rank {last}")), || text.clone())?;
    let why = if panic { "boom at 3" } else { "bad input 3" };
    ensure(text.contains(why), || text.clone())?;
    ensure(err.cancelled() >= 2, || {
        format!("cancelled {}: {text}", err.cancelled())
    })?;
    // The world is usable afterwards.
    let again = compute_on(w, add(1, 2)).map_err(|e| e.to_string())?;
    ensure(again == 3, || format!("after a failure: {again}"))
}

/// Rank 1 builds another graph: every rank gets an error naming the first
/// task that differs.
fn mismatch(w: &Comm) -> Res {
    let x = point(1);
    let y = if w.rank() == 1 {
        total(vec![x])
    } else {
        total(vec![step(&x, &x, &x)])
    };
    let err = failed_compute(compute_on(w, y))?;
    let text = err.to_string();
    ensure(err.kind() == FailureKind::GraphMismatch, || text.clone())?;
    ensure(
        text.contains("different graphs") && text.contains("task #1"),
        || text.clone(),
    )?;
    let again = compute_on(w, add(2, 2)).map_err(|e| e.to_string())?;
    ensure(again == 4, || format!("after a mismatch: {again}"))?;
    mismatched_pins_and_roots(w)
}

/// The same graph pinned differently, or its results asked for on
/// different ranks: placement would differ between the ranks, each waiting
/// for results no rank sends (a hang, or a misleading error, before the
/// check compared pins and roots). An error on every rank instead.
fn mismatched_pins_and_roots(w: &Comm) -> Res {
    let me = w.rank();
    // "On my rank": the pin depends on the rank.
    let pinned_here = compute_on(w, add(point_sum(1).on_rank(me), 1));
    let words = format!("pinned to rank {me} on rank {me}");
    mismatch_says(pinned_here, &["pinned the tasks differently", &words])?;
    // Pinned on some ranks only.
    let x = point_sum(2);
    let x = if me == 0 { x.on_rank(0) } else { x };
    mismatch_says(compute_on(w, add(x, 1)), &["not pinned"])?;
    // Each rank its own root.
    let own_root = compute_on_root(w, me, add(point_sum(3), 1)).map(|_| 0);
    mismatch_says(own_root, &["results in different places"])?;
    // `compute_on_root` on rank 0, `compute_on` elsewhere.
    let g = add(point_sum(4), 1);
    let mixed = if me == 0 {
        compute_on_root(w, 0, g).map(|_| 0)
    } else {
        compute_on(w, g)
    };
    mismatch_says(mixed, &["on every rank (`compute_on`)"])?;
    // The same shape, its inputs in another order on rank 1 (as from a
    // `HashMap` built on each rank): before, each rank ran its own
    // arguments under the other's tasks and every rank returned a wrong
    // sum, silently.
    let mut parts: Vec<Delayed<u64>> = (0..3).map(point_sum).collect();
    if me == 1 {
        parts.reverse();
    }
    let chained = parts
        .into_iter()
        .reduce(|a, b| add(a, b).on_rank(0))
        .ok_or("no parts")?;
    mismatch_says(
        compute_on(w, chained),
        &["calls in another order", "HashMap"],
    )?;
    // A result `compute_on_root` left on rank 0 (and on the rank that
    // computed it), reused by every rank: the error says why the graphs
    // differ (it named the task only).
    let x = add(point_sum(6), point_sum(7));
    compute_on_root(w, 0, x.clone()).map_err(|e| e.to_string())?;
    if w.size() > 2 {
        mismatch_says(compute_on(w, add(x, 1)), &["an earlier compute left"])?;
    }
    let again = compute_on_root(w, 0, add(point_sum(5), 1)).map_err(|e| e.to_string())?;
    ensure(again == (me == 0).then_some(21), || {
        format!("after mismatched pins and roots: {again:?}")
    })?;
    same_names(w)
}

/// Two functions of one name in different modules: rank 0 builds its
/// graph from one, the others from the other. Before, the ranks compared
/// names only, and every rank returned one sum of both functions' results
/// (5,003 here, where rank 0's serial sum is 10 and the others' 6,000),
/// silently. A mismatch naming both definitions instead; and the message
/// of a task with a thousand inputs lists a few of them, not all.
fn same_names(w: &Comm) -> Res {
    let parts: Vec<Delayed<u64>> = (0..4u64)
        .map(|i| if w.rank() == 0 { one::f(i) } else { two::f(i) })
        .collect();
    let (mine, other) = if w.rank() == 0 {
        ("one::f", "two::f")
    } else {
        ("two::f", "one::f")
    };
    mismatch_says(compute_on(w, sum(parts)), &[mine, other, "mpi_graph.rs:"])?;
    let many: Vec<Delayed<u64>> = (0..1_000).map(point_sum).collect();
    let many = if w.rank() == 0 {
        sum(many)
    } else {
        add(sum(many), 0)
    };
    let err = failed_compute(compute_on(w, add(many, 1)))?;
    let text = err.to_string();
    ensure(text.len() < 2_000 && text.contains("1000 in all"), || {
        format!("{} bytes: {text}", text.len())
    })
}

mod one {
    use parallel_runtime::prelude::*;

    #[delayed]
    pub(crate) fn f(x: u64) -> u64 {
        x + 1
    }
}

mod two {
    use parallel_runtime::prelude::*;

    #[delayed]
    pub(crate) fn f(x: u64) -> u64 {
        x * 1000
    }
}

/// `r` must be a `GraphMismatch` whose text holds every one of `words`.
fn mismatch_says(r: Result<u64, DelayedError>, words: &[&str]) -> Res {
    let err = failed_compute(r)?;
    let text = err.to_string();
    ensure(
        err.kind() == FailureKind::GraphMismatch && words.iter().all(|w| text.contains(w)),
        || format!("expected a GraphMismatch saying {words:?}: {text}"),
    )
}

#[delayed]
fn point_sum(i: u64) -> u64 {
    4 * i
}

/// Not `Serialize`: fine while it stays on its rank.
struct Opaque(u64);

#[delayed]
fn opaque(x: u64) -> Opaque {
    RAN.fetch_add(1, Ordering::Relaxed);
    Opaque(x)
}

#[delayed]
fn open(o: Opaque) -> u64 {
    o.0
}

/// A result that cannot move is an error naming the task and its type,
/// before anything runs; kept on one rank it works.
fn unmovable(w: &Comm) -> Res {
    let before = RAN.load(Ordering::Relaxed);
    w.barrier().map_err(|e| e.to_string())?;
    let last = w.size() - 1;
    let err = failed_compute(compute_on(w, open(opaque(5).on_rank(last)).on_rank(0)))?;
    let text = err.to_string();
    ensure(err.kind() == FailureKind::NotPlaceable, || text.clone())?;
    ensure(
        err.function() == "opaque" && text.contains("Opaque"),
        || text.clone(),
    )?;
    w.barrier().map_err(|e| e.to_string())?;
    ensure(RAN.load(Ordering::Relaxed) == before, || {
        "a task ran before the error".into()
    })?;
    let ok =
        compute_on(w, open(opaque(5).on_rank(last)).on_rank(last)).map_err(|e| e.to_string())?;
    ensure(ok == 5, || format!("kept on one rank: {ok}"))
}

#[delayed]
fn exit_process(code: i32) -> u64 {
    std::process::exit(code)
}

/// The last rank's process exits inside a task while the others wait for
/// its result: the job must end (mpirun's part), not hang.
fn dies(w: &Comm) -> Res {
    let last = w.size() - 1;
    let x = exit_process(3).on_rank(last);
    let y = add(x, 1).on_rank(0);
    let r = compute_on(w, y);
    Err(format!("rank {} returned {r:?} after a rank died", w.rank()).into())
}
