// `map_async` outlives the call that starts it: items that borrow a local
// are refused at the argument (give the `Vec` itself, or `Arc` it).
use parallel_runtime::prelude::*;

#[parallel_map]
fn weigh(x: &u64, k: &u64) -> u64 {
    x * k
}

fn main() {
    let xs = vec![1, 2, 3];
    let job = weigh::map_async(&xs, 2);
    drop(xs);
    let _ = job.get();
}
