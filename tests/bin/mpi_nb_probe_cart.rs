//! Nonblocking collectives, probes and Cartesian topologies, each checked
//! against a serial computation, on real MPI and in a local world.
//!
//! ```text
//! mpi_nb_probe_cart             # under mpirun -n N (N = 1, 2, 4, …)
//! mpi_nb_probe_cart local N     # the same in a local world of N ranks
//! ```
//!
//! Each rank prints `rank R of N: ok` when all its checks passed;
//! tests/nb_probe_cart.rs runs it under deadlines.

use parallel_runtime::mpi::{dims_create, local, Error, ANY_SOURCE, ANY_TAG};
use parallel_runtime::prelude::*;
use parallel_tests::{ensure, expect_err as err};

type Res = Result<(), Box<dyn std::error::Error>>;

#[mpi_main]
fn main(world: Comm) -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("local") {
        let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2);
        let outs = local::run(n, |w| run(&w).map_err(|e| e.to_string()));
        for (r, out) in outs.into_iter().enumerate() {
            out.map_err(|e| format!("local rank {r}: {e}"))?;
            println!("local rank {r} of {n}: ok");
        }
        return Ok(());
    }
    run(&world)?;
    println!(
        "rank {} of {}: ok (mpi: {})",
        world.rank(),
        world.size(),
        world.is_mpi()
    );
    Ok(())
}

fn run(w: &Comm) -> Res {
    nonblocking(w)?;
    dropped_in_flight(w)?;
    nonblocking_errors(w)?;
    probes(w)?;
    probe_errors(w)?;
    cartesian(w)?;
    cartesian_errors(w)?;
    #[cfg(feature = "mpi")]
    if w.is_mpi() {
        against_mpi(w)?;
    }
    w.barrier()?;
    Ok(())
}

/// A send or a nonblocking collective dropped in flight waits for it as
/// `wait` does, and posted receives take their messages meanwhile (before,
/// the drop's wait was MPI's own, and both exchanges below hung): around a
/// ring, each rank posts a receive of 1 MiB from the left, sends 1 MiB to
/// the right and drops the send; then rank 0 posts a receive from rank 1
/// and drops an `ibarrier`, while rank 1 sends it 1 MiB before its own.
fn dropped_in_flight(w: &Comm) -> Res {
    let (r, n) = (w.rank(), w.size());
    let len = 1 << 17;
    let (left, right) = ((r + n - 1) % n, (r + 1) % n);
    let recv = w.irecv_buf(vec![0.0f64; len], left, 50)?;
    drop(w.isend_buf(vec![r as f64; len], right, 50)?);
    let (got, _) = recv.wait()?;
    ensure(got.iter().all(|&x| x == left as f64), || {
        format!("from rank {left}: {:?}", &got[..2])
    })?;
    if n < 2 {
        return Ok(());
    }
    match r {
        0 => {
            let recv = w.irecv_buf(vec![0.0f64; len], 1, 51)?;
            drop(w.ibarrier()?);
            let (got, _) = recv.wait()?;
            ensure(got.iter().all(|&x| x == 7.0), || format!("{:?}", &got[..2]))?;
        }
        1 => {
            w.send_buf(&vec![7.0f64; len], 0, 51)?;
            w.ibarrier()?.wait()?;
        }
        _ => w.ibarrier()?.wait()?,
    }
    Ok(())
}

