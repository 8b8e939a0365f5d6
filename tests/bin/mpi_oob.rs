//! The object path's out-of-band pieces (issue 11, arrays at buffer speed),
//! on real MPI and in a local world: nested structs holding several large
//! and small slices of `f64`/`f32`/`u8`/`i32`, empty ones, slices just
//! below and at the 64 KiB where a slice goes out of band, compared element
//! for element after `send`/`recv`, behind a posted `irecv`, and through
//! `isend`; a receive of another type is an error that leaves nothing of
//! the message behind; a probe counts the whole message's bytes (its
//! plain encoded size) on both backends, as `recv_status` does. On real
//! MPI it first checks that freed memory stays in glibc's heap
//! (`PARALLEL_MPI_KEEP_HEAP`: on by default, off with `0`).
//!
//! ```text
//! mpi_oob               # under mpirun -n 2 (or more)
//! mpi_oob oob local 3   # the same in a local world of 3 ranks
//! ```
//!
//! Each rank prints `rank R: ok oob` when all its checks passed;
//! tests/oob.rs runs it under deadlines.

use parallel_runtime::mpi::Error;
use parallel_runtime::prelude::*;
use parallel_runtime::serde::{de::DeserializeOwned, Deserialize, Serialize};
use parallel_tests::ensure;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Where a slice starts going out of band on real MPI.
const MIN: usize = 64 << 10;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
#[serde(crate = "parallel_runtime::serde")]
struct Grid {
    name: String,
    values: Vec<f64>,
    empty: Vec<f64>,
    layers: Vec<Layer>,
    mask: Vec<u8>,
    ids: Vec<i32>,
    tail: Option<Box<Grid>>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
#[serde(crate = "parallel_runtime::serde")]
struct Layer {
    weights: Vec<f32>,
    below: Vec<u8>,
    at: Vec<u8>,
    above: Vec<f32>,
    small: Vec<f64>,
}

fn layer(seed: usize) -> Layer {
    Layer {
        weights: (0..40_000 + seed)
            .map(|i| (i * 7 + seed) as f32 * 0.25)
            .collect(),
        below: (0..MIN - 1).map(|i| (i + seed) as u8).collect(),
        at: (0..MIN).map(|i| (i * 3 + seed) as u8).collect(),
        above: (0..MIN / 4 + 1)
            .map(|i| -(i as f32) - seed as f32)
            .collect(),
        small: vec![seed as f64; 5],
    }
}

fn grid(seed: usize, depth: usize) -> Grid {
    Grid {
        name: format!("grid {seed}"),
        values: (0..150_000).map(|i| i as f64 / 7.0 + seed as f64).collect(),
        empty: vec![],
        layers: (0..3).map(|k| layer(seed + k)).collect(),
        mask: (0..300_000).map(|i| (i % 251) as u8).collect(),
        ids: (0..50_000).map(|i| i * -3 + seed as i32).collect(),
        tail: (depth > 0).then(|| Box::new(grid(seed + 1, depth - 1))),
    }
}

#[mpi_main]
fn main(world: Comm) -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(done) =
        parallel_tests::run_local(&args, "oob", |w| run(w).map_err(|e| e.to_string()))
    {
        return done.map_err(Into::into);
    }
    if world.size() < 2 {
        return Err("run under mpirun -n 2 (or more), or as `mpi_oob oob local N`".into());
    }
    // First: a large block freed before it would raise glibc's thresholds.
    heap_kept(world.rank())?;
    run(&world)?;
    println!("rank {}: ok oob", world.rank());
    Ok(())
}

/// The minor page faults of this process so far (Linux).
fn minor_faults() -> Result<u64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command's closing parenthesis; minflt is the 8th.
    let rest = stat.rsplit_once(')').ok_or("no `)` in /proc/self/stat")?.1;
    let field = rest
        .split_whitespace()
        .nth(7)
        .ok_or("short /proc/self/stat")?;
    Ok(field.parse()?)
}

/// Under `#[mpi_main]` on real MPI, freed memory stays in glibc's heap
/// (`PARALLEL_MPI_KEEP_HEAP`, default on): the vectors of the next message
/// (here two of 512 KiB, allocated and freed 20 times) do not fault their
/// pages in again. With `PARALLEL_MPI_KEEP_HEAP=0` glibc's own policy
/// gives them back each time, and they do.
fn heap_kept(rank: usize) -> Res {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        println!("rank {rank}: skipped the heap check: not Linux with glibc");
        return Ok(());
    }
    let kept = std::env::var("PARALLEL_MPI_KEEP_HEAP").map_or(true, |v| v.trim() != "0");
    let before = minor_faults()?;
    for i in 0..20u8 {
        let a = std::hint::black_box(vec![i; 512 << 10]);
        let b = std::hint::black_box(vec![i.wrapping_add(1); 512 << 10]);
        drop((a, b));
    }
    let faults = minor_faults()? - before;
    // A first round faults in about 256 pages (1 MiB); 20 rounds that each
    // fault them in again, about 5,000.
    println!("rank {rank}: {faults} page faults in 20 rounds of 2 x 512 KiB (kept: {kept})");
    ensure(kept == (faults < 1_000), || {
        format!("heap kept: {kept}, but {faults} page faults in 20 rounds of 2 x 512 KiB")
    })?;
    Ok(())
}

