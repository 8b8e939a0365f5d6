// Items lent shared to a function that updates them: the error is at the
// argument, and says the mutability differs (`&mut v` is needed).
use parallel_runtime::prelude::*;

#[parallel_map]
fn bump(x: &mut u32) {
    *x += 1;
}

fn main() {
    let v = vec![1u32, 2, 3];
    bump::map(&v);
}
