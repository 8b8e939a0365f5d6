//! Bad arguments get clear errors on every rank, never a hang, and the
//! communicator stays in step after them; MPI's `int` limits (lowered by
//! `PARALLEL_MPI_MAX_COUNT`) are `Error::TooLarge` where a collective
//! cannot be split, and pieces where it can.

use parallel_runtime::mpi::{Comm, Error, Op};

use crate::checks::{ensure, same};
use crate::Res;

/// The error of `r`, which must be one.
fn err<T: std::fmt::Debug>(r: Result<T, Error>, what: &str) -> Result<Error, String> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got Ok({v:?})")),
        Err(e) => Ok(e),
    }
}

/// Fails unless `e` is an `Error::Argument` whose text holds `words`.
fn argument(e: &Error, words: &str) -> Res {
    ensure(
        matches!(e, Error::Argument { .. }) && e.to_string().contains(words),
        || format!("expected Error::Argument with `{words}`, got: {e}"),
    )
}

/// The communicator is still in step.
fn in_step(w: &Comm) -> Res {
    let n = w.all_reduce(1u32, Op::Sum)?;
    same("in step", n as usize, w.size())
}

/// Bad counts, displacements and buffers.
pub(crate) fn refusals(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    let root = 0;
    // A block past the end of the root's buffer: the root says which,
    // every other rank that the root refused.
    let buf = vec![1.0f64; p];
    let counts = vec![1usize; p];
    let mut displs: Vec<usize> = (0..p).collect();
    displs[p - 1] = p;
    let mut one = [0.0];
    let e = err(
        w.scatterv_buf(
            root,
            (me == root).then_some((&buf[..], &counts[..], &displs[..])),
            &mut one,
        ),
        "scatterv_buf past the end",
    )?;
    if me == root {
        argument(&e, &format!("the block for rank {} of the send buffer (displacement {p}, count 1) ends at element {}, past its {p} elements", p - 1, p + 1))?;
        ensure(
            e.to_string().starts_with("rank 0: `scatterv_buf`: "),
            || e.to_string(),
        )?;
    } else {
        argument(&e, "rank 0 refused its arguments")?;
    }
    in_step(w)?;
    // Counts of the wrong length.
    let short = vec![1usize; p + 1];
    let e = err(
        w.gatherv_buf(
            root,
            &[1.0],
            (me == root).then_some((&mut vec![0.0; p + 1][..], &short[..], &short[..])),
        ),
        "gatherv_buf with p + 1 counts",
    )?;
    if me == root {
        ensure(
            matches!(e, Error::Length { what: "the counts", got, expected, .. } if got == p + 1 && expected == p),
            || e.to_string(),
        )?;
    }
    in_step(w)?;
    // A receive buffer of the wrong size on the last rank: every rank stops.
    let displs: Vec<usize> = (0..p).collect();
    let mut recv = vec![0.0; if me == p - 1 { 2 } else { 1 }];
    let e = err(
        w.scatterv_buf(
            root,
            (me == root).then_some((&buf[..], &counts[..], &displs[..])),
            &mut recv,
        ),
        "scatterv_buf into a wrong-size buffer",
    )?;
    if me == p - 1 {
        ensure(
            matches!(
                e,
                Error::Length {
                    what: "the receive buffer",
                    got: 2,
                    expected: 1,
                    ..
                }
            ),
            || e.to_string(),
        )?;
    } else {
        argument(&e, &format!("rank {} refused its arguments", p - 1))?;
    }
    in_step(w)?;
    if p > 1 {
        pairwise(w)?;
    }
    // The root without its buffer.
    let e = err(
        w.scatterv_buf::<f64>(root, None, &mut one),
        "scatterv_buf without a send buffer",
    )?;
    if me == root {
        ensure(matches!(e, Error::RootValueMissing { .. }), || {
            e.to_string()
        })?;
    } else {
        argument(&e, "rank 0 refused")?;
    }
    // Counts that do not sum to the send buffer.
    let counts = vec![1usize; p];
    let e = err(
        w.reduce_scatter_buf(&vec![1i32; p + 1], &mut [0], &counts, Op::Sum),
        "reduce_scatter_buf counts that do not sum",
    )?;
    blocks(
        &e,
        &format!(
            "the counts sum to {p}, but the send buffer has {} elements",
            p + 1
        ),
    )?;
    // Receive buffers of the wrong size (on every rank: local checks).
    let e = err(w.scan_buf(&[1.0, 2.0], &mut [0.0], Op::Sum), "scan_buf")?;
    ensure(
        matches!(
            e,
            Error::Length {
                got: 1,
                expected: 2,
                ..
            }
        ),
        || e.to_string(),
    )?;
    let e = err(
        w.reduce_scatter_block_buf(&vec![1u8; p + 1], &mut [0], Op::BOr),
        "rsb",
    )?;
    ensure(
        matches!(
            e,
            Error::Length {
                what: "the send buffer",
                ..
            }
        ),
        || e.to_string(),
    )?;
    // A list of the wrong length on rank 0 only.
    let list = vec![me; if me == 0 { p + 1 } else { p }];
    let e = err(w.alltoall(list), "alltoall of p + 1 values on rank 0")?;
    if me == 0 {
        ensure(
            matches!(
                e,
                Error::Length {
                    what: "the list",
                    ..
                }
            ),
            || e.to_string(),
        )?;
    } else {
        argument(&e, "rank 0 refused")?;
    }
    in_step(w)
}

