use parallel_runtime::prelude::*;

#[parallel_map]
struct Params {
    x: f64,
}

fn main() {}
