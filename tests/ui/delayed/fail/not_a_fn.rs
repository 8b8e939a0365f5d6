use parallel_runtime::prelude::*;

#[delayed]
struct Task;

fn main() {}
