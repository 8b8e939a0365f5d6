//! Lent graphs red-teamed. A graph that no handle outside the compute
//! reaches is *lent* to its compute, which frees each node on the thread
//! that ran its last consumer, during the run; any other graph is owned by
//! the compute and given back. Here: every value and every task closure is
//! dropped exactly once whatever ends the compute (success, a panic, an
//! `Err`, cancelled and skipped tasks), nothing is freed that a handle or a
//! task still reaches, results equal the serial backend's on pools of 1 to
//! 8 threads, long chains and wide stencils free everything without
//! overflowing the stack, computes that race, nest or run inside a map,
//! and no graph leaks its nodes (an allocator that counts, in a child).
//!
//! `LENT_SMALL=1` shrinks the big graphs (to run this file under valgrind).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use parallel_runtime::graph::{compute_with, value, Compute, FailureKind, NodeState, TaskKey};
use parallel_runtime::prelude::*;

// ----- accounting -----------------------------------------------------------

/// Every guard made, and how many times each was dropped.
#[derive(Default)]
struct Ledger {
    drops: Mutex<Vec<u32>>,
}

impl Ledger {
    fn new() -> Arc<Ledger> {
        Arc::default()
    }

    fn guard(self: &Arc<Self>) -> Guard {
        let mut drops = self.drops.lock().unwrap_or_else(PoisonError::into_inner);
        drops.push(0);
        Guard {
            ledger: self.clone(),
            id: drops.len() - 1,
        }
    }

    /// Guards not dropped yet.
    fn alive(&self) -> usize {
        let drops = self.drops.lock().unwrap_or_else(PoisonError::into_inner);
        drops.iter().filter(|&&d| d == 0).count()
    }

    /// Panics unless every guard made was dropped exactly once.
    fn all_dropped_once(&self, what: &str) {
        let drops = self.drops.lock().unwrap_or_else(PoisonError::into_inner);
        let alive = drops.iter().filter(|&&d| d == 0).count();
        let twice = drops.iter().filter(|&&d| d > 1).count();
        assert!(
            alive == 0 && twice == 0,
            "{what}: of {} guards, {alive} never dropped and {twice} dropped more than once",
            drops.len()
        );
    }
}

/// Counts its drops in its ledger; a clone is a new guard.
struct Guard {
    ledger: Arc<Ledger>,
    id: usize,
}

impl Clone for Guard {
    fn clone(&self) -> Self {
        self.ledger.guard()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut drops = self
            .ledger
            .drops
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        drops[self.id] += 1;
    }
}

/// A result that carries a guard.
#[derive(Clone)]
struct Val {
    v: u64,
    _g: Guard,
}

/// A cheap guard for graphs of a million nodes: counts the live ones.
struct Counted(&'static AtomicIsize);

impl Counted {
    fn new(live: &'static AtomicIsize) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Counted(live)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A value that counts itself.
#[derive(Clone)]
struct Cv {
    v: u64,
    _c: Counted,
}

fn small() -> bool {
    std::env::var_os("LENT_SMALL").is_some()
}

/// Planned panics are not printed (any other panic is).
fn quiet_planned_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let text = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied());
            let planned = text.is_some_and(|s| s.starts_with("lent: planned"));
            if !planned {
                default(info);
            }
        }));
    });
}

// ----- where a compute runs -------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Run {
    Serial,
    Pool(usize),
}

const RUNS: [Run; 5] = [
    Run::Serial,
    Run::Pool(1),
    Run::Pool(2),
    Run::Pool(4),
    Run::Pool(8),
];

fn pool(n: usize) -> &'static rayon::ThreadPool {
    static POOLS: OnceLock<Vec<rayon::ThreadPool>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        [1, 2, 4, 8]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .expect("a pool of the test's own")
            })
            .collect()
    });
    &pools[n.trailing_zeros() as usize]
}

fn go<C>(run: Run, c: C) -> Result<C::Output, DelayedError>
where
    C: Compute + Send,
    C::Output: Send,
{
    match run {
        Run::Serial => compute_with(Backend::Serial, c),
        Run::Pool(n) => pool(n).install(|| compute_with(Backend::Threads, c)),
    }
}

// ----- random graphs --------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fail {
    No,
    Panic,
    Err,
}

#[derive(Clone, Copy)]
struct Spec {
    id: u64,
    fail: Fail,
}

/// One node of a random graph: its closure holds `g` until it runs (or is
/// dropped), its result holds a guard of its own.
#[delayed]
fn node(spec: Spec, g: Guard, xs: Vec<Val>) -> Result<Val, String> {
    let v = mix(spec.id, xs.iter().map(|x| x.v));
    match spec.fail {
        Fail::Panic => panic!("lent: planned panic of node {}", spec.id),
        Fail::Err => return Err(format!("lent: node {} failed", spec.id)),
        Fail::No => {}
    }
    let ledger = g.ledger.clone();
    Ok(Val {
        v,
        _g: ledger.guard(),
    })
}

