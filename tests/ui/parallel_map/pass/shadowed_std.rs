// Names a user could shadow must not break the expansion.
#![allow(dead_code, non_camel_case_types)]
use parallel_runtime::parallel_map;

struct Vec;
struct Option;
struct Result;
struct Clone;
mod core {}
mod std {}
type IntoItems = ();
type MapOptions = ();

#[parallel_map]
fn inc(x: u8) -> u8 {
    x + 1
}

fn main() {
    let out = inc::map(0..3u8);
    assert_eq!(out.len(), 3);
}
