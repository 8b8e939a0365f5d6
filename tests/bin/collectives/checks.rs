//! Every collective and operation against a serial computation of the same
//! values: each rank's data is a function of its rank, so every rank can
//! compute what every other rank holds.

use parallel_runtime::mpi::{Comm, Loc, Op, Reduction};

use crate::Res;
pub(crate) use parallel_tests::ensure;

/// Fails unless `got == want`, naming `what`.
pub(crate) fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Res {
    ensure(got == want, || {
        format!("{what}: got {got:?}, expected {want:?}")
    })
}

/// What rank `from` sends rank `to` as element `i`.
fn code(from: usize, to: usize, i: usize) -> i64 {
    (from * 10_000 + to * 100 + i) as i64
}

/// Rank `r`'s vector of `n` numbers: quarters, so that sums are exact in
/// any order.
fn data(r: usize, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((r * 31 + i * 7) % 17) as f64 * 0.25 - 2.0)
        .collect()
}

/// Rank `r`'s integers for the logical and bitwise operations (zeros
/// included).
fn ints(r: usize, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| match (r + i) % 4 {
            0 => 0,
            1 => 0b1011,
            2 => 0b0110 << (i % 3),
            _ => -1 - (r as i64),
        })
        .collect()
}

/// Element-wise fold of `parts` in rank order.
fn fold<T: Copy>(parts: &[Vec<T>], f: impl Fn(T, T) -> T) -> Vec<T> {
    let mut acc = parts[0].clone();
    for p in &parts[1..] {
        for (a, b) in acc.iter_mut().zip(p) {
            *a = f(*a, *b);
        }
    }
    acc
}

/// All-to-all, objects and buffers.
pub(crate) fn exchanges(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    let n = 3;
    let send: Vec<i64> = (0..p * n).map(|k| code(me, k / n, k % n)).collect();
    let mut recv = vec![0i64; p * n];
    w.all_to_all_buf(&send, &mut recv)?;
    let want: Vec<i64> = (0..p * n).map(|k| code(k / n, me, k % n)).collect();
    same("all_to_all_buf", recv, want)?;

    let values: Vec<(String, Vec<u32>)> = (0..p)
        .map(|r| (format!("{me}->{r}"), (0..(me + r) as u32).collect()))
        .collect();
    let got = w.alltoall(values)?;
    let want: Vec<(String, Vec<u32>)> = (0..p)
        .map(|r| (format!("{r}->{me}"), (0..(me + r) as u32).collect()))
        .collect();
    same("alltoall", got, want)?;
    let empty: Vec<()> = w.alltoall(vec![(); p])?;
    same("alltoall of ()", empty.len(), p)
}

/// Consecutive displacements of `counts`, with `gap` elements between
/// blocks.
fn packed(counts: &[usize], gap: usize) -> Vec<usize> {
    let mut at = 0;
    counts
        .iter()
        .map(|&c| {
            let d = at;
            at += c + gap;
            d
        })
        .collect()
}

/// scatterv, gatherv, allgatherv, alltoallv with counts and displacements.
pub(crate) fn blocks(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    // scatterv from the last rank: block r of r + 1 elements, one element
    // apart.
    let root = p - 1;
    let counts: Vec<usize> = (0..p).map(|r| r + 1).collect();
    let displs = packed(&counts, 1);
    let total = displs[p - 1] + counts[p - 1];
    let all: Vec<f64> = (0..total).map(|k| k as f64 * 1.5).collect();
    let mut mine = vec![0.0; me + 1];
    let send = (me == root).then_some((&all[..], &counts[..], &displs[..]));
    w.scatterv_buf(root, send, &mut mine)?;
    same(
        "scatterv_buf",
        &mine[..],
        &all[displs[me]..displs[me] + me + 1],
    )?;

    // gatherv to rank 0, the blocks placed in reverse rank order.
    let sends: Vec<Vec<i64>> = (0..p)
        .map(|r| (0..=r).map(|i| code(r, 0, i)).collect())
        .collect();
    let mut gdispls = vec![0; p];
    let mut at = 0;
    for r in (0..p).rev() {
        gdispls[r] = at;
        at += counts[r];
    }
    let mut gathered = vec![-1i64; at];
    let recv = (me == 0).then_some((&mut gathered[..], &counts[..], &gdispls[..]));
    w.gatherv_buf(0, &sends[me], recv)?;
    if me == 0 {
        for r in 0..p {
            same(
                "gatherv_buf",
                &gathered[gdispls[r]..gdispls[r] + counts[r]],
                &sends[r][..],
            )?;
        }
    }

    // allgatherv: rank r sends r % 3 elements (some none).
    let acounts: Vec<usize> = (0..p).map(|r| r % 3).collect();
    let adispls = packed(&acounts, 2);
    let alen = adispls[p - 1] + acounts[p - 1] + 2;
    let mine: Vec<f64> = data(me, acounts[me]);
    let mut got = vec![7.0; alen];
    w.all_gatherv_buf(&mine, (&mut got, &acounts, &adispls))?;
    let mut want = vec![7.0; alen];
    for r in 0..p {
        want[adispls[r]..adispls[r] + acounts[r]].copy_from_slice(&data(r, acounts[r]));
    }
    same("all_gatherv_buf", got, want)?;

    // alltoallv: rank i sends (i + 2j) % 3 elements to rank j.
    let c = |i: usize, j: usize| (i + 2 * j) % 3;
    let sc: Vec<usize> = (0..p).map(|j| c(me, j)).collect();
    let sd = packed(&sc, 1);
    let slen = sd[p - 1] + sc[p - 1];
    let mut sbuf = vec![-5i64; slen];
    for j in 0..p {
        for k in 0..sc[j] {
            sbuf[sd[j] + k] = code(me, j, k);
        }
    }
    let rc: Vec<usize> = (0..p).map(|i| c(i, me)).collect();
    let rd = packed(&rc, 0);
    let mut rbuf = vec![0i64; rd[p - 1] + rc[p - 1]];
    w.all_to_allv_buf((&sbuf, &sc, &sd), (&mut rbuf, &rc, &rd))?;
    for i in 0..p {
        let want: Vec<i64> = (0..rc[i]).map(|k| code(i, me, k)).collect();
        same("all_to_allv_buf", &rbuf[rd[i]..rd[i] + rc[i]], &want[..])?;
    }
    Ok(())
}