fn mix(id: u64, xs: impl Iterator<Item = u64>) -> u64 {
    xs.fold(id.wrapping_mul(0x9E37_79B9_7F4A_7C15), |a, x| {
        a.rotate_left(7) ^ x.wrapping_add(1)
    })
}

/// A random graph: each node reads up to three earlier ones.
struct Dag {
    inputs: Vec<Vec<usize>>,
    fail: Option<(usize, Fail)>,
}

impl Dag {
    fn new(seed: u64, n: usize, fail: Option<(usize, Fail)>) -> Dag {
        let mut s = seed | 1;
        let mut rng = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let inputs = (0..n)
            .map(|i| {
                if i == 0 {
                    return Vec::new();
                }
                let k = (rng() % 4) as usize;
                (0..k)
                    .map(|j| match j {
                        0 => i - 1,
                        _ => (rng() % i as u64) as usize,
                    })
                    .collect()
            })
            .collect();
        Dag { inputs, fail }
    }

    fn build(&self, l: &Arc<Ledger>) -> Vec<Delayed<Val>> {
        let mut h: Vec<Delayed<Val>> = Vec::with_capacity(self.inputs.len());
        for (i, ins) in self.inputs.iter().enumerate() {
            let fail = match self.fail {
                Some((k, f)) if k == i => f,
                _ => Fail::No,
            };
            let xs: Vec<Delayed<Val>> = ins.iter().map(|&j| h[j].clone()).collect();
            let spec = Spec { id: i as u64, fail };
            h.push(node(spec, l.guard(), xs));
        }
        h
    }

    /// The value of each node (as if none failed).
    fn values(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(self.inputs.len());
        for (i, ins) in self.inputs.iter().enumerate() {
            let x = mix(i as u64, ins.iter().map(|&j| v[j]));
            v.push(x);
        }
        v
    }

    fn sinks(&self) -> Vec<usize> {
        let mut read = vec![false; self.inputs.len()];
        for ins in &self.inputs {
            for &j in ins {
                read[j] = true;
            }
        }
        (0..read.len()).filter(|&i| !read[i]).collect()
    }

    /// The order in which a compute of `roots` walks the graph (inputs
    /// first, in argument order): the order the serial backend runs it in.
    fn walk_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut seen = vec![false; self.inputs.len()];
        let mut order = Vec::new();
        for &r in roots {
            if std::mem::replace(&mut seen[r], true) {
                continue;
            }
            let mut stack = vec![(r, 0)];
            while let Some((i, k)) = stack.last_mut() {
                match self.inputs[*i].get(*k) {
                    Some(&d) => {
                        *k += 1;
                        if !std::mem::replace(&mut seen[d], true) {
                            stack.push((d, 0));
                        }
                    }
                    None => {
                        order.push(*i);
                        stack.pop();
                    }
                }
            }
        }
        order
    }

    /// Whether node `k` is upstream of (or is) one of `roots`.
    fn reaches(&self, k: usize, roots: &[usize]) -> bool {
        let mut seen = vec![false; self.inputs.len()];
        let mut stack = roots.to_vec();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            stack.extend(&self.inputs[i]);
        }
        seen[k]
    }
}

/// Which handles a case computes, which it keeps outside the compute.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Sinks,
    /// Inner nodes as roots too, before the sinks.
    InnerFirst,
    /// Inner nodes as roots too, after the sinks.
    InnerLast,
    /// Every sink twice.
    Duplicated,
    /// A handle to inner nodes kept outside (the graph is not lent).
    KeepInner,
    /// A clone of a root kept outside.
    KeepRoot,
    /// Inner nodes computed first (their handles held), then dropped: the
    /// second compute finds them complete.
    PriorDone,
}

const SHAPES: [Shape; 7] = [
    Shape::Sinks,
    Shape::InnerFirst,
    Shape::InnerLast,
    Shape::Duplicated,
    Shape::KeepInner,
    Shape::KeepRoot,
    Shape::PriorDone,
];

