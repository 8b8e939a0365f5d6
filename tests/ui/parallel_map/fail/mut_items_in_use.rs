// `&mut v` lends the items for the whole call: a borrow of `v` still in
// use across it is the borrow checker's error at the user's code.
use parallel_runtime::prelude::*;

#[parallel_map]
fn bump(x: &mut u32) {
    *x += 1;
}

fn main() {
    let mut v = vec![1u32, 2, 3];
    let first = &v[0];
    bump::map(&mut v);
    let _ = *first;
}