/// scan and exscan: numbers, buffers, closures.
pub(crate) fn scans(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    let n = 5;
    let parts: Vec<Vec<f64>> = (0..p).map(|r| data(r, n)).collect();
    let mut got = vec![0.0; n];
    w.scan_buf(&parts[me], &mut got, Op::Sum)?;
    same("scan_buf sum", got, fold(&parts[..=me], |a, b| a + b))?;
    let mut got = vec![0.0; n];
    w.scan_buf(&parts[me], &mut got, Op::Max)?;
    same("scan_buf max", got, fold(&parts[..=me], f64::max))?;
    let mut got = vec![-7.0; n];
    w.exscan_buf(&parts[me], &mut got, Op::Min)?;
    if me == 0 {
        same("exscan_buf on rank 0 keeps recv", got, vec![-7.0; n])?;
    } else {
        same("exscan_buf min", got, fold(&parts[..me], f64::min))?;
    }
    let x = (me as i64 + 1) * 3;
    same(
        "scan",
        w.scan(x, Op::Sum)?,
        (1..=me as i64 + 1).map(|k| 3 * k).sum(),
    )?;
    same(
        "scan prod",
        w.scan(me as u64 + 1, Op::Prod)?,
        (1..=me as u64 + 1).product(),
    )?;
    let ex = w.exscan(x, Op::Sum)?;
    same(
        "exscan",
        ex,
        (me > 0).then(|| (1..=me as i64).map(|k| 3 * k).sum()),
    )?;
    // Closures on any type, folded in rank order (not commutative).
    let s = w.scan_with(me.to_string(), |a, b| format!("{a},{b}"))?;
    let want: Vec<String> = (0..=me).map(|r| r.to_string()).collect();
    same("scan_with", s, want.join(","))?;
    let s = w.exscan_with(vec![me], |mut a, b| {
        a.extend(b);
        a
    })?;
    same(
        "exscan_with",
        s,
        (me > 0).then(|| (0..me).collect::<Vec<_>>()),
    )
}

/// reduce_scatter_block and reduce_scatter.
pub(crate) fn reduce_scatters(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    let n = 2;
    let parts: Vec<Vec<f64>> = (0..p).map(|r| data(r, n * p)).collect();
    let mut got = vec![0.0; n];
    w.reduce_scatter_block_buf(&parts[me], &mut got, Op::Sum)?;
    let sum = fold(&parts, |a, b| a + b);
    same(
        "reduce_scatter_block_buf",
        &got[..],
        &sum[me * n..(me + 1) * n],
    )?;

    let counts: Vec<usize> = (0..p).map(|r| r + 1).collect();
    let total: usize = counts.iter().sum();
    let at: usize = counts[..me].iter().sum();
    let parts: Vec<Vec<i64>> = (0..p).map(|r| ints(r, total)).collect();
    let mut got = vec![0i64; me + 1];
    w.reduce_scatter_buf(&parts[me], &mut got, &counts, Op::Max)?;
    let max = fold(&parts, i64::max);
    same("reduce_scatter_buf max", &got[..], &max[at..at + me + 1])?;
    let mut got = vec![0i64; me + 1];
    w.reduce_scatter_buf(&parts[me], &mut got, &counts, Op::BXor)?;
    let x = fold(&parts, |a, b| a ^ b);
    same("reduce_scatter_buf bxor", &got[..], &x[at..at + me + 1])
}

