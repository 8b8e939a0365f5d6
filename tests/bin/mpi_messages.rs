//! The correctness of messages, on real MPI and in a local world: types
//! checked on the object path, post-order matching of receives, exact
//! counts, tags, pieces and the limits of collectives.
//!
//! ```text
//! mpi_messages checks            # under mpirun -n 2 (or more): every check
//! mpi_messages checks local 3    # the same in a local world of 3 ranks
//! PARALLEL_MPI_MAX_COUNT=64 mpi_messages pieces [local N]
//!                                # messages in pieces of 64 elements
//! mpi_messages big               # 2.5 GB point to point (mpirun -n 2)
//! ```
//!
//! Each rank prints `rank R: ok <mode>` when all its checks passed;
//! tests/messages.rs runs it under deadlines.

use parallel_runtime::mpi::{Error, Op, Request, ANY_SOURCE, ANY_TAG};
use parallel_runtime::prelude::*;
use parallel_tests::{ensure, expect_err as err};

type Res = Result<(), Box<dyn std::error::Error>>;

#[mpi_main]
fn main(world: Comm) -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("checks", String::as_str).to_owned();
    if let Some(done) =
        parallel_tests::run_local(&args, &mode, |w| run(w, &mode).map_err(|e| e.to_string()))
    {
        return Ok(done?);
    }
    if world.size() < 2 {
        return Err("run under mpirun -n 2 (or more), or as `mpi_messages MODE local N`".into());
    }
    run(&world, &mode)?;
    println!("rank {}: ok {mode}", world.rank());
    Ok(())
}

fn run(w: &Comm, mode: &str) -> Res {
    match mode {
        "checks" => {
            types(w)?;
            order(w)?;
            counts(w)?;
            overruns(w)?;
            uneven(w)?;
            counts_disagree(w)?;
            element_types(w)?;
            wait_any_failure(w)?;
            tags(w)?;
        }
        "pieces" => pieces(w)?,
        "big" => big(w)?,
        other => return Err(format!("unknown mode `{other}`").into()),
    }
    w.barrier()?;
    Ok(())
}

/// A receive of another type than was sent is an error naming both types,
/// on every object-path operation; later messages still arrive.
fn types(w: &Comm) -> Res {
    let r = w.rank();
    if r == 0 {
        w.send(&(2usize, "r3".to_string()), 1, 1)?;
        w.send(&vec![3u64, 4], 1, 1)?;
        w.send(&0.5f64, 1, 1)?;
        w.send(&"well typed", 1, 1)?;
        // Serde-compatible pairs.
        w.send("str", 1, 2)?;
        w.send(&[1u32, 2][..], 1, 2)?;
        w.send(&vec![5u8], 1, 2)?;
        w.send(&Box::new(9u16), 1, 2)?;
        w.send(&&7i64, 1, 2)?;
        w.isend(&(1u8, 'x'), 1, 3)?.wait()?;
    } else if r == 1 {
        let e = err(w.recv::<String>(0, 1), "(usize, String) as String")?;
        ensure(
            matches!(&e, Error::WrongType { sent, expected, from: 0, rank: 1, .. }
                if sent == "(usize, String)" && expected == "String"),
            || format!("{e:?}"),
        )?;
        ensure(
            e.to_string()
                .starts_with("rank 1: `recv`: the message from rank 0 holds a"),
            || e.to_string(),
        )?;
        let e = err(w.recv::<u8>(0, 1), "Vec<u64> as u8")?;
        ensure(e.to_string().contains("`Vec<u64>`"), || e.to_string())?;
        let e = err(w.recv::<u64>(0, 1), "f64 as u64")?;
        ensure(
            e.to_string().contains("`f64`") && e.to_string().contains("`u64`"),
            || e.to_string(),
        )?;
        let s: String = w.recv(0, 1)?;
        ensure(s == "well typed", || s.clone())?;
        ensure(w.recv::<String>(0, 2)? == "str", || "str".into())?;
        ensure(w.recv::<Vec<u32>>(0, 2)? == [1, 2], || "[u32]".into())?;
        ensure(w.recv::<Box<[u8]>>(0, 2)?[..] == [5], || "Vec<u8>".into())?;
        ensure(w.recv::<u16>(0, 2)? == 9, || "Box<u16>".into())?;
        ensure(*w.recv::<Box<i64>>(0, 2)? == 7, || "&&i64".into())?;
        let e = err(w.irecv::<(u8, String)>(0, 3)?.wait(), "irecv (u8, char)")?;
        ensure(matches!(e, Error::WrongType { .. }), || e.to_string())?;
    }
    // Collectives: the root's type against everyone else's.
    let root = w.size() - 1;
    let got = if r == root {
        w.bcast(root, Some(1u32)).map(|v| v.to_string())
    } else {
        w.bcast::<String>(root, None)
    };
    if r != root {
        let e = err(got, "bcast u32 as String")?;
        ensure(
            matches!(e, Error::WrongType { from, .. } if from == root),
            || e.to_string(),
        )?;
    }
    let g = if r == 0 {
        w.gather(0, &"root".to_string()).map(|_| ())
    } else {
        w.gather(0, &(r as u64)).map(|_| ())
    };
    if r == 0 {
        let e = err(g, "gather u64 as String")?;
        ensure(matches!(e, Error::WrongType { from: 1, .. }), || {
            e.to_string()
        })?;
    }
    let s = if r == 0 {
        w.scatter(0, Some((0..w.size() as u64).collect::<Vec<_>>()))
            .map(|v| v.to_string())
    } else {
        w.scatter::<String>(0, None)
    };
    if r != 0 {
        let e = err(s, "scatter u64 as String")?;
        ensure(matches!(e, Error::WrongType { .. }), || e.to_string())?;
    }
    let a = if r == 0 {
        w.allgather(&1.5f32).map(|_| ())
    } else {
        w.allgather(&1u32).map(|_| ())
    };
    let e = err(a, "allgather f32 and u32")?;
    ensure(matches!(e, Error::WrongType { .. }), || e.to_string())?;
    let red = if r == 0 {
        w.reduce_with(0, "x".to_string(), |a, b| a + &b).map(|_| ())
    } else {
        w.reduce_with(0, r as u8, |a, b| a + b).map(|_| ())
    };
    if r == 0 {
        let e = err(red, "reduce_with")?;
        ensure(matches!(e, Error::WrongType { .. }), || e.to_string())?;
    }
    // Still in step after all that.
    ensure(w.all_reduce(1u32, Op::Sum)? as usize == w.size(), || {
        "all_reduce".into()
    })?;
    Ok(())
}

