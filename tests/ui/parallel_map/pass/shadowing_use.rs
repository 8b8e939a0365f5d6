// A local name `parallel_runtime` that is not the runtime: the expansion
// reaches the runtime by an absolute path, so it is not fooled.
use ::parallel_runtime::parallel_map;
#[allow(unused_imports)]
use std as parallel_runtime;

#[parallel_map]
fn echo(x: u8) -> u8 {
    x
}

fn main() {
    assert_eq!(echo::map(0..3u8), vec![0, 1, 2]);
}
