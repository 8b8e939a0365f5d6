// Names a user could shadow must not break the expansion.
#![allow(dead_code, non_camel_case_types)]
use parallel_runtime::delayed;

struct Vec;
struct Option;
struct Result;
struct Clone;
struct Send;
struct Box;
mod core {}
type Delayed = ();
type IntoDelayed = ();
type DepList = ();
type TaskSite = ();
fn delayed_task() {}

#[delayed]
fn inc(x: i32) -> i32 {
    x + 1
}

fn main() {
    assert_eq!(inc(inc(1)).compute().unwrap(), 3);
}
