//! mpi4py's tutorial (<https://mpi4py.readthedocs.io/en/stable/tutorial.html>)
//! and the classic "mpi4py examples", ported to `Comm` as a user would from
//! docs/mpi.md; each result is compared with a plain serial computation of
//! the same thing, and each mode also tries the edges a user hits (empty
//! messages, a root that is not rank 0, ranks that get nothing, mismatched
//! types and counts, ranks out of range, messages over 1 MiB, many small
//! messages in flight).
//!
//! ```text
//! mpi4py_tutorial MODE               # under mpirun -n 2, 3, 4
//! mpi4py_tutorial MODE local N       # the same in a local world of N ranks
//! ```
//!
//! Each rank prints `rank R: ok MODE` when its checks passed;
//! tests/mpi4py_tutorial.rs runs every mode under deadlines.

use std::collections::BTreeMap;

use parallel_runtime::mpi::{dims_create, Error, Request, ANY_SOURCE, ANY_TAG};
use parallel_runtime::prelude::*;
use parallel_tests::{ensure, expect_err};

type Res = Result<(), Box<dyn std::error::Error>>;

#[mpi_main]
fn main(world: Comm) -> Result<(), String> {
    parallel_tests::ranks_main(&world, "p2p_objects", |w, mode| {
        run(w, mode).map_err(|e| e.to_string())
    })
}

fn run(w: &Comm, mode: &str) -> Res {
    match mode {
        "p2p_objects" => p2p_objects(w),
        "p2p_arrays" => p2p_arrays(w),
        "nonblocking" => nonblocking(w),
        "exchange" => exchange(w),
        "posted_then_barrier" => posted_then_barrier(w),
        "coll_objects" => coll_objects(w),
        "coll_buffers" => coll_buffers(w),
        "uneven" => uneven(w),
        "pi" => pi(w),
        "matvec" => matvec(w),
        "split" => split(w),
        "cart" => cart(w),
        "probe" => probe(w),
        "ring" => ring(w),
        "pingpong" => pingpong(w),
        "taskfarm" => taskfarm(w),
        "parallel_sum" => parallel_sum(w),
        "mismatch" => mismatch(w),
        "edges" => edges(w),
        other => Err(format!("unknown mode `{other}`").into()),
    }
}

/// The value rank 0 sends rank `r` in the tutorial's first example
/// (`data = {'a': 7, 'b': 3.14}`), made different per rank.
fn payload(r: usize) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    m.insert("a".to_owned(), 7.0 + r as f64);
    m.insert("b".to_owned(), 2.5 * r as f64);
    m
}

/// Block sizes of `n` items over `size` ranks, as `numpy.array_split`
/// cuts them (the first `n % size` get one more), and their offsets.
fn split_counts(n: usize, size: usize) -> (Vec<usize>, Vec<usize>) {
    let counts: Vec<usize> = (0..size)
        .map(|r| n / size + usize::from(r < n % size))
        .collect();
    let displs = offsets(&counts);
    (counts, displs)
}

fn offsets(counts: &[usize]) -> Vec<usize> {
    counts
        .iter()
        .scan(0, |at, &c| {
            let d = *at;
            *at += c;
            Some(d)
        })
        .collect()
}

// ----- point to point ---------------------------------------------------

/// "Python objects": rank 0 sends a dict to every rank with a tag of its
/// own; two tags received in the other order; every rank answers rank 0,
/// which receives from `ANY_SOURCE` with the status.
fn p2p_objects(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    if me == 0 {
        for r in 1..size {
            w.send(&payload(r), r, 11)?;
            w.send(&(r, "first".to_owned()), r, 1)?;
            w.send(&(r, "second".to_owned()), r, 2)?;
        }
    } else {
        let data: BTreeMap<String, f64> = w.recv(0, 11)?;
        ensure(data == payload(me), || format!("got {data:?}"))?;
        // By tag: the later message first.
        let b: (usize, String) = w.recv(0, 2)?;
        let a: (usize, String) = w.recv(0, 1)?;
        ensure(
            a == (me, "first".into()) && b == (me, "second".into()),
            || format!("by tag: {a:?} {b:?}"),
        )?;
        w.send(&(me, payload(me)), 0, 100 + me as i32)?;
    }
    if me == 0 {
        let mut got = Vec::new();
        for _ in 1..size {
            let ((from, d), st): ((usize, BTreeMap<String, f64>), _) =
                w.recv_status(ANY_SOURCE, ANY_TAG)?;
            ensure(st.source() == from && st.tag() == 100 + from as i32, || {
                format!("status {st:?} for a message of rank {from}")
            })?;
            got.push((from, d));
        }
        got.sort_by_key(|g| g.0);
        let want: Vec<_> = (1..size).map(|r| (r, payload(r))).collect();
        ensure(got == want, || format!("ANY_SOURCE: {got:?}"))?;
    }
    // Sending to oneself (the message is buffered), then receiving it.
    w.send(&payload(me), me, 5)?;
    let own: BTreeMap<String, f64> = w.recv(me, 5)?;
    ensure(own == payload(me), || format!("to self: {own:?}"))?;
    Ok(())
}