/// Checks a compute of `roots` (of a graph that none ran before when
/// `fresh_on` names the run): the values of the reference, or the planned
/// failure; on the serial backend, exactly the tasks after it in the walk
/// counted as cancelled or skipped, elsewhere at most every other task.
fn check_result(
    what: &str,
    dag: &Dag,
    keys: &[TaskKey],
    roots: &[usize],
    fresh_on: Option<Run>,
    got: Result<Vec<Val>, DelayedError>,
) {
    let want = dag.values();
    match dag.fail.filter(|&(k, _)| dag.reaches(k, roots)) {
        None => {
            let got: Vec<u64> = got
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .iter()
                .map(|v| v.v)
                .collect();
            let want: Vec<u64> = roots.iter().map(|&i| want[i]).collect();
            assert_eq!(got, want, "{what}");
        }
        Some((k, f)) => {
            let e = got.err().unwrap_or_else(|| panic!("{what}: no error"));
            assert_eq!(e.key(), keys[k], "{what}: {e}");
            let kind = match f {
                Fail::Panic => FailureKind::Panicked,
                _ => FailureKind::Error,
            };
            assert_eq!(e.kind(), kind, "{what}: {e}");
            let order = dag.walk_order(roots);
            let after = order.len()
                - 1
                - order
                    .iter()
                    .position(|&i| i == k)
                    .expect("the failing node is walked");
            match fresh_on {
                Some(Run::Serial) => assert_eq!(e.cancelled(), after, "{what}"),
                Some(_) => assert!(e.cancelled() < order.len(), "{what}: {e}"),
                None => {}
            }
        }
    }
}

fn run_case(dag: &Dag, shape: Shape, run: Run) {
    let what = format!("{shape:?} on {run:?}, failure {:?}", dag.fail);
    let l = Ledger::new();
    let all = dag.build(&l);
    let keys: Vec<TaskKey> = all.iter().map(|d| d.key()).collect();
    let n = all.len();
    let sinks = dag.sinks();
    let inner: Vec<usize> = (0..n).step_by(7).filter(|i| !sinks.contains(i)).collect();
    let mut roots: Vec<usize> = match shape {
        Shape::InnerFirst => inner.iter().chain(&sinks).copied().collect(),
        Shape::InnerLast => sinks.iter().chain(&inner).copied().collect(),
        Shape::Duplicated => sinks.iter().flat_map(|&s| [s, s]).collect(),
        _ => sinks.clone(),
    };
    let kept_ix: Vec<usize> = match shape {
        Shape::KeepInner | Shape::PriorDone => inner.clone(),
        Shape::KeepRoot => vec![sinks[0]],
        _ => Vec::new(),
    };
    let kept: Vec<Delayed<Val>> = kept_ix.iter().map(|&i| all[i].clone()).collect();
    if let Shape::PriorDone = shape {
        // First the inner nodes, through clones (the handles are kept).
        let first: Vec<Delayed<Val>> = kept.clone();
        let out = go(run, first);
        check_result(
            &format!("{what}, first"),
            dag,
            &keys,
            &kept_ix,
            Some(run),
            out,
        );
        drop(kept);
        let kept: Vec<Delayed<Val>> = Vec::new();
        let computed: Vec<Delayed<Val>> = roots.iter().map(|&i| all[i].clone()).collect();
        drop(all);
        let out = go(run, computed);
        check_result(&what, dag, &keys, &roots, None, out);
        drop(kept);
        l.all_dropped_once(&what);
        return;
    }
    let computed: Vec<Delayed<Val>> = roots.iter().map(|&i| all[i].clone()).collect();
    drop(all);
    let out = go(run, computed);
    check_result(&what, dag, &keys, &roots, Some(run), out);
    // What a kept handle still sees: its inputs, and (when it ran) its
    // result, without running again.
    for (d, &i) in kept.iter().zip(&kept_ix) {
        let deps: Vec<TaskKey> = dag.inputs[i].iter().map(|&j| keys[j]).collect();
        assert_eq!(d.dependencies(), deps, "{what}: node {i}");
        let g = d.graph();
        assert!(g.to_dot().contains(&d.key().to_string()), "{what}");
        let state = g.state(&d.key());
        // The inputs of a computed task are not drawn.
        let drawn = if state == Some(NodeState::Done) {
            Vec::new()
        } else {
            deps
        };
        assert_eq!(g.dependencies(&d.key()), Some(drawn), "{what}");
        if dag.fail.is_none() {
            assert_eq!(state, Some(NodeState::Done), "{what}");
        }
    }
    roots = kept_ix;
    let out = go(run, kept);
    check_result(&format!("{what}, kept"), dag, &keys, &roots, None, out);
    l.all_dropped_once(&what);
}

/// Every shape of roots, with and without a failing task (a panic or an
/// `Err`, early or late), on the serial backend and on pools of 1 to 8
/// threads: the results of the serial backend, and every value and
/// closure dropped exactly once.
#[test]
fn every_value_and_task_is_dropped_exactly_once_whatever_ends_the_compute() {
    quiet_planned_panics();
    let n = if small() { 60 } else { 300 };
    let fails = [
        None,
        Some((3, Fail::Panic)),
        Some((n / 2, Fail::Err)),
        Some((n - 5, Fail::Panic)),
    ];
    for (seed, fail) in fails.into_iter().enumerate() {
        let dag = Dag::new(seed as u64 * 7919 + 11, n, fail);
        for shape in SHAPES {
            for run in RUNS {
                run_case(&dag, shape, run);
            }
        }
    }
}