/// Each nonblocking collective against the serial result, several in
/// flight at once, completed out of order, around blocking collectives.
fn nonblocking(w: &Comm) -> Res {
    let (r, n) = (w.rank(), w.size());
    // An ibarrier cannot complete before every rank started it: the other
    // ranks start theirs only after a message that rank 0 sends after
    // testing its own.
    if r == 0 {
        let mut bar = w.ibarrier()?;
        if n > 1 {
            ensure(bar.test()?.is_none(), || {
                "ibarrier completed before the other ranks started it".into()
            })?;
        }
        for dest in 1..n {
            w.send_buf(&[1u8], dest, 40)?;
        }
        bar.wait()?;
    } else {
        let mut go = [0u8];
        w.recv_buf(&mut go, 0, 40)?;
        w.ibarrier()?.wait()?;
    }

    // ibcast with a blocking collective between start and wait.
    let root = n - 1;
    let len = 5;
    let serial: Vec<f64> = (0..len).map(|i| 1.5 * i as f64 + root as f64).collect();
    let buf = if r == root {
        serial.clone()
    } else {
        vec![0.0; len]
    };
    let bcast = w.ibcast_buf(root, buf)?;
    let total = w.all_reduce(r as u64 + 1, Op::Sum)?;
    ensure(total == (n * (n + 1) / 2) as u64, || {
        format!("all_reduce {total}")
    })?;
    let got = bcast.wait()?;
    ensure(got == serial, || {
        format!("ibcast_buf: {got:?}, expected {serial:?}")
    })?;

    // Two in flight, waited on in the reverse order.
    let mine: Vec<i64> = (0..4).map(|i| (r as i64 + 1) * (i + 1)).collect();
    let sum = w.iall_reduce_buf(mine.clone(), Op::Sum)?;
    let gather_root = n / 2;
    let recv = (r == gather_root).then(|| vec![0i64; 4 * n]);
    let gather = w.igather_buf(gather_root, mine.clone(), recv)?;
    let max = w.iall_reduce_buf(vec![r as f64, -(r as f64)], Op::Max)?;
    let gathered = gather.wait()?;
    let maxed = max.wait()?;
    let summed = sum.wait()?;
    let ranks_sum = (n * (n + 1) / 2) as i64;
    let serial_sum: Vec<i64> = (0..4).map(|i| ranks_sum * (i + 1)).collect();
    ensure(summed == serial_sum, || {
        format!("iall_reduce_buf: {summed:?} != {serial_sum:?}")
    })?;
    ensure(maxed == [(n - 1) as f64, 0.0], || format!("max: {maxed:?}"))?;
    if r == gather_root {
        let serial: Vec<i64> = (0..n as i64)
            .flat_map(|q| (0..4).map(move |i| (q + 1) * (i + 1)))
            .collect();
        ensure(gathered.as_deref() == Some(&serial[..]), || {
            format!("igather_buf: {gathered:?}")
        })?;
    } else {
        ensure(gathered.is_none(), || "igather_buf off the root".into())?;
    }

    // test() until done, then the request is spent.
    let mut req = w.iall_reduce_buf(vec![1u32], Op::Sum)?;
    let got = loop {
        if let Some(v) = req.test()? {
            break v;
        }
        std::thread::yield_now();
    };
    ensure(got == [n as u32], || {
        format!("tested iall_reduce_buf: {got:?}")
    })?;
    let e = err(req.test(), "a spent collective request")?;
    ensure(
        matches!(
            e,
            Error::RequestSpent {
                op: "iall_reduce_buf",
                ..
            }
        ),
        || e.to_string(),
    )?;

    // A request dropped in flight, then more collectives.
    drop(w.ibcast_buf(0, vec![r as u16; 3])?);
    let got = w.ibcast_buf(0, vec![r as u16 + 7; 2])?.wait()?;
    ensure(got == [7, 7], || {
        format!("after a dropped request: {got:?}")
    })?;
    Ok(())
}

