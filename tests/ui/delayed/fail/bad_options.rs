use parallel_runtime::prelude::*;

#[delayed(backend = "serial", result = "maybe", name = "")]
fn inc(x: i64) -> i64 {
    x + 1
}

#[delayed(name = "a", name = "b")]
fn dec(x: i64) -> i64 {
    x - 1
}

fn main() {}
