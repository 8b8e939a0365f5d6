//! Unit tests of the graph engine without the macro.

use super::*;

static INC: TaskSite = TaskSite::new("inc");
static ADD: TaskSite = TaskSite::new("add");

fn inc(x: impl IntoDelayed<u64>) -> Delayed<u64> {
    let mut deps = DepList::new();
    let x = x.into_input(&mut deps);
    task(&INC, deps, move |i| Ok(x.resolve(i)? + 1))
}

fn add(x: impl IntoDelayed<u64>, y: impl IntoDelayed<u64>) -> Delayed<u64> {
    let mut deps = DepList::new();
    let x = x.into_input(&mut deps);
    let y = y.into_input(&mut deps);
    task(&ADD, deps, move |i| Ok(x.resolve(i)? + y.resolve(i)?))
}

#[test]
fn chain_of_a_million_drops_and_computes_without_recursion() {
    for backend in [Backend::Serial, Backend::Threads] {
        let mut x = inc(0);
        for _ in 1..1_000_000 {
            x = inc(x);
        }
        assert_eq!(compute_with(backend, x).unwrap(), 1_000_000);
    }
    // Never computed: dropped whole.
    let mut x = inc(0);
    for _ in 1..1_000_000 {
        x = inc(x);
    }
    drop(x);
}

#[test]
fn diamond_shares_and_keeps() {
    let a = inc(1);
    let b = add(&a, &a);
    let (a2, b2) = compute((a.clone(), b)).unwrap();
    assert_eq!((a2, b2), (2, 4));
    // `a` was kept for the handle we still hold.
    assert_eq!(a.compute().unwrap(), 2);
}

static MIX: TaskSite = TaskSite::new("mix");

/// A task over several inputs: a hash of them and of its position, so that
/// a wrong or missing edge changes the result.
fn mix(at: u64, xs: Vec<Delayed<u64>>) -> Delayed<u64> {
    let mut deps = DepList::new();
    let xs = <Vec<Delayed<u64>> as IntoDelayed<Vec<u64>>>::into_input(xs, &mut deps);
    task(&MIX, deps, move |i| {
        let xs: Vec<u64> = xs.resolve(i)?;
        Ok(xs
            .iter()
            .fold(at.wrapping_mul(0x9E37_79B9_7F4A_7C15), |h, &x| {
                (h ^ x).wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(17)
            }))
    })
}

/// A stencil (each task reads three of the step before), then a fan-out
/// of one task to many: nodes handed between threads at every step.
fn stencil_then_fan_out(width: usize, steps: usize) -> Delayed<u64> {
    let mut row: Vec<Delayed<u64>> = (0..width).map(|p| mix(p as u64, Vec::new())).collect();
    for t in 1..steps {
        row = (0..width)
            .map(|p| {
                let ins = row[p.saturating_sub(1)..(p + 2).min(width)].to_vec();
                mix((t * width + p) as u64, ins)
            })
            .collect();
    }
    let hub = mix(1, row);
    mix(2, (0..100).map(|k| mix(k, vec![hub.clone()])).collect())
}

#[test]
fn handed_on_nodes_give_the_serial_result() {
    let want = compute_with(Backend::Serial, stencil_then_fan_out(5, 300)).unwrap();
    for _ in 0..20 {
        let got = compute_with(Backend::Threads, stencil_then_fan_out(5, 300)).unwrap();
        assert_eq!(got, want);
    }
}

/// Inputs past the three kept inside a node (then a list of their own):
/// argument order kept, in the task and in `dependencies`; a long chain
/// of such nodes is dropped without recursion.
#[test]
fn inputs_past_the_inline_three_keep_their_order() {
    for n in 0..=6u64 {
        let xs: Vec<Delayed<u64>> = (0..n).map(|k| inc(k * 10)).collect();
        let keys: Vec<String> = xs.iter().map(|x| x.key().to_string()).collect();
        let m = mix(7, xs);
        let deps: Vec<String> = m.dependencies().iter().map(|k| k.to_string()).collect();
        assert_eq!(deps, keys);
        let want = mix(7, (0..n).map(|k| value(k * 10 + 1)).collect());
        assert_eq!(m.compute().unwrap(), want.compute().unwrap(), "{n} inputs");
    }
    let mut x = inc(0);
    for _ in 0..200_000 {
        x = mix(1, vec![x, inc(1), inc(2), inc(3)]);
    }
    drop(x);
}