/// "NumPy arrays": `Send`/`Recv` of `f64` and `i32` arrays, with the
/// status's count, from a named rank and from `ANY_SOURCE`.
fn p2p_arrays(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let arange = |n: usize, k: usize| (0..n).map(|i| (i * k) as f64).collect::<Vec<f64>>();
    if me == 0 {
        for r in 1..size {
            w.send_buf(&arange(1000, r), r, 77)?;
            let ints: Vec<i32> = (0..10).map(|i| i * r as i32).collect();
            w.send_buf(&ints, r, 78)?;
        }
        let mut seen = vec![false; size];
        for _ in 1..size {
            let mut buf = vec![0.0f64; 100];
            let st = w.recv_buf(&mut buf, ANY_SOURCE, 79)?;
            let r = st.source();
            ensure(st.count() == r && buf[..r] == arange(r, 2)[..], || {
                format!("from {r}: {:?} count {}", &buf[..r], st.count())
            })?;
            seen[r] = true;
        }
        ensure(seen[1..].iter().all(|&s| s), || format!("seen {seen:?}"))?;
    } else {
        let mut data = vec![0.0f64; 1000];
        let st = w.recv_buf(&mut data, 0, 77)?;
        ensure(st.count() == 1000 && data == arange(1000, me), || {
            format!("count {}", st.count())
        })?;
        // A receive buffer longer than the message: the count says how much.
        let mut ints = vec![-1i32; 20];
        let st = w.recv_buf(&mut ints, 0, 78)?;
        let want: Vec<i32> = (0..10).map(|i| i * me as i32).collect();
        ensure(st.count() == 10 && ints[..10] == want[..], || {
            format!("ints {ints:?} count {}", st.count())
        })?;
        w.send_buf(&arange(me, 2), 0, 79)?;
    }
    Ok(())
}

/// `isend`/`irecv` with `wait` and `test`, `wait_all`, `wait_any`, and the
/// buffer forms; many small messages in flight, received in the order
/// sent.
fn nonblocking(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    // The tutorial: isend to the right, irecv from the left, wait.
    let req = w.isend(&payload(me), right, 11)?;
    let mut rreq = w.irecv::<BTreeMap<String, f64>>(left, 11)?;
    let got = loop {
        if let Some(v) = rreq.test()? {
            break v;
        }
        std::thread::yield_now();
    };
    req.wait()?;
    ensure(got == payload(left), || format!("irecv/test: {got:?}"))?;
    let spent = expect_err(rreq.test(), "a spent request tested again")?;
    ensure(matches!(spent, Error::RequestSpent { .. }), || {
        spent.to_string()
    })?;
    // Many small messages in flight: 2,000 isends to every rank, the
    // receives posted first (irecv) for half and blocking for the rest.
    const N: usize = 2000;
    let mut sends = Vec::new();
    let mut recvs = Vec::new();
    for r in 0..size {
        for i in 0..N / 2 {
            recvs.push(w.irecv::<(usize, usize)>(r, 3)?);
            let _ = i;
        }
    }
    for r in 0..size {
        for i in 0..N {
            sends.push(w.isend(&(me, i), r, 3)?);
        }
    }
    let first = Request::wait_all(recvs)?;
    for r in 0..size {
        for i in N / 2..N {
            let v: (usize, usize) = w.recv(r, 3)?;
            ensure(v == (r, i), || format!("message {i} of rank {r}: {v:?}"))?;
        }
    }
    Request::wait_all(sends)?;
    let want: Vec<(usize, usize)> = (0..size)
        .flat_map(|r| (0..N / 2).map(move |i| (r, i)))
        .collect();
    ensure(first == want, || "irecvs out of order".to_owned())?;
    // wait_any: one message from every rank, any order.
    let mut reqs: Vec<Request<'_, usize>> = (0..size)
        .map(|r| w.irecv::<usize>(r, 4))
        .collect::<Result<_, _>>()?;
    let sends: Vec<_> = (0..size)
        .map(|r| w.isend(&(me * 1000 + r), r, 4))
        .collect::<Result<_, _>>()?;
    let mut got = Vec::new();
    while let Some((_, v)) = Request::wait_any(&mut reqs)? {
        got.push(v);
    }
    Request::wait_all(sends)?;
    got.sort_unstable();
    let want: Vec<usize> = (0..size).map(|r| r * 1000 + me).collect();
    ensure(got == want, || format!("wait_any: {got:?}"))?;
    // Isend/Irecv of arrays, the vectors coming back; also 2 MiB.
    for n in [0usize, 7, 1 << 18] {
        let data: Vec<f64> = (0..n).map(|i| (i + me) as f64).collect();
        let r = w.irecv_buf(vec![0.0f64; n], left, 5)?;
        let s = w.isend_buf(data.clone(), right, 5)?;
        let (back, _) = s.wait()?;
        ensure(back == data, || "isend_buf gave back another vector".into())?;
        let (got, st) = r.wait()?;
        let want: Vec<f64> = (0..n).map(|i| (i + left) as f64).collect();
        let count = st.map(|s| s.count());
        ensure(got == want && count == Some(n), || {
            format!("irecv_buf of {n}: count {count:?}")
        })?;
    }
    // A receive dropped before it matched is withdrawn: the message goes
    // to the next receive.
    drop(w.irecv::<u64>(left, 6)?);
    w.barrier()?;
    let s = w.isend(&(me as u64), right, 6)?;
    let got: u64 = w.recv(left, 6)?;
    s.wait()?;
    ensure(got == left as u64, || {
        format!("after a dropped irecv: {got}")
    })?;
    // Testing a send of 2 MiB until it completes, with a receive posted
    // from the neighbour: the test lets the receive take its message.
    let n = 1 << 18;
    let r = w.irecv_buf(vec![0.0f64; n], left, 7)?;
    let mut s = w.isend_buf(vec![me as f64; n], right, 7)?;
    while s.test()?.is_none() {
        std::thread::yield_now();
    }
    let (got, _) = r.wait()?;
    ensure(got == vec![left as f64; n], || {
        "Isend tested to completion".into()
    })
}