/// Bad arguments of nonblocking collectives are errors before anything
/// starts.
fn nonblocking_errors(w: &Comm) -> Res {
    let n = w.size();
    let e = err(w.ibcast_buf(n, vec![0u8]), "ibcast_buf to a rank beyond")?;
    ensure(matches!(e, Error::NoSuchRank { .. }), || e.to_string())?;
    let e = err(
        w.igather_buf(n + 1, vec![0u8], None),
        "igather_buf to a rank beyond",
    )?;
    ensure(matches!(e, Error::NoSuchRank { .. }), || e.to_string())?;
    if w.rank() == 0 {
        // Only the root checks its receive buffer; the others start nothing.
        let e = err(
            w.igather_buf(0, vec![1u8; 2], Some(vec![0u8; 3])),
            "short recv",
        )?;
        ensure(
            e.to_string()
                .contains("`igather_buf`: the root's receive buffer has 3"),
            || e.to_string(),
        )?;
        let e = err(w.igather_buf(0, vec![1u8; 2], None), "no recv")?;
        ensure(matches!(e, Error::RootValueMissing { .. }), || {
            e.to_string()
        })?;
    }
    if !w.is_mpi() && n > 1 {
        out_of_order(w)?;
    }
    Ok(())
}

/// Rank 0 starts an ibcast then an iallreduce, the others the reverse:
/// erroneous in MPI, which does not check (the job hangs). The local
/// world's ranks used to take one collective's data for the other's
/// (`Ok([1, 1])` from the ibcast); now the ranks that receive another
/// collective's part say so.
fn out_of_order(w: &Comm) -> Res {
    if w.rank() == 0 {
        let a = w.ibcast_buf(0, vec![5u64; 2])?;
        let b = w.iall_reduce_buf(vec![1u64; 2], Op::Sum)?;
        ensure(a.wait()? == [5, 5], || "the root's ibcast".into())?;
        // No rank sends it the parts it waits for: never complete it
        // (dropping it would wait).
        std::mem::forget(b);
        return Ok(());
    }
    let b = w.iall_reduce_buf(vec![1u64; 2], Op::Sum)?;
    let a = w.ibcast_buf(0, vec![0u64; 2])?;
    for (got, mine, theirs) in [
        (
            b.wait().map(|_| ()),
            "`iall_reduce_buf`",
            "`ibcast_buf` with root 0",
        ),
        (
            a.wait().map(|_| ()),
            "`ibcast_buf` with root 0",
            "`iall_reduce_buf`",
        ),
    ] {
        let e = err(got, "collectives started in another order")?;
        let text = e.to_string();
        ensure(
            matches!(e, Error::Argument { .. })
                && text.contains(&format!("rank 0 started {theirs}"))
                && text.contains(&format!("this rank {mine}")),
            || text.clone(),
        )?;
    }
    Ok(())
}

/// Probes report the message that the next receive gets, with its count in
/// bytes or elements, and respect the receives posted before them.
fn probes(w: &Comm) -> Res {
    let (r, n) = (w.rank(), w.size());
    let (next, prev) = ((r + 1) % n, (r + n - 1) % n);
    // The receive posted before the messages arrive takes the first.
    let early = w.irecv_buf(vec![0.0f64; 8], prev, 7)?;
    let data: Vec<f64> = (0..r + 3).map(|i| (i * 10 + r) as f64).collect();
    w.send_buf(&data[..2], next, 7)?;
    w.send_buf(&data, next, 7)?;
    w.send_buf(&[r as u8; 3], next, 8)?;
    w.send(&format!("from {r}"), next, 9)?;

    let want: Vec<f64> = (0..prev + 3).map(|i| (i * 10 + prev) as f64).collect();
    let st = w.probe_buf::<f64>(prev, 7)?;
    ensure(
        st.source() == prev && st.tag() == 7 && st.count() == want.len(),
        || format!("probe_buf skips the message of the posted irecv: {st:?}"),
    )?;
    let mut buf = vec![0.0; st.count()];
    let got = w.recv_buf(&mut buf, st.source(), st.tag())?;
    ensure(got.count() == want.len() && buf == want, || {
        format!("{buf:?}")
    })?;
    let (early, est) = early.wait()?;
    let est = est.ok_or("a receive has a status")?;
    ensure(est.count() == 2 && early[..2] == want[..2], || {
        format!("the posted irecv: {early:?}")
    })?;

    // Bytes, elements, and a type that does not fit: the message stays.
    let st = w.probe(ANY_SOURCE, 8)?;
    ensure(st.count() == 3 && st.source() == prev, || format!("{st:?}"))?;
    let e = err(w.probe_buf::<f64>(prev, 8), "3 bytes as f64")?;
    ensure(
        matches!(e, Error::Mismatch { .. }) && e.to_string().contains("the message stays"),
        || e.to_string(),
    )?;
    let st = w
        .iprobe_buf::<u8>(prev, 8)?
        .ok_or("iprobe_buf found nothing")?;
    ensure(st.count() == 3, || format!("{st:?}"))?;
    let mut three = [0u8; 3];
    w.recv_buf(&mut three, prev, 8)?;
    ensure(three == [prev as u8; 3], || format!("{three:?}"))?;

    // The object path: probe, then receive what it found.
    let st = w.probe(prev, ANY_TAG)?;
    ensure(st.tag() == 9 && st.count() > 0, || format!("{st:?}"))?;
    let s: String = w.recv(st.source(), st.tag())?;
    ensure(s == format!("from {prev}"), || s.clone())?;
    w.barrier()?;
    // Nothing is left for this rank.
    let left = w.iprobe(ANY_SOURCE, ANY_TAG)?;
    ensure(left.is_none(), || format!("iprobe found {left:?}"))?;
    w.barrier()?;
    Ok(())
}