/// Receives match messages in the order they were posted.
fn order(w: &Comm) -> Res {
    let r = w.rank();
    // Two irecvs waited in reverse, posted before the messages come.
    if r == 1 {
        let a = w.irecv::<String>(0, 10)?;
        let b = w.irecv::<String>(0, 10)?;
        w.barrier()?;
        let second = b.wait()?;
        let first = a.wait()?;
        ensure(first == "A" && second == "B", || {
            format!("{first} {second}")
        })?;
    } else {
        w.barrier()?;
        if r == 0 {
            w.send("A", 1, 10)?;
            w.send("B", 1, 10)?;
        }
    }
    // The same once the messages are there.
    if r == 0 {
        w.send("A", 1, 11)?;
        w.send("B", 1, 11)?;
    }
    w.barrier()?;
    if r == 1 {
        let a = w.irecv::<String>(0, 11)?;
        let b = w.irecv::<String>(0, ANY_TAG)?;
        ensure(b.wait()? == "B" && a.wait()? == "A", || "11".into())?;
    }
    // An irecv, then a blocking recv: the earlier receive gets the earlier
    // message, whether the messages come before or after.
    for early in [false, true] {
        if r == 0 {
            if !early {
                w.barrier()?;
            }
            w.send("first", 1, 12)?;
            w.send("second", 1, 12)?;
            if early {
                w.barrier()?;
            }
        } else {
            if r == 1 {
                let pending = w.irecv::<String>(ANY_SOURCE, 12)?;
                w.barrier()?;
                let now: String = w.recv(0, 12)?;
                let then = pending.wait()?;
                ensure(now == "second" && then == "first", || {
                    format!("early={early}: recv got {now}, irecv got {then}")
                })?;
            } else {
                w.barrier()?;
            }
        }
    }
    // The buffer path, and both paths mixed.
    if r == 0 {
        w.send_buf(&[1u32, 1], 1, 13)?;
        w.send_buf(&[2u32, 2, 2], 1, 13)?;
        w.send(&"object", 1, 13)?;
    }
    w.barrier()?;
    if r == 1 {
        let first = w.irecv_buf(vec![0u32; 4], 0, 13)?;
        let mut second = [0u32; 4];
        let st = w.recv_buf(&mut second, 0, 13)?;
        let obj = w.irecv::<String>(0, 13)?;
        let (v, st1) = first.wait()?;
        let st1 = st1.ok_or("no status")?;
        ensure(st1.count() == 2 && v[..2] == [1, 1], || format!("{v:?}"))?;
        ensure(st.count() == 3 && second[..3] == [2, 2, 2], || {
            format!("{second:?}")
        })?;
        ensure(obj.wait()? == "object", || "object".into())?;
        // A receive dropped before its message came is withdrawn.
        drop(w.irecv::<u8>(0, 14)?);
        drop(w.irecv_buf(vec![0u8; 2], 0, 14)?);
    }
    w.barrier()?;
    if r == 0 {
        w.send(&5u8, 1, 14)?;
    } else if r == 1 {
        ensure(w.recv::<u8>(0, 14)? == 5, || "14".into())?;
    }
    // Nonblocking around a ring, completed in any order.
    let (right, left) = ((r + 1) % w.size(), (r + w.size() - 1) % w.size());
    let reqs: Vec<_> = (0..3)
        .map(|_| w.irecv::<u32>(left, 20))
        .collect::<Result<_, _>>()?;
    for k in 0..3u32 {
        w.isend(&k, right, 20)?.wait()?;
    }
    let got = Request::wait_all(reqs)?;
    ensure(got == [0, 1, 2], || format!("{got:?}"))?;
    Ok(())
}

