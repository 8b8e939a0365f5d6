use parallel_runtime::prelude::*;

struct Stats(f64);

#[parallel_map]
fn stats(x: f64) -> Stats {
    Stats(x)
}

fn main() {
    let _ = stats::map(vec![1.0, 2.0]); // fine: map needs no Clone
    let _ = stats::reduce(vec![1.0, 2.0], Stats(0.0), |a, b| Stats(a.0 + b.0));
}
