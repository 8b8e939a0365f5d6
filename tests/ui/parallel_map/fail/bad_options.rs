use parallel_runtime::prelude::*;

// Every mistake is reported at once, each at its own span.
#[parallel_map(chunk = 4, schedule = "fast", chunk_size = "8", backend = "gpu", progress = 3, schedule = "static")]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    // The function and its entry points still exist: no follow-up errors here.
    let _ = square(3);
    let _ = square::map(0..4u64);
}