static NAP: TaskSite = TaskSite::new("nap");

/// `mix`, after sleeping `us` microseconds.
fn nap(at: u64, us: u64, xs: Vec<Delayed<u64>>) -> Delayed<u64> {
    let mut deps = DepList::new();
    let xs = <Vec<Delayed<u64>> as IntoDelayed<Vec<u64>>>::into_input(xs, &mut deps);
    task(&NAP, deps, move |i| {
        let xs: Vec<u64> = xs.resolve(i)?;
        std::thread::sleep(std::time::Duration::from_micros(us));
        Ok(xs.iter().fold(at, |h, &x| {
            (h ^ x).wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(17)
        }))
    })
}

/// A stencil whose tasks take from nothing to well past a waiting
/// thread's patience (50 µs): threads wait for the next node and give up,
/// nodes are handed on to waiting threads or to new ones, and the input
/// lists of a lent graph are freed in every order; the result stays the
/// serial walk's.
#[test]
fn threads_that_wait_and_give_up_give_the_serial_result() {
    let build = || {
        let width = 3;
        let mut row: Vec<Delayed<u64>> = (0..width).map(|p| nap(p, 0, Vec::new())).collect();
        for t in 1..40u64 {
            row = (0..width)
                .map(|p| {
                    let ins = row[p.saturating_sub(1) as usize..(p as usize + 2).min(3)].to_vec();
                    // 0 to 120 µs, scattered (a fixed hash of the position).
                    let us = (t * 7 + p * 13).wrapping_mul(0x9E37_79B9) % 121;
                    nap(t * 3 + p, us, ins)
                })
                .collect();
        }
        nap(99, 0, row)
    };
    let want = compute_with(Backend::Serial, build()).unwrap();
    for threads in [2, 3, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for _ in 0..5 {
            let got = pool
                .install(|| compute_with(Backend::Threads, build()))
                .unwrap();
            assert_eq!(got, want, "{threads} threads");
        }
    }
}

/// A read whose `T::clone` panics is still counted: the reads after it
/// find the last reader, which takes the value, so that it does not stay
/// in the node until the graph is dropped (it did: the panic skipped the
/// count).
#[test]
fn a_read_whose_clone_panics_is_still_counted() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::node::{AnyNode, Deps, Node, TaskNode};

    static SITE: TaskSite = TaskSite::new("shared");
    static CLONES: AtomicUsize = AtomicUsize::new(0);
    fn clone_panics_first(v: &Arc<u64>) -> Arc<u64> {
        assert!(CLONES.fetch_add(1, Ordering::SeqCst) > 0, "planned panic");
        v.clone()
    }
    let value = Arc::new(7u64);
    let weak = Arc::downgrade(&value);
    let n = TaskNode::new(&SITE, Deps::new(), move |_: &node::Inputs<'_>| Ok(value));
    // SAFETY: no compute knows this node; this thread is its only user.
    assert!(unsafe { n.run() }.is_ok());
    let node = Node::<Arc<u64>>::of(&n);
    node.head.remaining.store(3, Ordering::Relaxed);
    node.cloner.set(clone_panics_first);
    // SAFETY (the three reads): three reads are counted, each made once.
    let panicked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { node.read() }));
    assert!(panicked.is_err());
    assert_eq!(*unsafe { node.read() }.unwrap(), 7);
    drop(unsafe { node.read() }.unwrap());
    assert!(
        weak.upgrade().is_none(),
        "the value outlived its last reader"
    );
}