/// Ranks that pass different lengths to a collective that needs the same
/// length everywhere: every rank gets `Error::Uneven` naming a rank whose
/// length differs, nothing is written (on MPI, the collective would
/// overrun memory, abort, or return wrong values), and the communicator
/// still works afterwards.
fn uneven(w: &Comm) -> Res {
    let (r, size) = (w.rank(), w.size());
    // Rank 0 passes 2,000 elements, the others 10.
    let n = if r == 0 { 2_000 } else { 10 };
    let (mine, other_rank, other) = if r == 0 {
        (2_000, 1, 10)
    } else {
        (10, 0, 2_000)
    };
    let send = vec![1.0f64; n];
    // `per`: the elements of the compared buffer for each one of `n`.
    let check_per = |what: &str, per: usize, got: Result<(), Error>| -> Res {
        let e = err(got, what)?;
        ensure(
            matches!(e, Error::Uneven { rank, mine: m, other_rank: o, other: l, .. }
                if rank == r && m == mine * per && o == other_rank && l == other * per),
            || format!("{what}: {e}"),
        )
    };
    let check = |what: &str, got: Result<(), Error>| check_per(what, 1, got);
    let mut buf = vec![-1.0f64; n];
    check("bcast_buf", w.bcast_buf(0, &mut buf))?;
    let mut out = vec![-1.0f64; n];
    check("all_reduce_buf", w.all_reduce_buf(&send, &mut out, Op::Sum))?;
    let root_out = (r == 0).then_some(&mut out[..]);
    check("reduce_buf", w.reduce_buf(0, &send, root_out, Op::Sum))?;
    check("scan_buf", w.scan_buf(&send, &mut out, Op::Sum))?;
    check("exscan_buf", w.exscan_buf(&send, &mut out, Op::Sum))?;
    let mut all = vec![-1.0f64; n * size];
    check("all_gather_buf", w.all_gather_buf(&send, &mut all))?;
    let root_all = (r == 0).then_some(&mut all[..]);
    check("gather_buf", w.gather_buf(0, &send, root_all))?;
    let whole = vec![2.0f64; n * size];
    let root_send = (r == 0).then_some(&whole[..]);
    check("scatter_buf", w.scatter_buf(0, root_send, &mut out))?;
    check_per("all_to_all_buf", size, w.all_to_all_buf(&whole, &mut all))?;
    check(
        "reduce_scatter_block_buf",
        w.reduce_scatter_block_buf(&whole, &mut out, Op::Sum),
    )?;
    let untouched = buf.iter().chain(&out).chain(&all).all(|&x| x == -1.0);
    ensure(untouched, || {
        "a refused collective wrote into a buffer".to_owned()
    })?;
    // The communicator still works.
    let mut sum = [0u64];
    w.all_reduce_buf(&[r as u64], &mut sum, Op::Sum)?;
    ensure(sum[0] == (0..size as u64).sum::<u64>(), || {
        format!("{sum:?}")
    })?;
    Ok(())
}