/// Many tasks ready at once (a wide graph, split among the threads), one
/// of which fails: the others are cancelled or skipped, and each closure
/// is still dropped exactly once.
#[test]
fn a_wide_graph_that_aborts_drops_every_skipped_task() {
    quiet_planned_panics();
    let width = if small() { 40 } else { 400 };
    for run in RUNS {
        for fail in [Fail::Panic, Fail::Err] {
            let l = Ledger::new();
            let leaves: Vec<Delayed<Val>> = (0..width)
                .map(|i| {
                    let f = if i == width / 3 { fail } else { Fail::No };
                    node(
                        Spec { id: i, fail: f },
                        l.guard(),
                        Vec::<Delayed<Val>>::new(),
                    )
                })
                .collect();
            let mids: Vec<Delayed<Val>> = leaves
                .chunks(2)
                .enumerate()
                .map(|(i, p)| {
                    let spec = Spec {
                        id: 10_000 + i as u64,
                        fail: Fail::No,
                    };
                    node(spec, l.guard(), p.to_vec())
                })
                .collect();
            drop(leaves);
            let top = node(
                Spec {
                    id: 1,
                    fail: Fail::No,
                },
                l.guard(),
                mids,
            );
            let e = go(run, top).err().expect("a failure");
            assert_eq!(e.function(), "node");
            assert!(e.cancelled() >= 2, "{run:?}: {e}");
            l.all_dropped_once(&format!("{run:?} {fail:?}"));
        }
    }
}

// ----- roots that repeat or feed each other ---------------------------------

#[delayed]
fn leaf(l: Arc<Ledger>, v: u64) -> Val {
    Val { v, _g: l.guard() }
}

#[delayed]
fn plus(x: Val, k: u64) -> Val {
    Val {
        v: x.v + k,
        _g: x._g,
    }
}

#[delayed]
fn pair(x: Val, y: Val) -> Val {
    Val {
        v: x.v * 100 + y.v,
        _g: x._g,
    }
}

/// `compute((a.clone(), a))`, `compute(vec![x, x2])`, a root that is also
/// an input of another root, in either order.
#[test]
fn roots_that_repeat_or_feed_another_root() {
    for run in RUNS {
        let l = Ledger::new();
        let a = plus(leaf(l.clone(), 1), 1);
        let (x, y) = go(run, (a.clone(), a)).unwrap();
        assert_eq!((x.v, y.v), (2, 2), "{run:?}");
        drop((x, y));
        l.all_dropped_once("(a.clone(), a)");

        let x = plus(leaf(l.clone(), 5), 0);
        let v = go(run, vec![x.clone(), plus(&x, 1), x.clone(), x]).unwrap();
        assert_eq!(v.iter().map(|v| v.v).collect::<Vec<_>>(), [5, 6, 5, 5]);
        drop(v);
        l.all_dropped_once("vec![x, x2]");

        // `b` reads `a`; both are roots, in both orders, and twice.
        for order in 0..4 {
            let a = plus(leaf(l.clone(), 3), 0);
            let b = pair(&a, leaf(l.clone(), 4));
            let c = plus(&b, 1);
            let got = match order {
                // `c` is kept outside: the graph is not lent.
                0 => {
                    let (b, a) = go(run, (b, a)).unwrap();
                    drop(c);
                    (a.v, b.v)
                }
                1 => {
                    let (a, b) = go(run, (a, b)).unwrap();
                    drop(c);
                    (a.v, b.v)
                }
                2 => {
                    let (c, a, b, a2) = go(run, (c, a.clone(), b, a)).unwrap();
                    assert_eq!((c.v, a2.v), (305, 3));
                    (a.v, b.v)
                }
                _ => {
                    let v = go(run, vec![b.clone(), a, c, b]).unwrap();
                    assert_eq!(v[2].v, 305);
                    assert_eq!(v[3].v, 304);
                    (v[1].v, v[0].v)
                }
            };
            assert_eq!(got, (3, 304), "{run:?} order {order}");
            l.all_dropped_once(&format!("{run:?} order {order}"));
        }
    }
}

// ----- freed during the run -------------------------------------------------

#[delayed]
fn alive_now(x: Val, l: Arc<Ledger>) -> usize {
    let n = l.alive();
    drop(x);
    n
}