/// The halo-exchange idiom of mpi4py codes: post the receive from the
/// left, send to the right, wait for the send, then the receive; with
/// messages past the eager limit (each rank's send completes only once its
/// neighbour's posted receive takes it).
fn exchange(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    let data = |r: usize, n: usize| (0..n).map(|i| (i + r) as f64).collect::<Vec<f64>>();
    for n in [10usize, 1 << 12, 1 << 18] {
        // r = comm.Irecv(buf, left); s = comm.Isend(arr, right); s.Wait(); r.Wait()
        let r = w.irecv_buf(vec![0.0f64; n], left, 1)?;
        let s = w.isend_buf(data(me, n), right, 1)?;
        s.wait()?;
        let (got, _) = r.wait()?;
        ensure(got == data(left, n), || format!("Isend/Irecv of {n}"))?;
        // r = comm.Irecv(buf, left); comm.Send(arr, right); r.Wait()
        let r = w.irecv_buf(vec![0.0f64; n], left, 2)?;
        w.send_buf(&data(me, n), right, 2)?;
        let (got, _) = r.wait()?;
        ensure(got == data(left, n), || format!("Irecv then Send of {n}"))?;
        // req = comm.irecv(source=left); comm.send(obj, right); req.wait()
        let r = w.irecv::<Vec<f64>>(left, 3)?;
        w.send(&data(me, n), right, 3)?;
        let got = r.wait()?;
        ensure(got == data(left, n), || format!("irecv then send of {n}"))?;
        // req = comm.irecv(left); s = comm.isend(obj, right); s.wait(); req.wait()
        let r = w.irecv::<Vec<f64>>(left, 4)?;
        let s = w.isend(&data(me, n), right, 4)?;
        s.wait()?;
        let got = r.wait()?;
        ensure(got == data(left, n), || {
            format!("irecv, isend, wait of {n}")
        })?;
    }
    Ok(())
}

/// `r = comm.Irecv(buf, source=1); comm.Barrier(); r.Wait()` on rank 0
/// while rank 1 does `comm.Send(arr, dest=0); comm.Barrier()`: in MPI the
/// posted receive takes the message while rank 0 waits in the barrier, so
/// rank 1's send completes (past the eager limit too). Then the same with
/// an object (`comm.irecv()`, `comm.send(obj)`) across a nonblocking
/// barrier's wait (`comm.Ibarrier().Wait()`).
fn posted_then_barrier(w: &Comm) -> Res {
    if w.size() < 2 {
        return Ok(());
    }
    let data: Vec<f64> = (0..1 << 16).map(f64::from).collect();
    match w.rank() {
        0 => {
            let r = w.irecv_buf(vec![0.0f64; data.len()], 1, 1)?;
            w.barrier()?;
            let (got, _) = r.wait()?;
            ensure(got == data, || "Irecv across a Barrier".into())?;
            let r = w.irecv::<Vec<f64>>(1, 2)?;
            w.ibarrier()?.wait()?;
            let got = r.wait()?;
            ensure(got == data, || "irecv across an Ibarrier's wait".into())
        }
        1 => {
            w.send_buf(&data, 0, 1)?;
            w.barrier()?;
            w.send(&data, 0, 2)?;
            w.ibarrier()?.wait().map_err(Into::into)
        }
        _ => {
            w.barrier()?;
            w.ibarrier()?.wait().map_err(Into::into)
        }
    }
}

// ----- collectives --------------------------------------------------------

/// bcast, scatter, gather, allgather, reduce, allreduce, alltoall and scans
/// of objects, with the root the last rank.
fn coll_objects(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let root = size - 1;
    for root in [0, root] {
        // bcast: `data = {'key1': [7, 2.72, 2+3j], 'key2': ('abc', 'xyz')}`
        let data = (me == root).then(|| (vec![7.0, 2.72], ("abc".to_owned(), "xyz".to_owned())));
        let got: (Vec<f64>, (String, String)) = w.bcast(root, data)?;
        ensure(got.0 == [7.0, 2.72] && got.1 .1 == "xyz", || {
            format!("bcast: {got:?}")
        })?;
        // scatter: `data = [(i+1)**2 for i in range(size)]`
        let squares: Vec<usize> = (0..size).map(|i| (i + 1) * (i + 1)).collect();
        let mine: usize = w.scatter(root, (me == root).then(|| squares.clone()))?;
        ensure(mine == (me + 1) * (me + 1), || format!("scatter: {mine}"))?;
        // gather: `data = (rank+1)**2`
        let all = w.gather(root, &mine)?;
        ensure(all == (me == root).then(|| squares.clone()), || {
            format!("gather: {all:?}")
        })?;
        // reduce of numbers and of objects (a fold that does not commute)
        let sum = w.reduce(root, mine as u64, Op::Sum)?;
        let serial: u64 = squares.iter().map(|&s| s as u64).sum();
        ensure(sum == (me == root).then_some(serial), || {
            format!("reduce: {sum:?}")
        })?;
        let text = w.reduce_with(root, me.to_string(), |a, b| format!("{a},{b}"))?;
        let want = (0..size)
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(",");
        ensure(text == (me == root).then(|| want.clone()), || {
            format!("reduce_with: {text:?}")
        })?;
    }
    let all: Vec<(usize, String)> = w.allgather(&(me, "x".repeat(me)))?;
    let want: Vec<(usize, String)> = (0..size).map(|r| (r, "x".repeat(r))).collect();
    ensure(all == want, || format!("allgather: {all:?}"))?;
    let max = w.all_reduce(me as f64 * 1.5, Op::Max)?;
    ensure(max == (size - 1) as f64 * 1.5, || {
        format!("allreduce max {max}")
    })?;
    let prod = w.all_reduce(me as i64 + 1, Op::Prod)?;
    let serial: i64 = (1..=size as i64).product();
    ensure(prod == serial, || format!("allreduce prod {prod}"))?;
    // alltoall: rank i sends (i, j) to rank j
    let out: Vec<(usize, usize)> = (0..size).map(|j| (me, j)).collect();
    let got: Vec<(usize, usize)> = w.alltoall(out)?;
    let want: Vec<(usize, usize)> = (0..size).map(|i| (i, me)).collect();
    ensure(got == want, || format!("alltoall: {got:?}"))?;
    let scan = w.scan(me as u64 + 1, Op::Sum)?;
    let ex = w.exscan(me as u64 + 1, Op::Sum)?;
    let serial: u64 = (0..=me as u64).map(|r| r + 1).sum();
    ensure(scan == serial, || format!("scan {scan}"))?;
    ensure(ex == (me > 0).then(|| serial - me as u64 - 1), || {
        format!("exscan {ex:?}")
    })?;
    let words = w.scan_with(vec![me], |mut a, b| {
        a.extend(b);
        a
    })?;
    ensure(words == (0..=me).collect::<Vec<_>>(), || {
        format!("scan_with {words:?}")
    })?;
    Ok(())
}

