use parallel_runtime::prelude::*;

#[parallel_map]
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {}