/// The v-forms' counts disagree between ranks: every rank gets
/// `Error::Counts` naming the first disagreement, nothing is written, and
/// a v-form with agreeing counts still works afterwards.
fn counts_disagree(w: &Comm) -> Res {
    let (r, size) = (w.rank(), w.size());
    let displs = |counts: &[usize]| -> Vec<usize> {
        counts
            .iter()
            .scan(0, |at, &c| Some(std::mem::replace(at, *at + c)))
            .collect()
    };
    let check = |what: &str, got: Result<(), Error>, said: &str| -> Res {
        let e = err(got, what)?;
        ensure(
            matches!(e, Error::Counts { rank, .. } if rank == r) && e.to_string().ends_with(said),
            || format!("{what}: {e}"),
        )
    };
    let three = vec![3usize; size];
    let d3 = displs(&three);
    // Rank 1 sends 5 where the root's counts give it 3.
    let send = vec![1u32; if r == 1 { 5 } else { 3 }];
    let mut at_root = vec![0u32; 3 * size];
    let recv = (r == 0).then_some((&mut at_root[..], &three[..], &d3[..]));
    let said = "rank 1 sends 5 elements; rank 0's counts give it 3";
    check("gatherv_buf", w.gatherv_buf(0, &send, recv), said)?;
    // Rank 1 receives into 5 where the root's counts give it 3.
    let whole = vec![2u32; 3 * size];
    let from = (r == 0).then_some((&whole[..], &three[..], &d3[..]));
    let mut mine = vec![0u32; if r == 1 { 5 } else { 3 }];
    let said = "rank 1 receives into 5 elements; rank 0's counts give it 3";
    check("scatterv_buf", w.scatterv_buf(0, from, &mut mine), said)?;
    // Every rank sends 2; rank 0's counts expect 4 from rank 1.
    let mut counts = vec![2usize; size];
    if r == 0 {
        counts[1] = 4;
    }
    let d = displs(&counts);
    let mut all = vec![0u32; counts.iter().sum()];
    let said = "rank 0 expects 4 elements from rank 1, which sends it 2";
    check(
        "all_gatherv_buf",
        w.all_gatherv_buf(&[7u32; 2], (&mut all, &counts, &d)),
        said,
    )?;
    // Every rank sends 1 to each; rank 1 expects 2 from rank 0.
    let ones = vec![1usize; size];
    let mut rc = ones.clone();
    if r == 1 {
        rc[0] = 2;
    }
    let (sd, rd) = (displs(&ones), displs(&rc));
    let mut got = vec![0u32; rc.iter().sum()];
    let said = "rank 1 expects 2 elements from rank 0, which sends it 1";
    check(
        "all_to_allv_buf",
        w.all_to_allv_buf((&vec![9u32; size], &ones, &sd), (&mut got, &rc, &rd)),
        said,
    )?;
    let untouched = at_root
        .iter()
        .chain(&mine)
        .chain(&all)
        .chain(&got)
        .all(|&x| x == 0);
    ensure(untouched, || {
        "a refused v-form wrote into a buffer".to_owned()
    })?;
    // Counts that agree still work.
    let mut all = vec![0u32; 2 * size];
    let two = vec![2usize; size];
    w.all_gatherv_buf(&[r as u32; 2], (&mut all, &two, &displs(&two)))?;
    let want: Vec<u32> = (0..size as u32).flat_map(|k| [k, k]).collect();
    ensure(all == want, || format!("{all:?}"))?;
    Ok(())
}

