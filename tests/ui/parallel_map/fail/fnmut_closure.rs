// A closure that updates what it captures would run on many threads at
// once: `map_fn` refuses it at the closure (use an atomic or a `Mutex`).
use parallel_runtime::prelude::*;

fn main() {
    let mut calls = 0;
    let _ = map_fn("count", |x: u32| {
        calls += 1;
        x
    })
    .map(vec![1u32, 2, 3]);
    let _ = calls;
}