/// A value is freed while the compute runs: an intermediate result when its
/// last consumer read it, and a result kept by an earlier compute soon after
/// the consumer of its (now handle-less) holder ran (a thread frees the
/// input lists of the tasks it ran after it has handed on what they made
/// ready, up to 8 at a time: a chain of 12 tasks later, they are gone).
#[test]
fn values_are_freed_during_the_run() {
    for run in RUNS {
        let l = Ledger::new();
        // A chain: when the probe runs, only its own input is alive (and
        // the probe's input's guard is the only one: closures hold none).
        let mut t = leaf(l.clone(), 0);
        for k in 0..50 {
            t = plus(t, k);
        }
        assert_eq!(go(run, alive_now(t, l.clone())).unwrap(), 1, "{run:?}");
        l.all_dropped_once("chain");

        // `a` and `b` computed with their handles held: both keep their
        // results. Then `a`'s handle goes, and `b` is moved into `c`:
        // once `c` ran, nothing reaches `b` (nor `a`, which only `b`
        // holds), and both results are freed before the probe runs.
        let a = leaf(l.clone(), 1);
        let b = plus(&a, 1);
        assert_eq!(go(run, b.clone()).unwrap().v, 2);
        assert_eq!(l.alive(), 2, "{run:?}: a's and b's kept results");
        drop(a);
        let mut c = plus(b, 1);
        for k in 0..12 {
            c = plus(c, k);
        }
        let probe = alive_now(c, l.clone());
        assert_eq!(
            go(run, probe).unwrap(),
            1,
            "{run:?}: only the chain's value"
        );
        l.all_dropped_once("prior done");
    }
}

#[delayed]
fn link(x: Cv, c: Counted) -> Cv {
    Cv { v: x.v + 1, _c: c }
}

#[delayed]
fn cell(l: Cv, c: Cv, r: Cv, k: Counted) -> Cv {
    Cv {
        v: (l.v.rotate_left(3) ^ c.v).wrapping_add(r.v.wrapping_mul(3)),
        _c: k,
    }
}

#[delayed]
fn start(v: u64, c: Counted) -> Cv {
    Cv { v, _c: c }
}

#[delayed]
fn broken(_x: Cv) -> Cv {
    panic!("lent: planned panic at the start of a chain")
}