fn probe_errors(w: &Comm) -> Res {
    let n = w.size();
    let e = err(w.iprobe(n, 0), "iprobe of a rank beyond")?;
    ensure(matches!(e, Error::NoSuchRank { .. }), || e.to_string())?;
    let e = err(w.iprobe_buf::<f64>(ANY_SOURCE, -1), "a negative tag")?;
    ensure(matches!(e, Error::Tag { .. }), || e.to_string())?;
    Ok(())
}

/// Row-major coordinates, computed here.
fn serial_coords(mut rank: usize, dims: &[usize]) -> Vec<usize> {
    let mut c = vec![0; dims.len()];
    for i in (0..dims.len()).rev() {
        c[i] = rank % dims[i];
        rank /= dims[i];
    }
    c
}

fn serial_rank(c: &[usize], dims: &[usize]) -> usize {
    c.iter().zip(dims).fold(0, |r, (&x, &d)| r * d + x)
}

/// The neighbour `disp` away along `dir`, computed here.
fn serial_neighbour(
    rank: usize,
    dims: &[usize],
    periods: &[bool],
    dir: usize,
    disp: isize,
) -> Option<usize> {
    let mut c = serial_coords(rank, dims);
    let d = dims[dir] as isize;
    let x = c[dir] as isize + disp;
    let x = if periods[dir] {
        x.rem_euclid(d)
    } else if (0..d).contains(&x) {
        x
    } else {
        return None;
    };
    c[dir] = x as usize;
    Some(serial_rank(&c, dims))
}

