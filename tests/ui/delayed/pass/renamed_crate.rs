// The runtime under another name, and a module that shadows the usual one.
extern crate parallel_runtime as prt;

mod parallel_runtime {}

#[prt::delayed(crate = "::prt")]
fn triple(x: u32) -> u32 {
    3 * x
}

fn main() {
    assert_eq!(triple(triple(1)).compute().unwrap(), 9);
}
