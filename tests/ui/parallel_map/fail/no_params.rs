use parallel_runtime::prelude::*;

#[parallel_map]
fn nothing() -> u64 {
    1
}

fn main() {
    let _ = nothing();
}
