// The runtime under another name, and a module that shadows the usual one.
extern crate parallel_runtime as prt;

mod parallel_runtime {}

#[prt::parallel_map(crate = "::prt")]
fn triple(x: u32) -> u32 {
    3 * x
}

fn main() {
    assert_eq!(triple::map(vec![1u32, 2]), vec![3, 6]);
}