fn cartesian(w: &Comm) -> Res {
    let n = w.size();
    for (i, &(ask, want)) in [(&[0, 0][..], 2), (&[0, 0, 0][..], 3), (&[0][..], 1)]
        .iter()
        .enumerate()
    {
        let dims = dims_create(n, ask)?;
        ensure(
            dims.len() == want && dims.iter().product::<usize>() == n,
            || format!("dims_create({n}, {ask:?}) = {dims:?}"),
        )?;
        ensure(dims.windows(2).all(|p| p[0] >= p[1]), || {
            format!("{dims:?}")
        })?;
        let periods: Vec<bool> = (0..dims.len()).map(|d| (d + i) % 2 == 0).collect();
        let cart = w.create_cart(&dims, &periods, i == 1)?;
        ensure(cart.size() == n && cart.dims() == dims, || {
            format!("{cart:?}")
        })?;
        for q in 0..n {
            let c = cart.coords(q)?;
            ensure(c == serial_coords(q, &dims), || {
                format!("coords({q}) = {c:?}")
            })?;
            let back: Vec<isize> = c.iter().map(|&x| x as isize).collect();
            ensure(cart.rank_of(&back)? == q, || format!("rank_of({c:?})"))?;
        }
        let me = cart.rank();
        for dir in 0..dims.len() {
            for disp in [-2isize, -1, 0, 1, 3] {
                let got = cart.shift(dir, disp)?;
                let want = (
                    serial_neighbour(me, &dims, &periods, dir, -disp),
                    serial_neighbour(me, &dims, &periods, dir, disp),
                );
                ensure(got == want, || {
                    format!("shift({dir}, {disp}) on {dims:?} {periods:?}: {got:?} != {want:?}")
                })?;
            }
            // Shifts at the ends of `isize`: both neighbours in a periodic
            // dimension (before, `isize::MIN` gave `None` for the source,
            // MPI.PROC_NULL in a grid that wraps), none in another.
            for disp in [isize::MIN, isize::MIN + 1, isize::MAX] {
                let got = cart.shift(dir, disp)?;
                let d = dims[dir] as i128;
                let c = serial_coords(me, &dims);
                let at = |step: i128| {
                    let mut c = c.clone();
                    c[dir] = (c[dir] as i128 + step).rem_euclid(d) as usize;
                    serial_rank(&c, &dims)
                };
                let want = if periods[dir] {
                    (Some(at(-(disp as i128))), Some(at(disp as i128)))
                } else {
                    (None, None)
                };
                ensure(got == want, || {
                    format!("shift({dir}, {disp}) on {dims:?} {periods:?}: {got:?} != {want:?}")
                })?;
            }
            // A halo exchange along `dir`: each rank's number to `dest`.
            let (source, dest) = cart.shift(dir, 1)?;
            let mut halo = [usize::MAX];
            match (source, dest) {
                (Some(s), Some(d)) => {
                    cart.sendrecv_buf(&[me], d, 3, &mut halo, s, 3)?;
                }
                (None, Some(d)) => cart.send_buf(&[me], d, 3)?,
                (Some(s), None) => {
                    cart.recv_buf(&mut halo, s, 3)?;
                }
                (None, None) => {}
            }
            ensure(source.is_none_or(|s| halo[0] == s), || {
                format!("halo along {dir}: {halo:?} from {source:?}")
            })?;
        }
        cart.barrier()?;
    }
    // Periodic coordinates wrap around.
    let cart = w.create_cart(&[n], &[true], false)?;
    ensure(
        cart.rank_of(&[-1])? == n - 1 && cart.rank_of(&[n as isize])? == 0,
        || "periodic rank_of".into(),
    )?;
    Ok(())
}

