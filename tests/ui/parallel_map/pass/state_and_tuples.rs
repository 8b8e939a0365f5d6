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
    // Every entry point, with the state and the tuples.
    let streamed: Vec<u64> = weighted::imap(vec![(1, 2), (3, 4)], &1).collect();
    assert_eq!(streamed, out);
    let mut pairs: Vec<(usize, u64)> = weighted::imap_unordered([(1, 2), (3, 4)], &1).collect();
    pairs.sort();
    assert_eq!(pairs, [(0, 3), (1, 13)]);
    assert_eq!(weighted::apply_async((3, 4), 1).get(), 13);
    assert_eq!(weighted::map_async(vec![(1, 2), (3, 4)], 1).get(), out);
}