/// Rank 0 passes `f64` elements where the others pass `f32` (or `i64`,
/// of the same size) to buffer collectives: every rank gets
/// `Error::ElementType` naming both types, nothing is written (on MPI,
/// the collective would move the wrong number of bytes, or combine bits
/// of one type as another), and the communicator still works afterwards.
fn element_types(w: &Comm) -> Res {
    let (r, size) = (w.rank(), w.size());
    let check = |what: &str, other: &str, got: Result<(), Error>| -> Res {
        let e = err(got, what)?;
        let (mine, want_rank, want) = if r == 0 {
            ("f64", 1, other)
        } else {
            (other, 0, "f64")
        };
        ensure(
            matches!(&e, Error::ElementType { rank, mine: m, other_rank: o, other: t, .. }
                if *rank == r && m == mine && *o == want_rank && t == want),
            || format!("{what}: {e}"),
        )
    };
    let n = 4;
    let counts = vec![n; size];
    let displs: Vec<usize> = (0..size).map(|k| k * n).collect();
    let mut wide = vec![-1.0f64; n * size];
    let mut narrow = vec![-1.0f32; n * size];
    let mut whole = vec![-1i64; n * size];
    if r == 0 {
        let mut buf = vec![1.0f64; n];
        check("bcast_buf", "f32", w.bcast_buf(0, &mut buf))?;
        check("all_gather_buf", "f32", w.all_gather_buf(&buf, &mut wide))?;
        check(
            "all_reduce_buf",
            "i64",
            w.all_reduce_buf(&buf, &mut wide[..n], Op::Sum),
        )?;
        let at_root = Some((&mut wide[..], &counts[..], &displs[..]));
        check("gatherv_buf", "f32", w.gatherv_buf(0, &buf, at_root))?;
        let all = vec![1.0f64; n * size];
        check(
            "reduce_scatter_buf",
            "i64",
            w.reduce_scatter_buf(&all, &mut wide[..n], &counts, Op::Sum),
        )?;
    } else {
        let mut buf = vec![1.0f32; n];
        check("bcast_buf", "f32", w.bcast_buf(0, &mut buf))?;
        check("all_gather_buf", "f32", w.all_gather_buf(&buf, &mut narrow))?;
        let ints = vec![1i64; n];
        check(
            "all_reduce_buf",
            "i64",
            w.all_reduce_buf(&ints, &mut whole[..n], Op::Sum),
        )?;
        check("gatherv_buf", "f32", w.gatherv_buf(0, &buf, None))?;
        let all = vec![1i64; n * size];
        check(
            "reduce_scatter_buf",
            "i64",
            w.reduce_scatter_buf(&all, &mut whole[..n], &counts, Op::Sum),
        )?;
        ensure(buf.iter().all(|&x| x == 1.0), || format!("{buf:?}"))?;
    }
    let untouched = wide.iter().all(|&x| x == -1.0)
        && narrow.iter().all(|&x| x == -1.0)
        && whole.iter().all(|&x| x == -1);
    ensure(untouched, || {
        "a refused collective wrote into a buffer".to_owned()
    })?;
    let mut sum = [0.0f64];
    w.all_reduce_buf(&[1.0], &mut sum, Op::Sum)?;
    ensure(sum[0] == size as f64, || format!("{sum:?}"))?;
    Ok(())
}

/// `Request::wait_any` over a receive that fails (a message of another
/// type) and one that does not: the failure is returned and its request
/// removed, and the other still delivers (before, the failed request
/// stayed, and every later `wait_any` returned "already delivered").
fn wait_any_failure(w: &Comm) -> Res {
    match w.rank() {
        0 => {
            let mut reqs = vec![w.irecv::<u64>(1, 60)?, w.irecv::<u64>(1, 61)?];
            // In whichever order they complete: one failure, one value,
            // and each call removes one request.
            let (mut failures, mut values) = (Vec::new(), Vec::new());
            for left in [1, 0] {
                match Request::wait_any(&mut reqs) {
                    Ok(Some((_, v))) => values.push(v),
                    Ok(None) => return Err("wait_any: no request left".into()),
                    Err(e) => failures.push(e),
                }
                ensure(reqs.len() == left, || {
                    format!("{} requests left", reqs.len())
                })?;
            }
            ensure(
                values == [5] && matches!(failures[..], [Error::WrongType { from: 1, .. }]),
                || format!("values {values:?}, failures {failures:?}"),
            )?;
            let mut spent = w.irecv::<u64>(1, 62)?;
            spent.wait_status()?;
            let e = err(spent.test(), "a spent request")?;
            ensure(matches!(e, Error::RequestSpent { op: "irecv", .. }), || {
                e.to_string()
            })?;
        }
        1 => {
            w.send(&"not a number".to_owned(), 0, 60)?;
            w.send(&5u64, 0, 61)?;
            w.send(&6u64, 0, 62)?;
        }
        _ => {}
    }
    Ok(())
}

