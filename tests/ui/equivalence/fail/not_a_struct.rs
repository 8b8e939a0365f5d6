use parallel_runtime::prelude::*;

#[derive(Equivalence, Clone, Copy)]
enum Phase {
    Solid,
    Liquid,
}

#[derive(Equivalence, Clone, Copy)]
struct Cell {
    name: &'static str,
}

fn main() {}
