use parallel_runtime::prelude::*;

#[parallel_map]
fn push(x: u32, out: &mut Vec<u32>) {
    out.push(x);
}

fn main() {}