/// Bcast, Scatter, Gather, Allgather, Reduce, Allreduce and Alltoall of
/// arrays, with the root the last rank.
fn coll_buffers(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let root = size - 1;
    // Bcast: `data = np.arange(100, dtype='i')` on the root.
    let mut data = if me == root {
        (0..100).collect::<Vec<i32>>()
    } else {
        vec![0; 100]
    };
    w.bcast_buf(root, &mut data)?;
    ensure(data == (0..100).collect::<Vec<i32>>(), || "Bcast".into())?;
    // Scatter: `sendbuf = np.empty([size, 100]); sendbuf.T[:,:] = range(size)`
    let sendbuf: Vec<f64> = (0..size * 100).map(|i| (i / 100) as f64).collect();
    let mut recvbuf = vec![-1.0f64; 100];
    w.scatter_buf(root, (me == root).then_some(&sendbuf[..]), &mut recvbuf)?;
    ensure(recvbuf.iter().all(|&x| x == me as f64), || "Scatter".into())?;
    // Gather: `sendbuf = np.zeros(100) + rank`
    let send = vec![me as f64; 100];
    let mut gathered = vec![0.0f64; if me == root { size * 100 } else { 0 }];
    w.gather_buf(root, &send, (me == root).then_some(&mut gathered[..]))?;
    if me == root {
        ensure(gathered == sendbuf, || "Gather".into())?;
    }
    let mut all = vec![0.0f64; size * 100];
    w.all_gather_buf(&send, &mut all)?;
    ensure(all == sendbuf, || "Allgather".into())?;
    // Reduce and Allreduce, element-wise.
    let mine: Vec<i64> = (0..50).map(|i| i * (me as i64 + 1)).collect();
    let serial: Vec<i64> = (0..50)
        .map(|i| (0..size as i64).map(|r| i * (r + 1)).sum())
        .collect();
    let mut out = vec![0i64; 50];
    w.reduce_buf(root, &mine, (me == root).then_some(&mut out[..]), Op::Sum)?;
    if me == root {
        ensure(out == serial, || format!("Reduce {out:?}"))?;
    }
    let mut out = vec![0i64; 50];
    w.all_reduce_buf(&mine, &mut out, Op::Sum)?;
    ensure(out == serial, || format!("Allreduce {out:?}"))?;
    let mut mx = vec![0i64; 50];
    w.all_reduce_buf(&mine, &mut mx, Op::Max)?;
    let serial_max: Vec<i64> = (0..50).map(|i| i * size as i64).collect();
    ensure(mx == serial_max, || format!("Allreduce max {mx:?}"))?;
    // Alltoall: block j of rank i is [i*10 + j; 3].
    let send: Vec<u32> = (0..size).flat_map(|j| [(me * 10 + j) as u32; 3]).collect();
    let mut recv = vec![0u32; 3 * size];
    w.all_to_all_buf(&send, &mut recv)?;
    let want: Vec<u32> = (0..size).flat_map(|i| [(i * 10 + me) as u32; 3]).collect();
    ensure(recv == want, || format!("Alltoall {recv:?}"))?;
    Ok(())
}

/// Scatterv, Gatherv, Allgatherv and Alltoallv with blocks of different
/// sizes, rank 0 getting nothing, the root the last rank.
fn uneven(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let root = size - 1;
    let counts: Vec<usize> = (0..size).map(|r| r * 2).collect(); // rank 0: 0
    let displs = offsets(&counts);
    let total: usize = counts.iter().sum();
    let full: Vec<f64> = (0..total).map(|i| i as f64 * 0.5).collect();
    let mut mine = vec![-1.0f64; counts[me]];
    let send = (me == root).then(|| (&full[..], &counts[..], &displs[..]));
    w.scatterv_buf(root, send, &mut mine)?;
    ensure(
        mine[..] == full[displs[me]..displs[me] + counts[me]],
        || format!("Scatterv: {mine:?}"),
    )?;
    let doubled: Vec<f64> = mine.iter().map(|x| x * 2.0).collect();
    let mut back = vec![0.0f64; if me == root { total } else { 0 }];
    let recv = (me == root).then(|| (&mut back[..], &counts[..], &displs[..]));
    w.gatherv_buf(root, &doubled, recv)?;
    let serial: Vec<f64> = full.iter().map(|x| x * 2.0).collect();
    if me == root {
        ensure(back == serial, || format!("Gatherv: {back:?}"))?;
    }
    let mut everywhere = vec![0.0f64; total];
    w.all_gatherv_buf(&doubled, (&mut everywhere, &counts, &displs))?;
    ensure(everywhere == serial, || "Allgatherv".into())?;
    // Alltoallv: rank i sends j copies of i*100+j to rank j.
    let scounts: Vec<usize> = (0..size).collect();
    let sdispls = offsets(&scounts);
    let sbuf: Vec<i32> = (0..size)
        .flat_map(|j| std::iter::repeat_n((me * 100 + j) as i32, j))
        .collect();
    let rcounts = vec![me; size];
    let rdispls = offsets(&rcounts);
    let mut rbuf = vec![0i32; me * size];
    w.all_to_allv_buf((&sbuf, &scounts, &sdispls), (&mut rbuf, &rcounts, &rdispls))?;
    let want: Vec<i32> = (0..size)
        .flat_map(|i| std::iter::repeat_n((i * 100 + me) as i32, me))
        .collect();
    ensure(rbuf == want, || format!("Alltoallv {rbuf:?}"))?;
    Ok(())
}

// ----- the tutorial's programs --------------------------------------------