/// A chain of a million tasks: computed and freed without overflowing a
/// stack, on both backends; and a chain whose first task fails (every
/// other one cancelled, then freed with the plan).
#[test]
fn a_chain_of_a_million_tasks_completes_and_frees_everything() {
    quiet_planned_panics();
    static LIVE: AtomicIsize = AtomicIsize::new(0);
    let n: u64 = if small() { 5_000 } else { 1_000_000 };
    for (backend, n) in [(Backend::Threads, n), (Backend::Serial, n / 4)] {
        let mut x = start(0, Counted::new(&LIVE));
        for _ in 0..n {
            x = link(x, Counted::new(&LIVE));
        }
        let got = compute_with(backend, x).unwrap();
        assert_eq!(got.v, n, "{backend}");
        assert_eq!(LIVE.load(Ordering::SeqCst), 1, "{backend}: the result");
        drop(got);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
    }
    let mut x = broken(start(0, Counted::new(&LIVE)));
    for _ in 0..n / 4 {
        x = link(x, Counted::new(&LIVE));
    }
    let e = compute_with(Backend::Threads, x).err().expect("a failure");
    assert_eq!(e.function(), "broken");
    assert_eq!(e.cancelled() as u64, n / 4);
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

/// A stencil 64 wide and 2,000 steps deep (each cell reads three of the
/// row before, shared): the serial backend's values on a pool of two, and
/// only the last row alive when `compute` returns.
#[test]
fn a_wide_stencil_completes_and_frees_everything() {
    static LIVE: AtomicIsize = AtomicIsize::new(0);
    const W: usize = 64;
    let steps = if small() { 40 } else { 2_000 };
    let mut want: Vec<u64> = (0..W as u64).collect();
    for _ in 0..steps {
        want = (0..W)
            .map(|j| {
                let (l, c, r) = (want[j.saturating_sub(1)], want[j], want[(j + 1).min(W - 1)]);
                (l.rotate_left(3) ^ c).wrapping_add(r.wrapping_mul(3))
            })
            .collect();
    }
    for run in [Run::Pool(2), Run::Serial] {
        let mut row: Vec<Delayed<Cv>> = (0..W as u64)
            .map(|v| start(v, Counted::new(&LIVE)))
            .collect();
        for _ in 0..steps {
            let next = (0..W)
                .map(|j| {
                    let (l, c, r) = (&row[j.saturating_sub(1)], &row[j], &row[(j + 1).min(W - 1)]);
                    cell(l, c, r, Counted::new(&LIVE))
                })
                .collect();
            row = next;
        }
        let got = go(run, row).unwrap();
        assert_eq!(got.iter().map(|c| c.v).collect::<Vec<_>>(), want, "{run:?}");
        assert_eq!(LIVE.load(Ordering::SeqCst), W as isize, "{run:?}");
        drop(got);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
    }
}

// ----- handles inside tasks -------------------------------------------------

#[delayed]
fn inc(x: u64) -> u64 {
    x + 1
}

/// A task that holds a handle to another node of its own graph sees that
/// node whole (its inputs, its state) while the graph runs, after the
/// node's consumer read it; computing it from inside is refused as busy.
#[test]
fn a_handle_held_by_a_task_keeps_its_node_whole() {
    for run in RUNS {
        let x = inc(inc(1));
        let x_deps = x.dependencies();
        let y = inc(x.clone());
        let held = x;
        let peek = delayed_fn("peek", move |y: u64| {
            let g = held.graph();
            let whole = held.dependencies() == x_deps
                && g.len() == 2
                && g.state(&held.key()) == Some(NodeState::Running);
            let busy = held.clone().compute().map_err(|e| e.kind());
            drop(held);
            (y, whole, busy)
        })
        .call(y);
        let (y, whole, busy) = go(run, peek).unwrap();
        assert_eq!(y, 4);
        assert!(whole, "{run:?}");
        assert_eq!(busy, Err(FailureKind::Busy), "{run:?}");
    }
}

/// A task that holds a handle to a graph of its own computes it inside
/// (both graphs lent); a task whose result is a handle; a handle kept in a
/// value that a task captured.
#[test]
fn handles_to_other_graphs_inside_tasks() {
    for run in RUNS {
        let l = Ledger::new();
        let other = plus(plus(leaf(l.clone(), 10), 1), 1);
        let outer = delayed_fn("nested", move |x: u64| {
            other.compute().map(|v| v.v + x).unwrap_or(0)
        })
        .call(inc(1));
        assert_eq!(go(run, outer).unwrap(), 14, "{run:?}");
        l.all_dropped_once("nested");

        // A task returns a handle (a graph made inside it); another task
        // receives it and computes it.
        let l2 = l.clone();
        let maker = delayed_fn("maker", move || plus(leaf(l2, 20), 2)).call(());
        let user = delayed_fn("user", |h: Delayed<Val>| h.compute().unwrap().v).call(maker);
        assert_eq!(go(run, user).unwrap(), 22, "{run:?}");
        l.all_dropped_once("handle as a result");

        // `x` is read by `y`, and a value task holds a handle to it: the
        // graph is not lent, `x` keeps its result for that handle.
        let x = plus(leaf(l.clone(), 7), 0);
        let holder = value(x.clone());
        let y = plus(x, 1);
        let (y, h) = go(run, (y, holder)).unwrap();
        assert_eq!(y.v, 8);
        assert_eq!(h.graph().state(&h.key()), Some(NodeState::Done), "{run:?}");
        assert_eq!(h.dependencies().len(), 1, "{run:?}");
        assert_eq!(go(run, h).unwrap().v, 7);
        drop(y);
        l.all_dropped_once("handle in a value");
    }
}

// ----- computes at the same time, nested, inside maps -----------------------

/// Two threads compute graphs that share a node (each a handle to the
/// other's input): both succeed, or one is refused as busy; never a crash,
/// and nothing dropped twice or kept. A third thread drops a graph that
/// shares the node, or reads it.
#[test]
fn computes_that_share_a_node_race_safely() {
    let rounds = if small() { 10 } else { 200 };
    for round in 0..rounds {
        let l = Ledger::new();
        let s = plus(leaf(l.clone(), 1), 0);
        let a = plus(&s, 1);
        let b = plus(&s, 2);
        let c = pair(&s, plus(&s, 3));
        drop(s);
        let la = l.clone();
        let ta = std::thread::spawn(move || match compute(a) {
            Ok(v) => Ok(v.v),
            Err(e) => Err(e.kind()),
        });
        let tb = std::thread::spawn(move || match compute(b) {
            Ok(v) => Ok(v.v),
            Err(e) => Err(e.kind()),
        });
        let tc = std::thread::spawn(move || {
            let ok = round % 2 == 1 || {
                let g = c.graph();
                g.len() >= 3 && c.dependencies().len() == 2 && c.to_dot().contains("pair")
            };
            drop(c);
            drop(la);
            ok
        });
        for (got, want) in [(ta.join().unwrap(), 2), (tb.join().unwrap(), 3)] {
            assert!(
                got == Ok(want) || got == Err(FailureKind::Busy),
                "round {round}: {got:?}"
            );
        }
        assert!(tc.join().unwrap());
        l.all_dropped_once(&format!("round {round}"));
    }
}

/// A graph drawn on one thread while another computes a graph that shares
/// a node with it: the drawing must not look like a handle to the nodes
/// below the shared one (it once took a count of each node it passed, and
/// the compute then read `leaf`'s result by cloning, which failed:
/// "the result of `leaf-…` is no longer available", in about one round in
/// thirty).
#[test]
fn drawing_a_graph_while_another_thread_computes_a_graph_that_shares_a_node() {
    use std::sync::atomic::AtomicBool;
    let rounds = if small() { 20 } else { 400 };
    for round in 0..rounds {
        let l = Ledger::new();
        let s = plus(leaf(l.clone(), 1), 0);
        let a = plus(&s, 1);
        let c = plus(&s, 2);
        drop(s);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let drawer = std::thread::spawn(move || {
            let mut drawn = 0;
            while !stopped.load(Ordering::Relaxed) || drawn == 0 {
                drawn += c.graph().len();
            }
            drawn
        });
        let got = a.compute().map(|v| v.v);
        stop.store(true, Ordering::Relaxed);
        assert!(drawer.join().unwrap() >= 2);
        assert_eq!(got.map_err(|e| e.to_string()), Ok(2), "round {round}");
        l.all_dropped_once(&format!("round {round}"));
    }
}

static ITEM_LIVE: AtomicIsize = AtomicIsize::new(0);

#[parallel_map]
fn graph_in_an_item(n: u64) -> u64 {
    let mut x = start(n, Counted::new(&ITEM_LIVE));
    for _ in 0..n {
        x = link(x, Counted::new(&ITEM_LIVE));
    }
    let parts: Vec<Delayed<Cv>> = (0..4).map(|k| start(k, Counted::new(&ITEM_LIVE))).collect();
    let sum = delayed_fn("sum", |x: Cv, ps: Vec<Cv>| {
        x.v + ps.iter().map(|p| p.v).sum::<u64>()
    })
    .call((x, parts));
    sum.compute().expect("a graph of its own")
}

/// A compute inside a task (lent inside lent), and one inside each item
/// of a parallel map.
#[test]
fn computes_inside_tasks_and_maps() {
    for run in RUNS {
        let l = Ledger::new();
        let l2 = l.clone();
        let outer: Vec<Delayed<u64>> = (0..6)
            .map(|i| {
                let l = l2.clone();
                delayed_fn("inner", move |k: u64| {
                    let mut t = leaf(l.clone(), k);
                    for j in 0..k {
                        t = plus(t, j);
                    }
                    let probe = alive_now(t, l);
                    probe.compute().unwrap() as u64 + k
                })
                .call(inc(i))
            })
            .collect();
        let got = go(run, outer).unwrap();
        // Each inner probe saw its own input alive, and maybe the others'.
        assert!(got.iter().zip(1u64..).all(|(&g, k)| g > k), "{got:?}");
        l.all_dropped_once(&format!("{run:?} nested"));
    }
    let got = graph_in_an_item::map(0..32u64);
    assert_eq!(got, (0..32u64).map(|n| 2 * n + 6).collect::<Vec<_>>());
    assert_eq!(ITEM_LIVE.load(Ordering::SeqCst), 0);
}

// ----- inspection across a compute ------------------------------------------

/// Handles kept across a compute see their graph as it ran: inputs,
/// states, DOT; a snapshot taken before the compute stays readable.
#[test]
fn kept_handles_inspect_their_graph_after_a_compute() {
    for run in RUNS {
        let l = Ledger::new();
        let a = leaf(l.clone(), 1);
        let b = plus(&a, 2);
        let c = pair(&b, plus(&a, 3));
        let snapshot = c.graph();
        let d = plus(c, 4);
        assert_eq!(go(run, d).unwrap().v, 304 + 4);
        assert_eq!(snapshot.len(), 4);
        assert_eq!(snapshot.to_dot().matches(" -> ").count(), 4);
        for h in [&a, &b] {
            let g = h.graph();
            assert_eq!(g.state(&h.key()), Some(NodeState::Done), "{run:?}");
        }
        assert_eq!(b.dependencies(), vec![a.key()]);
        assert_eq!(b.graph().len(), 1, "a computed task's inputs are not drawn");
        assert!(b.to_dot().contains(&b.key().to_string()));
        assert_eq!(go(run, (a, b)).map(|(a, b)| (a.v, b.v)).ok(), Some((1, 3)));
        l.all_dropped_once(&format!("{run:?}"));
    }
}

// ----- panics while freeing, traces -------------------------------------------

/// Panics when dropped, if armed (a clone is not).
struct Fuse(bool);

impl Clone for Fuse {
    fn clone(&self) -> Self {
        Fuse(false)
    }
}

impl Drop for Fuse {
    fn drop(&mut self) {
        if self.0 {
            panic!("lent: planned panic of a value being freed");
        }
    }
}

/// A kept result whose destructor panics, freed during a lent run (on the
/// thread of the consumer that let go of its holder): the compute ends
/// (it panics, as freeing the graph after the run did), it never hangs,
/// and the pool stays usable.
#[test]
fn a_value_that_panics_when_freed_during_the_run_ends_the_compute() {
    quiet_planned_panics();
    for run in RUNS {
        let a = value(Fuse(true));
        let b = delayed_fn("touch", |_f: Fuse| 1u64).call(&a);
        assert_eq!(go(run, b.clone()).unwrap(), 1);
        drop(a); // its armed value stays, for `b`'s inputs
        let c = inc(b);
        let d = inc(c);
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| go(run, d)));
        match ended {
            Err(p) => {
                let text = p.downcast_ref::<&str>().copied().unwrap_or("");
                assert!(text.starts_with("lent: planned"), "{run:?}: {text}");
            }
            Ok(r) => panic!("{run:?}: the compute returned {r:?}"),
        }
        assert_eq!(go(run, inc(inc(1))).unwrap(), 3, "{run:?}");
    }
}

