use parallel_runtime::prelude::*;

struct Grid;

impl Grid {
    #[parallel_map]
    fn cell(&self, i: usize) -> usize {
        i
    }
}

fn main() {}