/// Computing pi by the midpoint rule: n broadcast from a root, each rank
/// sums its strided share, reduce on the root.
fn pi(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let root = size / 2;
    let n: u64 = w.bcast(root, (me == root).then_some(100_000u64))?;
    let h = 1.0 / n as f64;
    let f = |i: u64| {
        let x = h * (i as f64 + 0.5);
        4.0 / (1.0 + x * x)
    };
    let part: f64 = (me as u64..n).step_by(size).map(f).sum::<f64>() * h;
    let pi = w.reduce(root, part, Op::Sum)?;
    let serial: f64 = (0..n).map(f).sum::<f64>() * h;
    if me == root {
        let pi = pi.ok_or("no pi on the root")?;
        ensure((pi - serial).abs() < 1e-12, || {
            format!("pi {pi} serial {serial}")
        })?;
    } else {
        ensure(pi.is_none(), || format!("{pi:?} off the root"))?;
    }
    // The same on every rank, and by all_reduce_with (folded in rank
    // order, so equal to the rank-ordered serial sum of the parts).
    let all = w.all_reduce_with(part, |a, b| a + b)?;
    let parts: Vec<f64> = (0..size)
        .map(|r| (r as u64..n).step_by(size).map(f).sum::<f64>() * h)
        .collect();
    let folded = parts.iter().copied().reduce(|a, b| a + b).unwrap_or(0.0);
    ensure(all.to_bits() == folded.to_bits(), || {
        format!("all_reduce_with {all} folded {folded}")
    })
}

/// The tutorial's matrix-vector product: rows of A and parts of x spread
/// unevenly, x gathered with Allgatherv, y = A x compared with the serial
/// product.
fn matvec(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let n = 2 * size + 1; // uneven, and the last rank gets fewer
    let a = |i: usize, j: usize| ((i * 7 + j * 3) % 11) as f64 - 5.0;
    let x = |j: usize| j as f64 + 1.0;
    let (counts, displs) = split_counts(n, size);
    let rows = displs[me]..displs[me] + counts[me];
    let x_local: Vec<f64> = rows.clone().map(x).collect();
    let mut x_full = vec![0.0; n];
    w.all_gatherv_buf(&x_local, (&mut x_full, &counts, &displs))?;
    let y_local: Vec<f64> = rows
        .map(|i| (0..n).map(|j| a(i, j) * x_full[j]).sum())
        .collect();
    let mut y = vec![0.0; n];
    w.all_gatherv_buf(&y_local, (&mut y, &counts, &displs))?;
    let serial: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| a(i, j) * x(j)).sum())
        .collect();
    ensure(y == serial, || format!("A x: {y:?}, serial {serial:?}"))
}

/// Sub-communicators by split: odd and even ranks, ordered backwards by
/// key, the last rank of 3 or more joining none; sums within each.
fn split(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let color = (size < 3 || me != size - 1).then_some((me % 2) as u32);
    let sub = w.split(color, -(me as i32))?;
    let members: Vec<usize> = (0..size)
        .filter(|&r| (size < 3 || r != size - 1) && r % 2 == me % 2)
        .rev()
        .collect();
    match sub {
        None => ensure(color.is_none(), || "no communicator with a color".into())?,
        Some(sub) => {
            ensure(color.is_some(), || "a communicator without a color".into())?;
            ensure(sub.size() == members.len(), || {
                format!("size {} members {members:?}", sub.size())
            })?;
            let pos = members
                .iter()
                .position(|&r| r == me)
                .ok_or("not a member")?;
            ensure(sub.rank() == pos, || format!("sub rank {}", sub.rank()))?;
            let sum = sub.all_reduce(me as u64, Op::Sum)?;
            let serial: u64 = members.iter().map(|&r| r as u64).sum();
            ensure(sum == serial, || format!("sum {sum} serial {serial}"))?;
            let who: Vec<usize> = sub.allgather(&me)?;
            ensure(who == members, || format!("allgather {who:?}"))?;
            // A world rank out of the sub-communicator's range.
            if members.len() < size {
                let e = expect_err(sub.recv::<u8>(members.len(), 0), "recv past the sub size")?;
                ensure(matches!(e, Error::NoSuchRank { .. }), || e.to_string())?;
            }
        }
    }
    // The world still works, and a duplicate's messages stay apart.
    let dup = w.dup()?;
    let right = (me + 1) % size;
    let left = (me + size - 1) % size;
    let a = w.isend(&1u8, right, 9)?;
    let b = dup.isend(&2u8, right, 9)?;
    let on_dup: u8 = dup.recv(left, 9)?;
    let on_world: u8 = w.recv(left, 9)?;
    a.wait()?;
    b.wait()?;
    ensure((on_world, on_dup) == (1, 2), || {
        format!("world {on_world}, dup {on_dup}")
    })
}

/// A 2-D Cartesian grid, periodic in the first dimension: coordinates,
/// shifts and a halo exchange, checked against the serial layout.
fn cart(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let dims = dims_create(size, &[0, 0])?;
    ensure(dims.iter().product::<usize>() == size, || {
        format!("dims {dims:?}")
    })?;
    let cart = w.create_cart(&dims, &[true, false], false)?;
    let coords = cart.coords(cart.rank())?;
    let serial = vec![me / dims[1], me % dims[1]];
    ensure(coords == serial, || format!("coords {coords:?}"))?;
    let (up, down) = cart.shift(0, 1)?;
    let want_up = (coords[0] + dims[0] - 1) % dims[0] * dims[1] + coords[1];
    let want_down = (coords[0] + 1) % dims[0] * dims[1] + coords[1];
    ensure(up == Some(want_up) && down == Some(want_down), || {
        format!("shift 0: {up:?} {down:?}")
    })?;
    let (left, right) = cart.shift(1, 1)?;
    let edge_l = (coords[1] > 0).then(|| me - 1);
    let edge_r = (coords[1] + 1 < dims[1]).then_some(me + 1);
    ensure(left == edge_l && right == edge_r, || {
        format!("shift 1: {left:?} {right:?}")
    })?;
    // Halo exchange along the periodic dimension.
    let mut halo = [0.0f64; 4];
    cart.sendrecv_buf(&[me as f64; 4], want_down, 0, &mut halo, want_up, 0)?;
    ensure(halo == [want_up as f64; 4], || format!("halo {halo:?}"))?;
    let wrapped = cart.rank_of(&[coords[0] as isize - 1, coords[1] as isize])?;
    ensure(wrapped == want_up, || format!("rank_of wraps to {wrapped}"))?;
    let off = expect_err(cart.rank_of(&[0, dims[1] as isize]), "off the edge")?;
    ensure(matches!(off, Error::Argument { .. }), || off.to_string())?;
    let bad = expect_err(cart.shift(2, 1), "direction 2 of a 2-D grid")?;
    ensure(matches!(bad, Error::Argument { .. }), || bad.to_string())
}