fn run(w: &Comm) -> Res {
    let g = grid(1, 1);
    round_trip(w, &g)?;
    round_trip(w, &vec![0.5f64; MIN / 8])?;
    round_trip(w, &vec![7u8; MIN - 1])?;
    round_trip(w, &(vec![1.0f32; 3], vec![2u8; MIN], String::from("mixed")))?;
    round_trip(w, &vec![vec![0.25f64; 20_000], vec![], vec![1.0; 3]])?;
    behind_a_posted_receive(w, &g)?;
    wrong_type(w, &g)?;
    probe_counts(w, &g)?;
    w.barrier()?;
    Ok(())
}

/// `v` from rank 0 to every other rank and back (send/recv, then
/// isend/recv), each copy compared with the original, with the status's
/// count the value's encoded size.
fn round_trip<T>(w: &Comm, v: &T) -> Res
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let name = std::any::type_name::<T>();
    let size = parallel_runtime::codec::encode(v)?.len();
    if w.rank() == 0 {
        for r in 1..w.size() {
            w.send(v, r, 5)?;
            let (back, st): (T, _) = w.recv_status(r, 6)?;
            ensure(&back == v, || format!("{name} back from rank {r} differs"))?;
            ensure(st.count() == size, || {
                format!("{name}: count {} of {size}", st.count())
            })?;
        }
    } else {
        let (got, st): (T, _) = w.recv_status(0, 5)?;
        ensure(&got == v, || format!("{name} from rank 0 differs"))?;
        ensure(st.count() == size, || {
            format!("{name}: count {} of {size}", st.count())
        })?;
        w.isend(&got, 0, 6)?.wait()?;
    }
    Ok(())
}

/// A posted `irecv` takes the first message, a blocking `recv` behind it
/// the second: both whole.
fn behind_a_posted_receive(w: &Comm, g: &Grid) -> Res {
    if w.rank() == 0 {
        for r in 1..w.size() {
            w.send(g, r, 7)?;
            w.send(&g.layers[0], r, 7)?;
        }
    } else {
        let first = w.irecv::<Grid>(0, 7)?;
        let second: Layer = w.recv(0, 7)?;
        ensure(second == g.layers[0], || {
            "the layer behind the irecv differs".into()
        })?;
        let got = first.wait()?;
        ensure(&got == g, || "the grid of the posted irecv differs".into())?;
    }
    Ok(())
}

/// A grid received as another type: an error naming both, and the next
/// message (also with pieces) arrives whole.
fn wrong_type(w: &Comm, g: &Grid) -> Res {
    if w.rank() == 0 {
        for r in 1..w.size() {
            w.send(g, r, 9)?;
            w.send(&g.layers[1], r, 9)?;
        }
    } else {
        match w.recv::<Layer>(0, 9) {
            Err(Error::WrongType { sent, expected, .. }) => ensure(
                sent.ends_with("Grid") && expected.ends_with("Layer"),
                || format!("WrongType names `{sent}` and `{expected}`"),
            )?,
            other => return Err(format!("expected WrongType, got {other:?}").into()),
        }
        let next: Layer = w.recv(0, 9)?;
        ensure(next == g.layers[1], || {
            "the message after the refused one differs".into()
        })?;
    }
    Ok(())
}

/// `probe` and `iprobe` count the whole message (its encoded size) for a
/// message with pieces and one over 1 MiB, the same on both backends.
fn probe_counts(w: &Comm, g: &Grid) -> Res {
    let long: Vec<u64> = (0..300_000).map(|i| u64::MAX - i).collect();
    if w.rank() == 0 {
        for r in 1..w.size() {
            w.send(g, r, 11)?;
            w.send(&long, r, 12)?;
        }
    } else {
        let size = parallel_runtime::codec::encode(g)?.len();
        let st = w.probe(0, 11)?;
        ensure(st.count() == size, || {
            format!("probe: {} of {size} bytes", st.count())
        })?;
        let again = loop {
            if let Some(st) = w.iprobe(0, 11)? {
                break st;
            }
        };
        ensure(again.count() == size, || {
            format!("iprobe: {} of {size}", again.count())
        })?;
        let got: Grid = w.recv(st.source(), st.tag())?;
        ensure(&got == g, || "the probed grid differs".into())?;
        let size = parallel_runtime::codec::encode(&long)?.len();
        ensure(size > 1 << 20, || "the long message is over 1 MiB".into())?;
        let st = w.probe(0, 12)?;
        ensure(st.count() == size, || {
            format!("probe: {} of {size} bytes", st.count())
        })?;
        let got: Vec<u64> = w.recv(0, 12)?;
        ensure(got == long, || "the long message differs".into())?;
    }
    Ok(())
}
