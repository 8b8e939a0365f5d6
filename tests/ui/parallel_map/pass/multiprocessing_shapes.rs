// The shapes multiprocessing users pass to `Pool.map`, as they would write
// them: a `Vec<String>` to a function of `&str`, lines of a text, a
// `HashMap`'s entries, `&mut` items from `iter_mut`, tuple items.
#![deny(warnings)]
use std::collections::HashMap;

use parallel_runtime::prelude::*;

#[parallel_map]
fn len(s: &str) -> usize {
    s.len()
}

#[parallel_map]
fn bump(x: &mut u32) {
    *x += 1;
}

#[parallel_map(items = 2)]
fn pair(k: &String, v: &u32) -> String {
    format!("{k}={v}")
}

fn main() {
    let owned: Vec<String> = vec!["ab".into(), "c".into()];
    assert_eq!(len::map(owned.iter().map(String::as_str)), [2, 1]);
    assert_eq!(len::map("ab\nc".lines()), [2, 1]);
    assert_eq!(len::imap(owned.iter().map(String::as_str)).sum::<usize>(), 3);
    let mut v = vec![1u32, 2];
    bump::map(v.iter_mut());
    bump::map(&mut v[..]);
    assert_eq!(v, [3, 4]);
    let m: HashMap<String, u32> = [("a".to_string(), 1)].into_iter().collect();
    assert_eq!(pair::map(&m), ["a=1"]);
}
