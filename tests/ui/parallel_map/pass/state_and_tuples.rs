// Per-worker state (`init`), tuple items (`items = 2`) and a pool of its
// own (`threads`), through the attribute.
use parallel_runtime::prelude::*;

struct Scratch(Vec<u64>);

fn scratch() -> Scratch {
    Scratch(Vec::new())
}

#[parallel_map(init = "scratch", items = 2, threads = 2)]
fn weighted(x: u64, w: u64, offset: &u64, s: &mut Scratch) -> u64 {
    s.0.push(x);
    x * w + offset
}

fn main() {
    let out = weighted::map(vec![(1, 2), (3, 4)], &1);
    assert_eq!(out, vec![3, 13]);
}
