// `apply_async` outlives the call that starts it: a shared argument that
// borrows a local is refused at the argument (Python pickles it instead).
use parallel_runtime::prelude::*;

#[parallel_map]
fn weigh(x: u64, weights: &[u64]) -> u64 {
    weights.iter().map(|w| w * x).sum()
}

fn main() {
    let weights = vec![1, 2, 3];
    let job = weigh::apply_async(2, &weights[..]);
    drop(weights);
    let _ = job.get();
}
