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
