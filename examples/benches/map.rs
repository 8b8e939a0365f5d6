//! Benchmark of `#[parallel_map]` (being written).
fn main() {}