/// A message longer than the receive buffer, past Open MPI's eager limit
/// (where its shared-memory transport reads the whole message wherever it
/// is received): an error, and not one byte written outside the buffer, by
/// `recv_buf`, `sendrecv_buf` and an object `recv` of a buffer-path
/// message (1 MiB and over, the object path's piece); the next message
/// from the same rank and tag still arrives, whole.
fn overruns(w: &Comm) -> Res {
    let r = w.rank();
    let lens = [600usize, 2_000, 131_072, 200_000];
    if r == 0 {
        for &n in &lens {
            w.send_buf(&vec![5.0f64; n], 1, 40)?;
            w.send_buf(&[6.0f64; 3], 1, 40)?;
            w.send_buf(&vec![5.0f64; n], 1, 41)?;
            w.send(&vec![1u8, 2, 3], 1, 41)?;
        }
        for &n in &lens {
            let mut none = [0f64; 0];
            w.sendrecv_buf(&vec![7.0f64; n], 1, 42, &mut none, 1, 43)?;
        }
    } else if r == 1 {
        for &n in &lens {
            // A window of 10 in a vector of n + 16: what lies after the
            // window must stay as it was.
            let mut big = vec![-1.0f64; n + 16];
            let e = err(w.recv_buf(&mut big[..10], 0, 40), "long into 10")?;
            ensure(
                e.to_string()
                    .ends_with(&format!("({n} elements sent, room for 10)")),
                || e.to_string(),
            )?;
            let written = big[10..].iter().filter(|&&x| x != -1.0).count();
            ensure(written == 0, || {
                format!("recv_buf of {n} into 10 wrote {written} elements past its buffer")
            })?;
            let mut three = [0f64; 3];
            let st = w.recv_buf(&mut three, 0, 40)?;
            ensure(st.count() == 3 && three == [6.0; 3], || {
                format!("{three:?}")
            })?;
            // A buffer-path message received as an object: on MPI its
            // bytes are no encoded value; the local world knows its type.
            let e = err(w.recv::<Vec<f64>>(0, 41), "buffer message as object")?;
            let said = if w.is_mpi() {
                "is not a value encoded by parallel-runtime's object path".to_owned()
            } else {
                format!("{n} elements of `f64` sent")
            };
            ensure(e.to_string().contains(&said), || e.to_string())?;
            let next: Vec<u8> = w.recv(0, 41)?;
            ensure(next == [1, 2, 3], || format!("after {n}: {next:?}"))?;
        }
        for &n in &lens {
            let mut big = vec![-1.0f64; n + 16];
            let e = err(
                w.sendrecv_buf(&[], 0, 43, &mut big[..10], 0, 42),
                "sendrecv long into 10",
            )?;
            ensure(
                matches!(
                    e,
                    Error::Mismatch {
                        rank: 1,
                        from: 0,
                        ..
                    }
                ),
                || e.to_string(),
            )?;
            let written = big[10..].iter().filter(|&&x| x != -1.0).count();
            ensure(written == 0, || {
                format!("sendrecv_buf of {n} into 10 wrote {written} elements past its buffer")
            })?;
        }
    }
    Ok(())
}

/// Counts are exact, and a message that does not fit is an error naming
/// the rank, on every backend; later messages still arrive.
fn counts(w: &Comm) -> Res {
    let r = w.rank();
    if r == 0 {
        w.send_buf(&[1u8, 2, 3], 1, 30)?;
        w.send_buf(&[7u32; 5], 1, 30)?;
        w.send_buf(&[7u32; 5], 1, 31)?;
        w.send_buf(&[9u64; 3], 1, 30)?;
        w.send_buf(&[6u16; 3], 1, 32)?;
    } else if r == 1 {
        let mut four = [0u64; 4];
        let e = err(w.recv_buf(&mut four, 0, 30), "3 bytes into u64")?;
        let want = "rank 1: `recv_buf`: the message from rank 0 does not fit the receive buffer \
                    (3 bytes sent, not a whole number of `u64` elements (8 bytes each))";
        ensure(e.to_string() == want, || e.to_string())?;
        let mut two = [0u32; 2];
        let e = err(w.recv_buf(&mut two, 0, 30), "5 into 2")?;
        ensure(
            e.to_string().ends_with("(5 elements sent, room for 2)"),
            || e.to_string(),
        )?;
        let e = err(w.irecv_buf(vec![0u32; 2], 0, 31)?.wait(), "irecv 5 into 2")?;
        ensure(
            matches!(
                e,
                Error::Mismatch {
                    from: 0,
                    rank: 1,
                    ..
                }
            ),
            || e.to_string(),
        )?;
        let st = w.recv_buf(&mut four, 0, 30)?;
        ensure(st.count() == 3 && four == [9, 9, 9, 0], || {
            format!("{four:?}")
        })?;
        let mut six = [0u16; 6];
        let st = w.sendrecv_buf(&[1u16], 0, 33, &mut six, 0, 32)?;
        ensure(
            st.count() == 3 && st.source() == 0 && st.tag() == 32,
            || format!("{st:?}"),
        )?;
    }
    if r == 0 {
        let mut one = [0u16; 1];
        ensure(w.recv_buf(&mut one, 1, 33)?.count() == 1, || "33".into())?;
    }
    Ok(())
}

