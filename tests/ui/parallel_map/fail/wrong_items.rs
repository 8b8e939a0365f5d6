use parallel_runtime::prelude::*;

#[parallel_map]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    // Items of the wrong type: the error names the expected item type.
    let _ = square::map(vec!["a", "b"]);
}
