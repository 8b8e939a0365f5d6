//! The object path's bulk sequences and `all_reduce_with`, on real MPI and
//! in a local world: every number type in `Vec`s of odd and long lengths,
//! empty vectors, nested structs with `Vec<f32>`/`Vec<u8>` fields, a
//! `Vec<f32>` received as `Vec<f64>` (an error), and closures folded in
//! rank order whatever the size of the values.
//!
//! This crate has no `serde` dependency of its own (a binary sees only the
//! `[dependencies]` of tests/Cargo.toml): the structs derive through
//! `parallel_runtime::serde`.
//!
//! ```text
//! mpi_objpath               # under mpirun -n 2 (or more)
//! mpi_objpath objpath local 3   # the same in a local world of 3 ranks
//! ```
//!
//! Each rank prints `rank R: ok objpath` when all its checks passed;
//! tests/objpath.rs runs it under deadlines.

use parallel_runtime::mpi::Error;
use parallel_runtime::prelude::*;
use parallel_runtime::serde::{de::DeserializeOwned, Deserialize, Serialize};
use parallel_tests::ensure;

type Res = Result<(), Box<dyn std::error::Error>>;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
#[serde(crate = "parallel_runtime::serde")]
struct Frame {
    step: u64,
    pos: Vec<f32>,
    raw: Vec<u8>,
    inner: Inner,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
#[serde(crate = "parallel_runtime::serde")]
struct Inner {
    xs: Vec<f64>,
    ids: Vec<i64>,
    label: Option<String>,
}

fn frame(n: usize, seed: u64) -> Frame {
    Frame {
        step: seed,
        pos: (0..n).map(|i| i as f32 * 0.5 + seed as f32).collect(),
        raw: (0..n).map(|i| (i as u64 + seed) as u8).collect(),
        inner: Inner {
            xs: (0..n).map(|i| i as f64 / 3.0 - seed as f64).collect(),
            ids: (0..n as i64)
                .map(|i| i * -1_000_003 + seed as i64)
                .collect(),
            label: (n % 2 == 1).then(|| format!("frame {seed}")),
        },
    }
}

#[mpi_main]
fn main(world: Comm) -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(done) =
        parallel_tests::run_local(&args, "objpath", |w| run(w).map_err(|e| e.to_string()))
    {
        return done.map_err(Into::into);
    }
    if world.size() < 2 {
        return Err("run under mpirun -n 2 (or more), or as `mpi_objpath objpath local N`".into());
    }
    run(&world)?;
    println!("rank {}: ok objpath", world.rank());
    Ok(())
}

fn run(w: &Comm) -> Res {
    numbers(w)?;
    structs(w)?;
    wrong_element_type(w)?;
    reductions(w)?;
    w.barrier()?;
    Ok(())
}

/// `v` from rank 0 to every other rank and back (send/recv, then
/// isend/irecv), and by `bcast`; each copy compared with the original.
fn round_trip<T>(w: &Comm, v: &T) -> Res
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Clone,
{
    let name = std::any::type_name::<T>();
    if w.rank() == 0 {
        for r in 1..w.size() {
            w.send(v, r, 5)?;
            let back: T = w.recv(r, 6)?;
            ensure(&back == v, || format!("{name} back from rank {r} differs"))?;
        }
    } else {
        let got: T = w.recv(0, 5)?;
        ensure(&got == v, || format!("{name} from rank 0 differs"))?;
        let req = w.isend(&got, 0, 6)?;
        req.wait()?;
    }
    let b: T = w.bcast(0, (w.rank() == 0).then(|| v.clone()))?;
    ensure(&b == v, || format!("{name} by bcast differs"))
}

/// Every number type with a bulk path, at lengths that are empty, odd,
/// and longer than a piece of the object path (1 MiB) for the wide ones.
fn numbers(w: &Comm) -> Res {
    macro_rules! each {
        ($($t:ty),*) => {$(
            for n in [0usize, 1, 3, 1001, 150_001] {
                let v: Vec<$t> = (0..n).map(|i| (i % 97) as $t).collect();
                round_trip(w, &v)?;
            }
            round_trip(w, &vec![<$t>::MIN, <$t>::MAX, 0 as $t])?;
        )*};
    }
    each!(u8, i8, u16, i16, u32, i32, u64, i64, usize, isize, f32, f64);
    round_trip(w, &vec![vec![1.5f64; 3], vec![], vec![-2.0; 100_001]])?;
    Ok(())
}

/// Structs with numeric vectors, nested, through every object operation.
fn structs(w: &Comm) -> Res {
    for n in [0, 1, 7, 70_001] {
        round_trip(w, &frame(n, 3))?;
    }
    round_trip(w, &vec![frame(2, 1), frame(0, 2), frame(5, 3)])?;
    let mine = frame(w.rank() + 1, w.rank() as u64);
    let all = w.allgather(&mine)?;
    for (r, f) in all.iter().enumerate() {
        ensure(*f == frame(r + 1, r as u64), || {
            format!("allgather: rank {r}'s frame differs")
        })?;
    }
    if let Some(all) = w.gather(0, &mine)? {
        ensure(all.len() == w.size(), || {
            "gather: a frame is missing".into()
        })?;
    }
    Ok(())
}