/// Tags outside `0..=tag_ub` are the same error on every backend.
fn tags(w: &Comm) -> Res {
    let ub = w.tag_ub();
    ensure(ub >= 32767, || format!("tag_ub {ub}"))?;
    let peer = (w.rank() + 1) % w.size();
    let e = err(w.send(&1u8, peer, -1), "send with tag -1")?;
    ensure(
        e.to_string()
            == format!(
                "rank {}: `send`: tag -1 is outside 0..={ub}, the tags MPI accepts",
                w.rank()
            ),
        || e.to_string(),
    )?;
    ensure(
        matches!(
            err(w.send_buf(&[1u8], peer, -5), "")?,
            Error::Tag { tag: -5, .. }
        ),
        || "send_buf".into(),
    )?;
    ensure(
        matches!(err(w.isend(&1u8, peer, -2), "")?, Error::Tag { .. }),
        || "isend".into(),
    )?;
    ensure(
        matches!(err(w.recv::<u8>(peer, -3), "")?, Error::Tag { .. }),
        || "recv".into(),
    )?;
    ensure(
        matches!(err(w.irecv::<u8>(peer, -3), "")?, Error::Tag { .. }),
        || "irecv".into(),
    )?;
    let mut b = [0u8];
    ensure(
        matches!(err(w.recv_buf(&mut b, peer, -3), "")?, Error::Tag { .. }),
        || "recv_buf".into(),
    )?;
    if ub < i32::MAX {
        ensure(
            matches!(err(w.send(&1u8, peer, ub + 1), "")?, Error::Tag { .. }),
            || "ub + 1".into(),
        )?;
    }
    // The largest tag works.
    w.send(&3u8, peer, ub)?;
    let left = (w.rank() + w.size() - 1) % w.size();
    ensure(w.recv::<u8>(left, ub)? == 3, || "tag_ub".into())?;
    Ok(())
}