/// The refusals that need two ranks or more.
fn pairwise(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    // Overlapping receive blocks.
    let mut recv = vec![0i32; p + 1];
    let over: Vec<usize> = (0..p).map(|r| r.saturating_sub(1)).collect();
    let twos = vec![2usize; p];
    let e = err(
        w.all_gatherv_buf(&[1, 2], (&mut recv, &twos, &over)),
        "overlap",
    )?;
    blocks(
        &e,
        "the blocks for ranks 0 and 1 of the receive buffer overlap",
    )?;
    in_step(w)?;
    // Rank 0 sends two elements to rank 1, which expects one.
    let sc: Vec<usize> = (0..p)
        .map(|j| if me == 0 && j == 1 { 2 } else { 1 })
        .collect();
    let sd: Vec<usize> = (0..p).map(|j| 2 * j).collect();
    let ones = vec![1usize; p];
    let rd: Vec<usize> = (0..p).collect();
    let e = err(
        w.all_to_allv_buf(
            (&vec![0u16; 2 * p], &sc, &sd),
            (&mut vec![0u16; p], &ones, &rd),
        ),
        "all_to_allv_buf with counts that disagree",
    )?;
    if me == 1 {
        blocks(
            &e,
            "rank 0 sends 2 elements to this rank, but the receive counts say 1",
        )?;
    } else {
        argument(&e, "rank 1 refused")?;
    }
    // Counts that differ between ranks.
    let mut counts = vec![1usize; p];
    if me == 1 {
        counts[0] = 0;
        counts[1] = 2;
    }
    let mut recv = vec![0i64; counts[me]];
    let e = err(
        w.reduce_scatter_buf(&vec![3i64; p], &mut recv, &counts, Op::Sum),
        "reduce_scatter_buf with other counts on rank 1",
    )?;
    argument(&e, "rank 1 passes other counts than rank 0")?;
    // All-to-all blocks that are no multiple, or differ.
    let e = err(
        w.all_to_all_buf(&vec![0u8; p + 1], &mut vec![0u8; p + 1]),
        "odd",
    )?;
    argument(&e, "not a multiple")?;
    let n = if me == 0 { 2 } else { 1 };
    let e = err(
        w.all_to_all_buf(&vec![0u8; n * p], &mut vec![0u8; n * p]),
        "differ",
    )?;
    argument(&e, "rank 1 sends blocks of 1 elements, rank 0 of 2")?;
    in_step(w)
}

/// Run with `PARALLEL_MPI_MAX_COUNT=64`: scans and reductions go in
/// pieces; collectives that cannot be split refuse, on every rank.
pub(crate) fn limits(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    let max = 64;
    let too_large = |e: &Error| matches!(e, Error::TooLarge { max: 64, .. });
    // Pieces: element-wise operations of any length.
    let parts: Vec<Vec<i64>> = (0..p)
        .map(|r| (0..200).map(|i| (r * 3 + i) as i64 % 7).collect())
        .collect();
    let mut got = vec![0i64; 200];
    w.scan_buf(&parts[me], &mut got, Op::Sum)?;
    let want: Vec<i64> = (0..200)
        .map(|i| parts[..=me].iter().map(|v| v[i]).sum())
        .collect();
    same("scan_buf in pieces", got, want)?;
    let mut got = vec![-1i64; 200];
    w.exscan_buf(&parts[me], &mut got, Op::BOr)?;
    if me > 0 {
        let want: Vec<i64> = (0..200)
            .map(|i| parts[..me].iter().fold(0, |a, v| a | v[i]))
            .collect();
        same("exscan_buf in pieces", got, want)?;
    }
    let locs: Vec<_> = (0..150)
        .map(|i| parallel_runtime::mpi::Loc::new((i % 5) as f64, me as i32))
        .collect();
    let mut got = locs.clone();
    w.all_reduce_buf(&locs, &mut got, Op::MaxLoc)?;
    same(
        "MaxLoc in pieces",
        got,
        locs.iter()
            .map(|l| parallel_runtime::mpi::Loc::new(l.value, 0))
            .collect(),
    )?;
    // Refusals past the limit.
    let n = max / p + 1;
    let e = err(
        w.all_to_all_buf(&vec![0u8; n * p], &mut vec![0u8; n * p]),
        "all_to_all_buf",
    )?;
    ensure(too_large(&e), || e.to_string())?;
    let e = err(
        w.reduce_scatter_block_buf(&vec![0u8; n * p], &mut vec![0u8; n], Op::Sum),
        "rsb",
    )?;
    ensure(too_large(&e), || e.to_string())?;
    let buf = vec![0.0f64; max + 1];
    let counts = vec![1usize; p];
    let displs: Vec<usize> = (0..p).map(|r| if r == p - 1 { max } else { r }).collect();
    let e = err(
        w.scatterv_buf(
            0,
            (me == 0).then_some((&buf[..], &counts[..], &displs[..])),
            &mut [0.0],
        ),
        "scatterv_buf past MPI's counts",
    )?;
    ensure(
        if me == 0 {
            too_large(&e)
        } else {
            e.to_string().contains("rank 0 refused")
        },
        || e.to_string(),
    )?;
    let mut counts = vec![0usize; p];
    counts[0] = max + 1;
    let e = err(
        w.reduce_scatter_buf(
            &vec![1u32; max + 1],
            &mut vec![0u32; counts[me]],
            &counts,
            Op::Sum,
        ),
        "reduce_scatter_buf past MPI's counts",
    )?;
    ensure(too_large(&e), || e.to_string())?;
    let big = vec![vec![0u8; if me == 0 { 2 * max } else { 1 }]; p];
    // Rank 0 sends too much; every rank receives too much from it.
    let e = err(w.alltoall(big), "alltoall past MPI's counts")?;
    ensure(too_large(&e), || e.to_string())?;
    in_step(w)
}
