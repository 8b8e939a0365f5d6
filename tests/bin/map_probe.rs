//! A tiny program for the tests that need a fresh process: the `PARALLEL_*`
//! environment variables are read once per run.

use parallel_runtime::prelude::*;

#[parallel_map]
fn square(x: u64) -> (u64, bool) {
    std::thread::sleep(std::time::Duration::from_millis(2));
    (x * x, std::thread::current().name() == Some("main"))
}

fn main() {
    if let Err(e) = parallel_runtime::config::check_env() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let out = square::map(0..100u64);
    let values: Vec<u64> = out.iter().map(|(v, _)| *v).collect();
    assert_eq!(values, (0..100u64).map(|x| x * x).collect::<Vec<_>>());
    let on_main = out.iter().filter(|(_, m)| *m).count();
    println!(
        "threads={} on_main={on_main}",
        parallel_runtime::num_threads()
    );
}