/// Logical with MPI's meaning: non-zero is true, 1 or 0; one value alone
/// passes as it is.
fn logical(parts: &[Vec<i64>], f: fn(bool, bool) -> bool) -> Vec<i64> {
    fold(parts, |a, b| i64::from(f(a != 0, b != 0)))
}

/// The logical and bitwise operations, in reductions and scans.
pub(crate) fn operations(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    // Integers wrap around, as MPI's arithmetic does (before, the local
    // world's sum panicked in a debug build: "attempt to add with overflow").
    same(
        "i32 sum past i32::MAX",
        w.all_reduce(i32::MAX, Op::Sum)?,
        i32::MAX.wrapping_mul(p as i32),
    )?;
    same("u8 sum", w.all_reduce(200u8, Op::Sum)?, (200 * p) as u8)?;
    same(
        "u64 product scan",
        w.scan(u64::MAX, Op::Prod)?,
        if me % 2 == 0 { u64::MAX } else { 1 },
    )?;
    let n = 12;
    let parts: Vec<Vec<i64>> = (0..p).map(|r| ints(r, n)).collect();
    let mine = &parts[me];
    let mut got = vec![0i64; n];
    w.all_reduce_buf(mine, &mut got, Op::LAnd)?;
    same("LAnd", &got, &logical(&parts, |a, b| a && b))?;
    w.all_reduce_buf(mine, &mut got, Op::LOr)?;
    same("LOr", &got, &logical(&parts, |a, b| a || b))?;
    w.all_reduce_buf(mine, &mut got, Op::LXor)?;
    same("LXor", &got, &logical(&parts, |a, b| a != b))?;
    w.all_reduce_buf(mine, &mut got, Op::BAnd)?;
    same("BAnd", &got, &fold(&parts, |a, b| a & b))?;
    w.all_reduce_buf(mine, &mut got, Op::BOr)?;
    same("BOr", &got, &fold(&parts, |a, b| a | b))?;
    w.all_reduce_buf(mine, &mut got, Op::BXor)?;
    same("BXor", &got, &fold(&parts, |a, b| a ^ b))?;
    // Rooted, and on other integer types.
    let small: Vec<Vec<u8>> = parts
        .iter()
        .map(|v| v.iter().map(|&x| x as u8).collect())
        .collect();
    let mut at_root = vec![0u8; n];
    let recv = (me == p - 1).then_some(&mut at_root[..]);
    w.reduce_buf(p - 1, &small[me], recv, Op::BOr)?;
    if me == p - 1 {
        same("reduce_buf BOr u8", at_root, fold(&small, |a, b| a | b))?;
    }
    let flag = u32::from(me != 1);
    same(
        "all_reduce LAnd",
        w.all_reduce(flag, Op::LAnd)?,
        if p == 1 { 1 } else { 0 },
    )?;
    same("all_reduce LOr", w.all_reduce(0u16, Op::LOr)?, 0)?;
    let bits = 1u64 << me;
    same(
        "all_reduce BOr",
        w.all_reduce(bits, Op::BOr)?,
        (1u64 << p) - 1,
    )?;
    same(
        "reduce BXor",
        w.reduce(0, bits, Op::BXor)?,
        (me == 0).then(|| (1u64 << p) - 1),
    )?;
    let mut got = vec![0i64; n];
    w.scan_buf(mine, &mut got, Op::LXor)?;
    same("scan LXor", got, logical(&parts[..=me], |a, b| a != b))?;
    let mut got = vec![0i64; n];
    w.exscan_buf(mine, &mut got, Op::BAnd)?;
    if me > 0 {
        same("exscan BAnd", got, fold(&parts[..me], |a, b| a & b))?;
    }
    Ok(())
}

/// MAXLOC and MINLOC by their definition: the best value, and of the
/// pairs that hold it, the lowest index.
fn locate<T: Copy + PartialOrd>(pairs: &[Loc<T>], max: bool) -> Loc<T> {
    let mut best = pairs[0].value;
    for l in pairs {
        if (max && l.value > best) || (!max && l.value < best) {
            best = l.value;
        }
    }
    let index = pairs
        .iter()
        .filter(|l| l.value == best)
        .map(|l| l.index)
        .min()
        .unwrap_or(i32::MAX);
    Loc::new(best, index)
}

