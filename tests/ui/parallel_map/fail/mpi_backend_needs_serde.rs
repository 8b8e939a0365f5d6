use parallel_runtime::prelude::*;

// Results cross ranks under `backend = "mpi"`, so they need serde.
struct Outcome(f64);

#[parallel_map(backend = "mpi")]
fn simulate(x: f64) -> Outcome {
    Outcome(x)
}

fn main() {
    let _ = simulate::map(vec![1.0]);
}