/// With tracing on, a lent graph's tasks are traced with their inputs
/// (read before the run lets go of them), cancelled ones included.
#[test]
fn traced_lent_tasks_keep_their_inputs_in_the_trace() {
    if std::env::var_os("LENT_TRACE_CHILD").is_none() {
        let events = parallel_tests::trace_of_child(
            "traced_lent_tasks_keep_their_inputs_in_the_trace",
            "LENT_TRACE_CHILD",
        );
        let tasks: Vec<_> = events.iter().filter(|e| e.cat == "task").collect();
        let call = |e: &&parallel_runtime::trace::Event| e.args["call"].as_u64().unwrap();
        let first = tasks.iter().map(call).min().unwrap();
        let deps = |e: &&&parallel_runtime::trace::Event| e.args["deps"].as_array().unwrap().len();
        // The first graph ran whole: each task traced once, with as many
        // inputs as it has.
        let dag = Dag::new(5, 120, None);
        let mut want: Vec<usize> = dag.inputs.iter().map(Vec::len).collect();
        let mut got: Vec<usize> = tasks
            .iter()
            .filter(|e| call(e) == first)
            .map(|e| deps(&e))
            .collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        // The second failed: its cancelled tasks name their inputs too.
        let cancelled: Vec<_> = tasks
            .iter()
            .filter(|e| e.args.get("status").and_then(|s| s.as_str()) == Some("cancelled"))
            .collect();
        assert!(
            !cancelled.is_empty() && cancelled.iter().all(|e| deps(e) > 0),
            "{cancelled:?}"
        );
        return;
    }
    quiet_planned_panics();
    let l = Ledger::new();
    let dag = Dag::new(5, 120, None);
    let roots: Vec<Delayed<Val>> = {
        let all = dag.build(&l);
        dag.sinks().iter().map(|&i| all[i].clone()).collect()
    };
    assert!(go(Run::Pool(4), roots).is_ok());
    let failing = Dag::new(5, 120, Some((60, Fail::Err)));
    let roots: Vec<Delayed<Val>> = {
        let all = failing.build(&l);
        failing.sinks().iter().map(|&i| all[i].clone()).collect()
    };
    assert!(go(Run::Serial, roots).is_err());
    l.all_dropped_once("traced");
}

