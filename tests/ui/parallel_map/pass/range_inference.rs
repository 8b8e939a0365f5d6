// An integer range takes its item type from the function, as rayon's
// ranges do: no suffix needed on the literals.
use parallel_runtime::prelude::*;

#[parallel_map]
fn index(i: usize) -> usize {
    i
}

#[parallel_map]
fn small(i: u8) -> u8 {
    i
}

fn main() {
    assert_eq!(index::map(0..100).len(), 100);
    assert_eq!(index::map(0..=9)[9], 9);
    assert_eq!(small::reduce(0..10, 0, |a, b| a + b), 45);
}
