use std::cell::Cell;

use parallel_runtime::prelude::*;

#[parallel_map]
fn count(x: u32, seen: &Cell<u32>) -> u32 {
    seen.set(seen.get() + 1);
    x
}

fn main() {}