// ----- no node leaks ----------------------------------------------------------

/// Counts the bytes allocated and not freed, in the whole process.
struct Counting;

static NET: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        NET.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NET.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        NET.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One round of graphs: lent, failed, kept, prior-done, on every run.
fn leak_round() {
    let n = if small() { 40 } else { 200 };
    for (seed, fail) in [None, Some((n / 3, Fail::Panic)), Some((5, Fail::Err))]
        .into_iter()
        .enumerate()
    {
        let dag = Dag::new(seed as u64 + 99, n, fail);
        for shape in [Shape::Sinks, Shape::KeepInner, Shape::PriorDone] {
            for run in RUNS {
                run_case(&dag, shape, run);
            }
        }
    }
}

/// Run by `no_graph_leaks_its_nodes` in a child process (alone there: the
/// allocator counts the whole process).
#[test]
#[ignore = "run by no_graph_leaks_its_nodes in a child process"]
fn leak_probe() {
    quiet_planned_panics();
    leak_round();
    leak_round();
    let before = NET.load(Ordering::SeqCst);
    let rounds = 8;
    for _ in 0..rounds {
        leak_round();
    }
    let grown = NET.load(Ordering::SeqCst) - before;
    // A graph of 200 nodes that leaked would cost ~40 KB a round.
    assert!(
        grown < 16 * 1024,
        "{grown} bytes not freed after {rounds} rounds"
    );
}

#[test]
fn no_graph_leaks_its_nodes() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "leak_probe", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
