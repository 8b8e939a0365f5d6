use parallel_runtime::prelude::*;

#[delayed]
fn load(path: String) -> Vec<f64> {
    vec![path.len() as f64; 3]
}

#[delayed]
fn clean(xs: Vec<f64>) -> Vec<f64> {
    xs.into_iter().map(|x| x * 2.0).collect()
}

#[delayed]
fn summarize(parts: Vec<Vec<f64>>) -> f64 {
    parts.iter().flatten().sum()
}

#[delayed(name = "parse", result = "fail")]
fn parse_number(s: String) -> Result<i64, std::num::ParseIntError> {
    s.parse()
}

fn main() {
    let paths = ["a.csv", "bb.csv"];
    let parts: Vec<Delayed<Vec<f64>>> = paths.iter().map(|p| clean(load(*p))).collect();
    let stats: Delayed<f64> = summarize(parts);
    assert_eq!(stats.compute().unwrap(), 3.0 * 2.0 * (5.0 + 6.0));
    assert_eq!(load::call("abc".to_string()), vec![3.0; 3]);
    let n: Delayed<i64> = parse_number("7");
    assert_eq!(n.compute().unwrap(), 7);
}
