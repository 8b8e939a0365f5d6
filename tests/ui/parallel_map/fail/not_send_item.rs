use std::rc::Rc;

use parallel_runtime::prelude::*;

#[parallel_map]
fn len(s: Rc<String>) -> usize {
    s.len()
}

fn main() {}
