use parallel_runtime::prelude::*;

struct Rng(u64);

fn make_rng() -> Rng {
    Rng(1)
}

// The state parameter must be a mutable borrow.
#[parallel_map(init = "make_rng")]
fn by_value(x: u64, rng: Rng) -> u64 {
    x + rng.0
}

// No parameter left for the state.
#[parallel_map(init = "make_rng")]
fn no_state(x: u64) -> u64 {
    x
}

// More per-item parameters than the function has.
#[parallel_map(items = 3)]
fn pairs(a: u64, b: u64) -> u64 {
    a + b
}

// `init` builds another type than the state parameter's.
#[parallel_map(init = "make_rng")]
fn wrong_state(x: u64, s: &mut String) -> u64 {
    x + s.len() as u64
}

#[parallel_map(items = 2)]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn main() {
    // Items that are not pairs.
    let _ = add::map(vec![1u64, 2]);
}
