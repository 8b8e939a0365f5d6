use parallel_runtime::prelude::*;

#[parallel_map]
fn scale<T: Copy + std::ops::Mul<Output = T>>(x: T, k: T) -> T {
    x * k
}

fn main() {}
