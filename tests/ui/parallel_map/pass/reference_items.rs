// Items by reference, of sized and unsized types, written with the
// parentheses a trait object needs: the streaming entry points compile
// without a warning (`deny(warnings)`) and read a slice in place or pull.
#![deny(warnings)]
use std::fmt::Debug;

use parallel_runtime::parallel_map;

#[parallel_map]
fn shown(x: &(dyn Debug + Sync)) -> String {
    format!("{x:?}")
}

#[parallel_map]
fn halve(x: &f64) -> f64 {
    x / 2.0
}

#[parallel_map]
fn len(s: &str) -> usize {
    s.len()
}

fn main() {
    let items: Vec<&(dyn Debug + Sync)> = vec![&1, &"a"];
    assert_eq!(shown::imap(items).collect::<Vec<_>>(), ["1", "\"a\""]);
    let v = [1.0, 2.0];
    assert_eq!(halve::imap(&v).collect::<Vec<_>>(), [0.5, 1.0]);
    assert_eq!(len::imap(["ab", "c"]).sum::<usize>(), 3);
}