/// With `PARALLEL_MPI_MAX_COUNT` small: messages in pieces arrive whole,
/// in order, on both paths; collectives beyond the count are errors on
/// every rank.
fn pieces(w: &Comm) -> Res {
    let max: usize = std::env::var("PARALLEL_MPI_MAX_COUNT")?.parse()?;
    let r = w.rank();
    let lens = [0, 1, max - 1, max, max + 1, 2 * max, 2 * max + 3, 5 * max];
    if r == 0 {
        for &n in &lens {
            let v: Vec<u32> = (0..n as u32).collect();
            w.send_buf(&v, 1, 1)?;
            w.isend_buf(v.clone(), 1, 2)?.wait()?;
            w.send(&v, 1, 3)?;
        }
    } else if r == 1 {
        for &n in &lens {
            let want: Vec<u32> = (0..n as u32).collect();
            // Receives of long messages posted before a blocking one.
            let second = w.irecv_buf(vec![0u32; n + 2], 0, 2)?;
            let first_obj = w.irecv::<Vec<u32>>(0, 3)?;
            let mut got = vec![0u32; n + 5];
            let st = w.recv_buf(&mut got, 0, 1)?;
            ensure(st.count() == n && got[..n] == want[..], || {
                format!("recv_buf of {n}: {st:?}")
            })?;
            let obj = first_obj.wait()?;
            ensure(obj == want, || format!("object of {n}"))?;
            let (v, st) = second.wait()?;
            let st = st.ok_or("no status")?;
            ensure(st.count() == n && v[..n] == want[..], || {
                format!("irecv_buf of {n}: {st:?}")
            })?;
        }
    }
    // Too long for the buffer: an error, and every piece is consumed.
    if r == 0 {
        w.send_buf(&vec![1u8; 3 * max], 1, 4)?;
        w.send(&"after", 1, 4)?;
    } else if r == 1 {
        let mut small = vec![0u8; max + 1];
        let e = err(w.recv_buf(&mut small, 0, 4), "too long")?;
        ensure(
            e.to_string().ends_with(&format!(
                "({} elements sent, room for {})",
                3 * max,
                max + 1
            )),
            || e.to_string(),
        )?;
        ensure(w.recv::<String>(0, 4)? == "after", || "after".into())?;
    }
    // Broadcasts and reductions in pieces.
    let n = 3 * max + 2;
    let mut b: Vec<i64> = if r == 0 {
        (0..n as i64).collect()
    } else {
        vec![0; n]
    };
    w.bcast_buf(0, &mut b)?;
    ensure(b == (0..n as i64).collect::<Vec<_>>(), || {
        "bcast_buf".into()
    })?;
    let v: Vec<u16> = w.bcast(0, (r == 0).then(|| vec![7u16; n]))?;
    ensure(v == vec![7u16; n], || "bcast".into())?;
    let mut sum = vec![0i64; n];
    w.all_reduce_buf(&b, &mut sum, Op::Sum)?;
    ensure(
        sum.iter()
            .enumerate()
            .all(|(i, &s)| s == i as i64 * w.size() as i64),
        || "all_reduce_buf".into(),
    )?;
    let mut at_root = vec![0i64; n];
    w.reduce_buf(0, &b, (r == 0).then_some(&mut at_root[..]), Op::Max)?;
    if r == 0 {
        ensure(at_root == b, || "reduce_buf".into())?;
    }
    // Collectives beyond one call: an error on every rank, not a panic.
    let big = vec![1u8; max];
    let mut all = vec![0u8; max * w.size()];
    let e = err(w.all_gather_buf(&big, &mut all), "all_gather_buf")?;
    ensure(matches!(e, Error::TooLarge { .. }), || e.to_string())?;
    let e = err(
        w.gather_buf(0, &big, (r == 0).then_some(&mut all[..])),
        "gather_buf",
    )?;
    ensure(matches!(e, Error::TooLarge { .. }), || e.to_string())?;
    let mut block = vec![0u8; max];
    let e = err(
        w.scatter_buf(0, (r == 0).then_some(&all[..]), &mut block),
        "scatter_buf",
    )?;
    ensure(matches!(e, Error::TooLarge { .. }), || e.to_string())?;
    let e = err(w.gather(0, &big), "gather")?;
    ensure(
        e.to_string()
            .contains("more than one MPI call can describe"),
        || e.to_string(),
    )?;
    ensure(
        matches!(err(w.allgather(&big), "allgather")?, Error::TooLarge { .. }),
        || "allgather".into(),
    )?;
    let parts = (r == 0).then(|| vec![big.clone(); w.size()]);
    ensure(
        matches!(err(w.scatter(0, parts), "scatter")?, Error::TooLarge { .. }),
        || "scatter".into(),
    )?;
    // And small ones still work.
    let few: Vec<u8> = w.allgather(&1u8)?;
    ensure(few.len() == w.size(), || "allgather small".into())?;
    Ok(())
}

/// 2.5 GB from rank 0 to rank 1, on the object path (`Vec<u8>`) and the
/// buffer path (`&[u8]`): beyond MPI's `int` count, so in pieces.
fn big(w: &Comm) -> Res {
    const N: usize = 2_500_000_000;
    let r = w.rank();
    let at = |i: usize| (i % 251) as u8;
    let check = |v: &[u8], what: &str| {
        ensure(v.len() == N, || format!("{what}: {} bytes", v.len()))?;
        for i in (0..N).step_by(9_999_991).chain([N - 1]) {
            ensure(v[i] == at(i), || format!("{what}: byte {i}"))?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    if r == 0 {
        let v: Vec<u8> = (0..N).map(at).collect();
        w.send_buf(&v, 1, 1)?;
        w.send(&v, 1, 2)?;
    } else if r == 1 {
        let mut v = vec![0u8; N];
        let st = w.recv_buf(&mut v, 0, 1)?;
        ensure(st.count() == N, || format!("count {}", st.count()))?;
        check(&v, "buffer path")?;
        drop(v);
        let v: Vec<u8> = w.recv(0, 2)?;
        check(&v, "object path")?;
    }
    Ok(())
}
