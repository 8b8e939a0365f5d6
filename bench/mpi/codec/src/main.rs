use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct Particle { id: u64, pos: [f64; 3], vel: [f64; 3], name: String }

fn bench<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, v: &T, iters: u32) {
    fn run<T: PartialEq + std::fmt::Debug>(label: &str, name: &str, v: &T, iters: u32, enc: impl Fn(&T) -> Vec<u8>, dec: impl Fn(&[u8]) -> T) {
        let bytes = enc(v);
        assert_eq!(&dec(&bytes), v);
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..iters {
                let b = enc(black_box(v));
                black_box(dec(black_box(&b)));
            }
            best = best.min(t.elapsed().as_secs_f64() / iters as f64);
        }
        println!("| {name} | {label} | {} | {:.3} |", bytes.len(), best * 1e6);
    }
    run("postcard", name, v, iters, |v| postcard::to_stdvec(v).unwrap(), |b| postcard::from_bytes(b).unwrap());
    run("bincode 1.3", name, v, iters, |v| bincode1::serialize(v).unwrap(), |b| bincode1::deserialize(b).unwrap());
    run("rmp-serde", name, v, iters, |v| rmp_serde::to_vec(v).unwrap(), |b| rmp_serde::from_slice(b).unwrap());
    run("bitcode (serde)", name, v, iters, |v| bitcode::serialize(v).unwrap(), |b| bitcode::deserialize(b).unwrap());
}

fn main() {
    println!("| payload | codec | bytes | encode+decode (µs) |");
    println!("|---|---|---|---|");
    bench("f64 scalar", &3.25f64, 2_000_000);
    bench("(usize, String) 12 B", &(7usize, "hello world".to_string()), 1_000_000);
    bench("Vec<f64> 1k", &(0..1000).map(|i| i as f64 * 0.5).collect::<Vec<_>>(), 20_000);
    bench("Vec<f64> 128k (1 MiB)", &(0..131072).map(|i| i as f64 * 0.5).collect::<Vec<_>>(), 200);
    let ps: Vec<Particle> = (0..100).map(|i| Particle { id: i, pos: [i as f64; 3], vel: [0.5; 3], name: format!("p{i}") }).collect();
    bench("Vec<Particle> 100", &ps, 20_000);
    let m: HashMap<String, u32> = (0..100).map(|i| (format!("key{i}"), i)).collect();
    bench("HashMap<String,u32> 100", &m, 20_000);
    bench("Vec<(u64, f64)> 1k (map results)", &(0..1000u64).map(|i| (i * 1_000_003, i as f64)).collect::<Vec<_>>(), 20_000);
}
