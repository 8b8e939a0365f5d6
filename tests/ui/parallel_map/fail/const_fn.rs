use parallel_runtime::prelude::*;

#[parallel_map]
const fn double(i: u32) -> u32 {
    2 * i
}

fn main() {}