/// Probing messages of unknown sizes: each rank sends rank 0 an array
/// whose length only it knows (0, small, over 1 MiB), and an object;
/// rank 0 probes, allocates and receives.
fn probe(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let len = |r: usize| match r % 4 {
        0 => 0,
        1 => 3,
        2 => 200_000, // 1.6 MB
        _ => 1 << 17, // exactly 1 MiB of f64
    };
    let data = |r: usize| (0..len(r)).map(|i| (i * r) as f64).collect::<Vec<f64>>();
    if me != 0 {
        w.send_buf(&data(me), 0, 21)?;
        w.send(&data(me + 1), 0, 22)?;
        return Ok(());
    }
    for _ in 1..size {
        let st = w.probe_buf::<f64>(ANY_SOURCE, 21)?;
        let mut buf = vec![0.0f64; st.count()];
        let got = w.recv_buf(&mut buf, st.source(), 21)?;
        ensure(
            got.source() == st.source() && buf == data(st.source()),
            || format!("probed {} elements from {}", st.count(), st.source()),
        )?;
    }
    for _ in 1..size {
        let st = w.probe(ANY_SOURCE, 22)?;
        let (v, got): (Vec<f64>, _) = w.recv_status(st.source(), 22)?;
        ensure(got.count() == st.count(), || {
            format!("probe says {} bytes, recv {}", st.count(), got.count())
        })?;
        ensure(v == data(st.source() + 1), || {
            format!("object from {}", st.source())
        })?;
    }
    ensure(w.iprobe(ANY_SOURCE, ANY_TAG)?.is_none(), || {
        "a message left over".into()
    })
}

// ----- the classic examples -----------------------------------------------

/// A token around the ring, each rank adding its rank; then a ring shift
/// by sendrecv.
fn ring(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    for round in 0..3u64 {
        let token: u64 = if me == 0 {
            w.send(&round, right, 0)?;
            w.recv(left, 0)?
        } else {
            let t: u64 = w.recv(left, 0)?;
            w.send(&(t + me as u64), right, 0)?;
            t
        };
        let serial_before: u64 = round + (0..me as u64).sum::<u64>();
        let serial_all: u64 = round + (0..size as u64).sum::<u64>();
        let want = if me == 0 { serial_all } else { serial_before };
        ensure(token == want, || {
            format!("round {round}: token {token}, want {want}")
        })?;
    }
    let got: Vec<usize> = w.sendrecv(&vec![me; me + 1], right, 1, left, 1)?;
    ensure(got == vec![left; left + 1], || format!("sendrecv {got:?}"))
}

/// Ping-pong between ranks 0 and 1 of sizes 0 to 4 MiB, on both paths;
/// the bytes come back unchanged.
fn pingpong(w: &Comm) -> Res {
    let me = w.rank();
    if w.size() < 2 || me > 1 {
        return Ok(());
    }
    let other = 1 - me;
    for n in [
        0usize,
        1,
        1000,
        (1 << 20) - 1,
        1 << 20,
        (1 << 20) + 1,
        4 << 20,
    ] {
        let msg: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        for _ in 0..3 {
            if me == 0 {
                w.send(&msg, other, 1)?;
                let back: Vec<u8> = w.recv(other, 1)?;
                ensure(back == msg, || format!("object ping-pong of {n} bytes"))?;
                w.send_buf(&msg, other, 2)?;
                let mut buf = vec![0u8; n];
                let st = w.recv_buf(&mut buf, other, 2)?;
                ensure(buf == msg && st.count() == n, || {
                    format!("buffer ping-pong of {n} bytes")
                })?;
            } else {
                let v: Vec<u8> = w.recv(other, 1)?;
                w.send(&v, other, 1)?;
                let mut buf = vec![0u8; n];
                w.recv_buf(&mut buf, other, 2)?;
                w.send_buf(&buf, other, 2)?;
            }
        }
    }
    Ok(())
}

const WORK: i32 = 1;
const RESULT: i32 = 2;
const STOP: i32 = 3;

fn task(i: u64) -> (u64, String) {
    (i * i + 1, format!("task {i}"))
}

/// The master/worker farm: rank 0 hands tasks to whichever worker answers
/// (`ANY_SOURCE`), then a stop tag to each; results equal the serial map.
fn taskfarm(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let n_tasks = 37u64;
    let serial: Vec<(u64, String)> = (0..n_tasks).map(task).collect();
    if size == 1 {
        let got: Vec<_> = (0..n_tasks).map(task).collect();
        return ensure(got == serial, || "alone".into());
    }
    let done = if me == 0 {
        let mut next = 0u64;
        let mut results: Vec<Option<(u64, String)>> = vec![None; n_tasks as usize];
        let mut busy = 0;
        for r in 1..size {
            if next < n_tasks {
                w.send(&next, r, WORK)?;
                next += 1;
                busy += 1;
            } else {
                w.send(&(), r, STOP)?;
            }
        }
        while busy > 0 {
            let ((i, v), st): ((u64, (u64, String)), _) = w.recv_status(ANY_SOURCE, RESULT)?;
            busy -= 1;
            ensure(results[i as usize].is_none(), || format!("task {i} twice"))?;
            results[i as usize] = Some(v);
            if next < n_tasks {
                w.send(&next, st.source(), WORK)?;
                next += 1;
                busy += 1;
            } else {
                w.send(&(), st.source(), STOP)?;
            }
        }
        let got: Vec<(u64, String)> = results.into_iter().flatten().collect();
        ensure(got == serial, || format!("farm: {} results", got.len()))?;
        0u64
    } else {
        let mut done = 0u64;
        loop {
            let st = w.probe(0, ANY_TAG)?;
            if st.tag() == STOP {
                let () = w.recv(0, STOP)?;
                break;
            }
            let i: u64 = w.recv(0, WORK)?;
            w.send(&(i, task(i)), 0, RESULT)?;
            done += 1;
        }
        done
    };
    let total = w.all_reduce(done, Op::Sum)?;
    ensure(total == n_tasks, || {
        format!("the workers did {total} tasks")
    })
}