/// Rank `r`'s pairs: element 0 a distinct value per rank, 1 ties between
/// every rank with indices that fall as the ranks rise, 2 ties between odd
/// ranks.
fn pairs(r: usize, p: usize) -> Vec<Loc<f64>> {
    vec![
        Loc::new((r as f64 - 1.5).abs(), r as i32),
        Loc::new(5.0, (p - 1 - r) as i32 + 10),
        Loc::new((r % 2) as f64, 100 + r as i32),
    ]
}

/// MAXLOC and MINLOC on (value, index) pairs.
pub(crate) fn locations(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    let all: Vec<Vec<Loc<f64>>> = (0..p).map(|r| pairs(r, p)).collect();
    let column =
        |k: usize, upto: usize| -> Vec<Loc<f64>> { all[..upto].iter().map(|v| v[k]).collect() };
    for (op, max) in [(Op::MaxLoc, true), (Op::MinLoc, false)] {
        let mut got = vec![Loc::default(); 3];
        w.all_reduce_buf(&all[me], &mut got, op)?;
        let want: Vec<_> = (0..3).map(|k| locate(&column(k, p), max)).collect();
        same("all_reduce_buf loc", &got, &want)?;
        let mut got = vec![Loc::default(); 3];
        w.scan_buf(&all[me], &mut got, op)?;
        let want: Vec<_> = (0..3).map(|k| locate(&column(k, me + 1), max)).collect();
        same("scan_buf loc", &got, &want)?;
    }
    // mpi4py's `comm.allreduce((value, rank), op=MPI.MAXLOC)`, other types.
    let v = ((me * 7) % 5) as i32;
    let got = w.all_reduce(Loc::new(v, me as i32), Op::MaxLoc)?;
    let vals: Vec<Loc<i32>> = (0..p)
        .map(|r| Loc::new(((r * 7) % 5) as i32, r as i32))
        .collect();
    same("all_reduce MaxLoc i32", got, locate(&vals, true))?;
    let got = w.reduce(0, Loc::new(-(me as f32), me as i32), Op::MinLoc)?;
    same(
        "reduce MinLoc f32",
        got,
        (me == 0).then(|| Loc::new(-((p - 1) as f32), (p - 1) as i32)),
    )?;
    let got = w.all_reduce(Loc::new(1i64 << 40, 3 - me as i32), Op::MinLoc)?;
    same("all_reduce MinLoc i64 ties", got.index, 3 - (p as i32 - 1))?;
    let got = w.all_reduce(Loc::new(me as i16 % 2, me as i32), Op::MaxLoc)?;
    same(
        "all_reduce MaxLoc i16",
        got,
        Loc::new((p > 1) as i16, (p > 1) as i32),
    )?;
    let (value, index): (f64, i32) = w
        .all_reduce(Loc::from((0.5, me as i32)), Op::MaxLoc)?
        .into();
    same("tuples", (value, index), (0.5, 0))?;
    nan_locations(w)
}

/// MaxLoc/MinLoc with a NaN and indices that do not follow the ranks:
/// the result is one rank's pair, whole, and the same whatever order MPI
/// combines them in (before, a NaN made the value of one pair travel with
/// the index of another, and vanish or not with the number of ranks).
fn nan_locations(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    // Rank r holds (r, 10 - r), the NaN on the last rank (index 10 - p + 1).
    let pair = |r: usize| {
        let v = if r == p - 1 { f64::NAN } else { r as f64 };
        Loc::new(v, 10 - r as i32)
    };
    for op in [Op::MaxLoc, Op::MinLoc] {
        let got = w.all_reduce(pair(me), op)?;
        ensure(
            got.value.is_nan() && got.index == 10 - (p as i32 - 1),
            || format!("{op:?} with a NaN on rank {}: {got:?}", p - 1),
        )?;
        let mut scanned = [Loc::new(0.0f64, 0)];
        w.scan_buf(&[pair(me)], &mut scanned, op)?;
        let want = (0..=me).map(pair).reduce(|a, b| op.combine(a, b));
        ensure(want.is_some_and(|x| x.index == scanned[0].index), || {
            format!(
                "{op:?} scan on rank {me}: {:?}, serial {want:?}",
                scanned[0]
            )
        })?;
    }
    // Equal values of different bits (-0.0, 0.0): the lower index's pair.
    let z = if me % 2 == 0 { -0.0f64 } else { 0.0 };
    let got = w.all_reduce(Loc::new(z, 5 - me as i32), Op::MaxLoc)?;
    let want_index = 5 - (p as i32 - 1);
    let want_bits = if (p - 1) % 2 == 0 {
        (-0.0f64).to_bits()
    } else {
        0f64.to_bits()
    };
    ensure(
        got.index == want_index && got.value.to_bits() == want_bits,
        || format!("MaxLoc of -0.0 and 0.0: {got:?}"),
    )
}
