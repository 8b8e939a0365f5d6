use parallel_runtime::prelude::*;
use std::rc::Rc;

#[delayed]
fn share(x: Rc<u32>) -> u32 {
    *x
}

#[delayed]
fn make(x: u32) -> Rc<u32> {
    Rc::new(x)
}

fn main() {}
