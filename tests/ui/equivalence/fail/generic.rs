use parallel_runtime::prelude::*;

#[derive(Equivalence, Clone, Copy)]
struct Pair<T> {
    a: T,
    b: T,
}

#[derive(Equivalence, Clone, Copy)]
#[mpi(krate = "::parallel_runtime::mpi::rsmpi")]
struct Typo {
    a: f64,
}

fn main() {}
