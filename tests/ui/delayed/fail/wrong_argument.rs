use parallel_runtime::prelude::*;

#[delayed]
fn load(path: String) -> Vec<f64> {
    vec![path.len() as f64]
}

#[delayed]
fn mean(xs: Vec<f64>) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn main() {
    let n: Delayed<usize> = parallel_runtime::graph::value(3usize);
    let _ = load(n); // a Delayed<usize> where a String is expected
    let _ = mean(load("a")); // fine
    let _ = mean(vec![mean(load("b"))]); // Vec<Delayed<f64>> where Vec<f64>: fine
    let _ = mean(12); // not a Vec
}