/// The sum of a large array cut into uneven chunks (some empty) by
/// Scatterv from a root that is not rank 0, then Reduce; equal to the
/// serial sum.
fn parallel_sum(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let root = size - 1;
    let n = 1_000_003usize;
    let full: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 10_007 - 5000).collect();
    // The root keeps nothing, the rest go as numpy.array_split cuts them.
    let (mut counts, _) = split_counts(n, size.saturating_sub(1).max(1));
    if size > 1 {
        counts.push(0);
    }
    let displs = offsets(&counts);
    let mut mine = vec![0i64; counts[me]];
    let send = (me == root).then(|| (&full[..], &counts[..], &displs[..]));
    w.scatterv_buf(root, send, &mut mine)?;
    let part: i64 = mine.iter().sum();
    let total = w.reduce(root, part, Op::Sum)?;
    let serial: i64 = full.iter().sum();
    if me == root {
        ensure(total == Some(serial), || {
            format!("sum {total:?}, serial {serial}")
        })?;
    }
    let everywhere = w.all_reduce(part, Op::Sum)?;
    ensure(everywhere == serial, || format!("all_reduce {everywhere}"))
}

// ----- the edges ------------------------------------------------------------

/// What a user gets wrong: types and counts that differ between sender and
/// receiver, ranks out of range, roots that refuse; each a clear error,
/// and the next message still arrives.
fn mismatch(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    // Object path: a Vec<f64> received as a String.
    w.send(&vec![1.0f64, 2.0], right, 1)?;
    let e = expect_err(w.recv::<String>(left, 1), "Vec<f64> received as String")?;
    let text = e.to_string();
    ensure(
        matches!(&e, Error::WrongType { from, rank, .. } if *from == left && *rank == me)
            && text.contains("f64")
            && text.contains("String")
            && text.contains(&format!("rank {left}")),
        || text.clone(),
    )?;
    w.send(&7u32, right, 1)?;
    let next: u32 = w.recv(left, 1)?;
    ensure(next == 7, || format!("after a wrong type: {next}"))?;
    // Same through irecv.
    w.send(&("a".to_owned(), 1u8), right, 2)?;
    let e = expect_err(w.irecv::<(u8, String)>(left, 2)?.wait(), "irecv wrong type")?;
    ensure(matches!(e, Error::WrongType { .. }), || e.to_string())?;
    // Buffer path: more elements than the receive buffer holds.
    w.send_buf(&[1.0f64; 10], right, 3)?;
    let mut small = [0.0f64; 5];
    let e = expect_err(w.recv_buf(&mut small, left, 3), "10 f64 into 5")?;
    let text = e.to_string();
    ensure(
        matches!(&e, Error::Mismatch { from, .. } if *from == left),
        || text.clone(),
    )?;
    // No whole number of elements: 3 bytes into f64s.
    w.send_buf(&[1u8, 2, 3], right, 3)?;
    let mut f = [0.0f64; 4];
    let e = expect_err(w.recv_buf(&mut f, left, 3), "3 bytes into f64")?;
    ensure(matches!(e, Error::Mismatch { .. }), || e.to_string())?;
    // The object path's message received on the buffer path, and the
    // reverse: an error, not garbage.
    w.send(&vec![1.0f64; 4], right, 4)?;
    let mut buf = [0.0f64; 64];
    let r = w.recv_buf(&mut buf, left, 4);
    ensure(r.is_err(), || {
        format!("an object message read as f64s: {r:?}")
    })?;
    w.send_buf(&[2.5f64; 4], right, 5)?;
    // The error names the sender, on both backends.
    let e = expect_err(w.recv::<Vec<f64>>(left, 5), "a buffer read as an object")?;
    ensure(e.to_string().contains(&format!("from rank {left}")), || {
        format!("a buffer read as an object, the sender unnamed: {e}")
    })?;
    w.send_buf(&[9i32; 2], right, 6)?;
    let mut ok = [0i32; 2];
    w.recv_buf(&mut ok, left, 6)?;
    ensure(ok == [9, 9], || format!("after mismatches: {ok:?}"))?;
    // Ranks and tags out of range, on every call that names one.
    let no_rank = |r: Result<(), Error>, what: &str| -> Res {
        let e = expect_err(r, what)?;
        ensure(
            matches!(&e, Error::NoSuchRank { target, size: s, .. } if *target == size && *s == size),
            || format!("{what}: {e}"),
        )
    };
    no_rank(w.recv::<u8>(size, 0).map(drop), "recv from rank size")?;
    no_rank(w.send(&1u8, size, 0), "send to rank size")?;
    no_rank(w.irecv::<u8>(size, 0).map(drop), "irecv")?;
    no_rank(w.recv_buf(&mut [0u8; 1], size, 0).map(drop), "recv_buf")?;
    no_rank(w.probe(size, 0).map(drop), "probe")?;
    no_rank(w.bcast(size, Some(1u8)).map(drop), "bcast root")?;
    no_rank(w.gather(size, &1u8).map(drop), "gather root")?;
    no_rank(w.reduce(size, 1u8, Op::Sum).map(drop), "reduce root")?;
    let e = expect_err(w.send(&1u8, right, -1), "tag -1")?;
    ensure(matches!(e, Error::Tag { tag: -1, .. }), || e.to_string())?;
    // A root that passes no value, or a list of another length: every rank
    // gets an error, the others naming the root.
    let root = size - 1;
    let e = expect_err(w.bcast::<u8>(root, None), "bcast with no value")?;
    ensure(e.to_string().contains(&format!("rank {root}")), || {
        e.to_string()
    })?;
    let list = (me == root).then(|| vec![1u8; size + 1]);
    let e = expect_err(w.scatter(root, list), "scatter of size+1 values")?;
    ensure(e.to_string().contains(&format!("rank {root}")), || {
        e.to_string()
    })?;
    // Ranks that reduce values of different types.
    let r = if me == 0 {
        w.all_reduce_with(1.5f64, |a, b| a + b).map(|_| ())
    } else {
        w.all_reduce_with(1u64, |a, b| a + b).map(|_| ())
    };
    if size > 1 {
        let e = expect_err(r, "all_reduce_with of f64 and u64")?;
        ensure(matches!(e, Error::WrongType { .. }), || e.to_string())?;
    }
    // A root's Gather buffer of the wrong size, on a communicator of this
    // rank alone (on the world, the other ranks would send their parts
    // into a collective the root refused: as in MPI, the job must end).
    let alone = w.split(Some(me as u32), 0)?.ok_or("no communicator")?;
    let mut out = [0u32; 2];
    let e = expect_err(
        alone.gather_buf(0, &[1u32], Some(&mut out[..])),
        "Gather into 2",
    )?;
    ensure(
        matches!(
            e,
            Error::Length {
                got: 2,
                expected: 1,
                ..
            }
        ),
        || e.to_string(),
    )?;
    // Everything still works afterwards.
    w.barrier()?;
    let s = w.all_reduce(1u32, Op::Sum)?;
    ensure(s as usize == size, || format!("after the errors: {s}"))
}

