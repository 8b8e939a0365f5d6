use parallel_runtime::prelude::*;

#[parallel_map(schedule = "static", chunk_size = 8, backend = "threads", progress = false)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    assert_eq!(square::map(0..4u64), vec![0, 1, 4, 9]);
}