/// A `Vec<f32>` received as `Vec<f64>`: an error naming both; the next
/// message still arrives.
fn wrong_element_type(w: &Comm) -> Res {
    if w.rank() == 0 {
        w.send(&vec![1.0f32; 1000], 1, 9)?;
        w.send(&vec![2.0f64; 3], 1, 9)?;
    } else if w.rank() == 1 {
        match w.recv::<Vec<f64>>(0, 9) {
            Err(Error::WrongType { sent, expected, .. }) => {
                ensure(sent == "Vec<f32>" && expected == "Vec<f64>", || {
                    format!("WrongType names `{sent}` and `{expected}`")
                })?
            }
            other => return Err(format!("expected WrongType, got {other:?}").into()),
        }
        let next: Vec<f64> = w.recv(0, 9)?;
        ensure(next == [2.0; 3], || format!("the next message: {next:?}"))?;
    }
    Ok(())
}

/// `all_reduce_with` folds in rank order on every rank, whether the
/// values fit its one fixed-size gather or not.
fn reductions(w: &Comm) -> Res {
    let (r, n) = (w.rank(), w.size());
    let sum = w.all_reduce_with(r as f64, |a, b| a + b)?;
    ensure(sum == (n * (n - 1) / 2) as f64, || format!("sum {sum}"))?;
    // Not commutative: the order is the ranks'.
    let order = w.all_reduce_with(r.to_string(), |a, b| format!("{a},{b}"))?;
    let want: Vec<String> = (0..n).map(|r| r.to_string()).collect();
    ensure(order == want.join(","), || format!("order {order}"))?;
    // One rank's value too long for a slot: the second collective.
    let long = if r == n - 1 {
        "x".repeat(1000)
    } else {
        r.to_string()
    };
    let joined = w.all_reduce_with(long, |a, b| a + &b)?;
    ensure(
        joined.len() == 1000 + (0..n - 1).map(|r| r.to_string().len()).sum::<usize>(),
        || format!("joined {} bytes", joined.len()),
    )?;
    // Around the end of a slot (20 bytes: a `String` of 19 bytes is
    // encoded in 20): each length in turn on every rank, then lengths on
    // both sides of it in one call, each rank's own letter.
    for len in 16..=24 {
        let s = w.all_reduce_with("y".repeat(len), |a, b| a + &b)?;
        ensure(s.len() == len * n, || format!("{len}: {} bytes", s.len()))?;
    }
    for first in 17..=20 {
        let mine = |r: usize| {
            char::from(b'a' + (r % 26) as u8)
                .to_string()
                .repeat(first + r)
        };
        let s = w.all_reduce_with(mine(r), |a, b| a + &b)?;
        let want: String = (0..n).map(mine).collect();
        ensure(s == want, || format!("from {first} bytes: {s}"))?;
    }
    // A pair, as for an arg-max: fits its slot.
    let (best, at) = w.all_reduce_with(
        ((r * 7 % n) as f64, r),
        |a, b| if b.0 > a.0 { b } else { a },
    )?;
    let want = (0..n)
        .max_by_key(|&q| (q * 7 % n, std::cmp::Reverse(q)))
        .unwrap_or(0);
    ensure(at == want && best == (want * 7 % n) as f64, || {
        format!("arg-max {best} at {at}, want {want}")
    })?;
    // Ranks with values of different types: an error on every rank, naming
    // a rank of the other type and both types, never a value.
    if n > 1 {
        let got = if r == 0 {
            w.all_reduce_with(1.0f32, |a, b| a + b).map(|_| ())
        } else {
            w.all_reduce_with(1.0f64, |a, b| a + b).map(|_| ())
        };
        match got {
            Err(Error::WrongType {
                sent,
                expected,
                from,
                ..
            }) => {
                let ok = if r == 0 {
                    (sent.as_str(), expected.as_str()) == ("f64", "f32") && from != 0
                } else {
                    (sent.as_str(), expected.as_str()) == ("f32", "f64") && from == 0
                };
                ensure(ok, || {
                    format!("WrongType from {from}: `{sent}` as `{expected}`")
                })?
            }
            other => return Err(format!("mixed types: expected WrongType, got {other:?}").into()),
        }
        // The world is usable after it.
        let sum = w.all_reduce_with(r, |a, b| a + b)?;
        ensure(sum == n * (n - 1) / 2, || {
            format!("sum after the error {sum}")
        })?;
    }
    // Every value long, in a struct.
    let f = w.all_reduce_with(frame(300, r as u64), |mut a, b| {
        a.inner
            .xs
            .iter_mut()
            .zip(&b.inner.xs)
            .for_each(|(x, y)| *x += y);
        a.step += b.step;
        a
    })?;
    ensure(f.step == (n * (n - 1) / 2) as u64, || {
        format!("step {}", f.step)
    })?;
    let want: f64 = (0..n).map(|s| 1.0 / 3.0 - s as f64).sum();
    ensure((f.inner.xs[1] - want).abs() < 1e-9, || {
        format!("xs[1] {}", f.inner.xs[1])
    })?;
    Ok(())
}