/// Zero-length messages and arrays on every path, and values over 1 MiB.
fn edges(w: &Comm) -> Res {
    let (me, size) = (w.rank(), w.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    let root = size - 1;
    // Empty on the object path.
    w.send(&Vec::<f64>::new(), right, 1)?;
    w.send("", right, 1)?;
    let v: Vec<f64> = w.recv(left, 1)?;
    let s: String = w.recv(left, 1)?;
    ensure(v.is_empty() && s.is_empty(), || "empty objects".into())?;
    // Empty on the buffer path.
    w.send_buf::<f64>(&[], right, 2)?;
    let st = w.recv_buf::<f64>(&mut [], left, 2)?;
    ensure(st.count() == 0, || {
        format!("empty buffer count {}", st.count())
    })?;
    w.send_buf::<f64>(&[], right, 2)?;
    let mut big = [7.0f64; 8];
    let st = w.recv_buf(&mut big, left, 2)?;
    ensure(st.count() == 0 && big == [7.0; 8], || "empty into 8".into())?;
    // Empty collectives.
    let e: Vec<u8> = w.bcast(root, (me == root).then(Vec::new))?;
    ensure(e.is_empty(), || "bcast of empty".into())?;
    let mut nothing: [f64; 0] = [];
    w.bcast_buf(root, &mut nothing)?;
    w.all_reduce_buf::<f64>(&[], &mut [], Op::Sum)?;
    let mut g: Vec<f64> = Vec::new();
    w.all_gather_buf::<f64>(&[], &mut g)?;
    w.gather_buf::<f64>(root, &[], (me == root).then_some(&mut [][..]))?;
    w.scatter_buf::<f64>(root, (me == root).then_some(&[][..]), &mut [])?;
    let parts: Vec<String> = w.alltoall(vec![String::new(); size])?;
    ensure(parts.iter().all(String::is_empty), || {
        "alltoall of empty".into()
    })?;
    let all: Vec<Vec<u8>> = w.allgather(&Vec::new())?;
    ensure(all.len() == size && all.iter().all(Vec::is_empty), || {
        "allgather of empty".into()
    })?;
    let got: Vec<u8> = w.scatter(root, (me == root).then(|| vec![Vec::new(); size]))?;
    ensure(got.is_empty(), || "scatter of empty".into())?;
    // Over 1 MiB, each path; the root not rank 0.
    let mb = |k: usize| {
        (0..(3 << 17) + k)
            .map(|i| (i ^ k) as f64)
            .collect::<Vec<f64>>()
    };
    // (Every rank sending first, then receiving, would wait forever past
    // the eager limit, as in MPI: sendrecv is the exchange.)
    let v: Vec<f64> = w.sendrecv(&mb(me), right, 3, left, 3)?;
    ensure(v == mb(left), || "3 MiB object".into())?;
    let text = "é".repeat(600_000);
    let t: String = w.bcast(root, (me == root).then(|| text.clone()))?;
    ensure(t == text, || "1.2 MB string bcast".into())?;
    let mut b = if me == root {
        mb(7)
    } else {
        vec![0.0; mb(7).len()]
    };
    w.bcast_buf(root, &mut b)?;
    ensure(b == mb(7), || "3 MiB Bcast".into())?;
    let gathered = w.gather(root, &mb(me))?;
    if me == root {
        let g = gathered.ok_or("no gather on the root")?;
        ensure(g == (0..size).map(mb).collect::<Vec<_>>(), || {
            "3 MiB gather".into()
        })?;
    }
    let all = w.allgather(&(me, vec![me as u8; 1 << 20]))?;
    ensure(
        all.iter()
            .enumerate()
            .all(|(r, (x, v))| *x == r && v.len() == 1 << 20 && v.iter().all(|&b| b == r as u8)),
        || "1 MiB allgather".into(),
    )?;
    let mut sum = vec![0.0f64; 1 << 18];
    w.all_reduce_buf(&vec![me as f64; 1 << 18], &mut sum, Op::Sum)?;
    let serial: f64 = (0..size).map(|r| r as f64).sum();
    ensure(sum.iter().all(|&x| x == serial), || {
        "2 MiB Allreduce".into()
    })
}
