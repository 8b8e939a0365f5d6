// An iterator of the user's own, given to `map` as Python's `Pool.map`
// takes any iterable: the error says to wrap it in `items(…)`.
use parallel_runtime::prelude::*;

struct Countdown(u32);

impl Iterator for Countdown {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.0 = self.0.checked_sub(1)?;
        Some(self.0)
    }
}

#[parallel_map]
fn double(x: u32) -> u32 {
    2 * x
}

fn main() {
    let _ = double::map(Countdown(3));
    let _ = map_fn("double", double).map(Countdown(3));
}
