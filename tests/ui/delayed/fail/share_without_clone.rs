use parallel_runtime::prelude::*;

struct Big(Vec<u8>); // not Clone

#[delayed]
fn make() -> Big {
    Big(vec![0; 10])
}

#[delayed]
fn size(b: Big) -> usize {
    b.0.len()
}

fn main() {
    let big = make();
    let a = size(&big); // sharing a result needs `Big: Clone`
    let _ = (a, big);
}