fn cartesian_errors(w: &Comm) -> Res {
    let n = w.size();
    let arg = |e: Error, has: &str| {
        ensure(
            matches!(e, Error::Argument { .. }) && e.to_string().contains(has),
            || e.to_string(),
        )
    };
    // `dims_create` computes alone: one rank's refusal names that rank and
    // makes no call the others must join (its error path made one, and
    // the job hung).
    if w.rank() == n - 1 {
        arg(
            err(dims_create(5, &[2, 0]), "5 ranks, 2 fixed, on one rank")?,
            &format!("rank {}: `dims_create`: no grid of 5 ranks", n - 1),
        )?;
    }
    w.barrier()?;
    // A color past MPI's `int`: refused on every backend (rsmpi panicked).
    arg(
        err(w.split(Some(1 << 31), 0), "color 2^31")?,
        "color 2147483648 is past 2147483647",
    )?;
    arg(
        err(
            w.create_cart(&[n + 1], &[false], false),
            "dims beyond the size",
        )?,
        &format!(
            "make a grid of {} ranks, but the communicator has {n}",
            n + 1
        ),
    )?;
    arg(
        err(w.create_cart(&[n, 1], &[false], false), "periods too short")?,
        "2 dims and 1 periods",
    )?;
    arg(
        err(
            w.create_cart(&[n, 0], &[false, false], false),
            "a zero dimension",
        )?,
        "dims_create",
    )?;
    if n > 1 {
        let periods = [w.rank() == 0];
        arg(
            err(w.create_cart(&[n], &periods, false), "ranks that disagree")?,
            "every rank must pass the same",
        )?;
    }
    let cart = w.create_cart(&[1, n], &[false, false], false)?;
    arg(
        err(cart.shift(2, 1), "direction 2 of 2")?,
        "direction 2 is outside 0..2",
    )?;
    arg(
        err(cart.rank_of(&[0, n as isize]), "beyond a non-periodic edge")?,
        "outside 0..",
    )?;
    arg(
        err(cart.rank_of(&[0]), "one coordinate of two")?,
        "1 coordinates given",
    )?;
    let e = err(cart.coords(n), "coords of a rank beyond")?;
    ensure(matches!(e, Error::NoSuchRank { .. }), || e.to_string())?;
    arg(
        err(dims_create(7, &[2, 0]), "7 ranks, 2 fixed")?,
        "no grid of 7 ranks",
    )?;
    arg(
        err(dims_create(6, &[2, 2]), "6 ranks, 2x2")?,
        "no grid of 6 ranks",
    )?;
    Ok(())
}

/// The same answers as the MPI library's own: `MPI_Dims_create`,
/// `MPI_Cart_coords`, `MPI_Cart_shift` on the communicator made.
#[cfg(feature = "mpi")]
fn against_mpi(w: &Comm) -> Res {
    use parallel_runtime::mpi::rsmpi::ffi;
    use parallel_runtime::mpi::rsmpi::raw::AsRaw;
    for nodes in 1..=64usize {
        for nd in 1..=3usize {
            let mut theirs = vec![0i32; nd];
            // SAFETY: `theirs` holds `nd` ints, as MPI_Dims_create reads
            // and writes.
            unsafe { ffi::MPI_Dims_create(nodes as i32, nd as i32, theirs.as_mut_ptr()) };
            let ours = dims_create(nodes, &vec![0; nd])?;
            let theirs: Vec<usize> = theirs.iter().map(|&d| d as usize).collect();
            ensure(ours == theirs, || {
                format!("dims_create({nodes}, {nd} dims): ours {ours:?}, MPI's {theirs:?}")
            })?;
        }
    }
    let n = w.size();
    let dims = dims_create(n, &[0, 0])?;
    for reorder in [false, true] {
        let cart = w.create_cart(&dims, &[false, true], reorder)?;
        let raw = cart
            .raw()
            .ok_or("a Cartesian communicator on MPI")?
            .as_raw();
        for q in 0..n {
            let mut c = [0i32; 2];
            // SAFETY: `raw` is a live two-dimensional Cartesian communicator.
            unsafe { ffi::MPI_Cart_coords(raw, q as i32, 2, c.as_mut_ptr()) };
            let ours = cart.coords(q)?;
            ensure(ours == [c[0] as usize, c[1] as usize], || {
                format!("coords({q}): ours {ours:?}, MPI's {c:?}")
            })?;
        }
        for dir in 0..2 {
            for disp in [-1, 1, 2] {
                let (mut s, mut d) = (0i32, 0i32);
                // SAFETY: as above; `s` and `d` are written.
                unsafe { ffi::MPI_Cart_shift(raw, dir as i32, disp, &mut s, &mut d) };
                let conv = |x: i32| (x >= 0).then_some(x as usize);
                let theirs = (conv(s), conv(d));
                let ours = cart.shift(dir, disp as isize)?;
                ensure(ours == theirs, || {
                    format!("shift({dir}, {disp}): ours {ours:?}, MPI's {theirs:?}")
                })?;
            }
        }
    }
    Ok(())
}
