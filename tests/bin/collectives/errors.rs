//! Bad arguments get clear errors on every rank, never a hang, and the
//! communicator stays in step after them; MPI's `int` limits (lowered by
//! `PARALLEL_MPI_MAX_COUNT`) are `Error::TooLarge` where a collective
//! cannot be split, and pieces where it can.

use parallel_runtime::mpi::{Comm, Error, Op};

use parallel_tests::expect_err;

use crate::checks::{ensure, same};
use crate::Res;

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

/// Bad counts, displacements and buffers that every rank sees alone (the
/// buffer path makes no hidden exchange, so that it meets mpi4py's ranks):
/// every rank refuses, and the communicator stays in step.
pub(crate) fn refusals(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    // A root beyond the communicator, named by the call made (it said
    // `gather`, which `reduce_with` calls).
    let e = expect_err(
        w.reduce_with(p, 1u64, |a, b| a + b),
        "reduce_with to rank p",
    )?;
    ensure(
        matches!(
            e,
            Error::NoSuchRank {
                op: "reduce_with",
                ..
            }
        ),
        || e.to_string(),
    )?;
    // A block past the end of the receive buffer.
    let counts = vec![1usize; p];
    let mut displs: Vec<usize> = (0..p).collect();
    displs[p - 1] = p;
    let mut recv = vec![0.0f64; p];
    let e = expect_err(
        w.all_gatherv_buf(&[1.0], (&mut recv, &counts, &displs)),
        "past the end",
    )?;
    argument(
        &e,
        &format!(
            "the block for rank {} of the receive buffer (displacement {p}, count 1) ends at \
             element {}, past its {p} elements",
            p - 1,
            p + 1
        ),
    )?;
    ensure(
        e.to_string()
            .starts_with(&format!("rank {me}: `all_gatherv_buf`: ")),
        || e.to_string(),
    )?;
    // Counts of the wrong length, a send buffer that is not this rank's count.
    let long = vec![1usize; p + 1];
    let e = expect_err(
        w.all_gatherv_buf(&[1.0], (&mut recv, &long, &long)),
        "p + 1 counts",
    )?;
    ensure(
        matches!(e, Error::Length { what: "the counts", got, expected, .. } if got == p + 1 && expected == p),
        || e.to_string(),
    )?;
    let packed: Vec<usize> = (0..p).collect();
    let e = expect_err(
        w.all_gatherv_buf(&[1.0, 2.0], (&mut recv, &counts, &packed)),
        "send",
    )?;
    ensure(
        matches!(
            e,
            Error::Length {
                what: "the send buffer (this rank's count)",
                got: 2,
                expected: 1,
                ..
            }
        ),
        || e.to_string(),
    )?;
    // A send block past the end in an all-to-all.
    let e = expect_err(
        w.all_to_allv_buf(
            (&vec![0u16; p - 1], &counts, &packed),
            (&mut vec![0u16; p], &counts, &packed),
        ),
        "all_to_allv_buf past the end",
    )?;
    argument(&e, "of the send buffer (displacement")?;
    if p > 1 {
        // Overlapping receive blocks.
        let over: Vec<usize> = (0..p).map(|r| r.saturating_sub(1)).collect();
        let twos = vec![2usize; p];
        let mut recv = vec![0i32; p + 1];
        let e = expect_err(
            w.all_gatherv_buf(&[1, 2], (&mut recv, &twos, &over)),
            "overlap",
        )?;
        argument(
            &e,
            "the blocks for ranks 0 and 1 of the receive buffer overlap",
        )?;
        let e = expect_err(
            w.all_to_allv_buf(
                (&vec![0i32; 2 * p], &twos, &over),
                (&mut recv, &twos, &over),
            ),
            "all_to_allv_buf overlap",
        )?;
        argument(&e, "overlap")?;
        // All-to-all blocks that are no multiple of the ranks.
        let e = expect_err(
            w.all_to_all_buf(&vec![0u8; p + 1], &mut vec![0u8; p + 1]),
            "odd",
        )?;
        argument(&e, "not a multiple")?;
    }
    in_step(w)?;
    // Reduce-scatter counts that do not sum, or of the wrong length.
    let e = expect_err(
        w.reduce_scatter_buf(&vec![1i32; p + 1], &mut [0], &counts, Op::Sum),
        "reduce_scatter_buf counts that do not sum",
    )?;
    argument(
        &e,
        &format!(
            "the counts sum to {p}, but the send buffer has {} elements",
            p + 1
        ),
    )?;
    let e = expect_err(
        w.reduce_scatter_buf(&vec![1i32; p + 1], &mut [0], &long, Op::Sum),
        "long",
    )?;
    ensure(
        matches!(
            e,
            Error::Length {
                what: "the counts",
                ..
            }
        ),
        || e.to_string(),
    )?;
    // Receive buffers of the wrong size.
    let e = expect_err(
        w.reduce_scatter_buf(&vec![1i32; p], &mut [0, 0], &counts, Op::Sum),
        "recv",
    )?;
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
    let e = expect_err(w.scan_buf(&[1.0, 2.0], &mut [0.0], Op::Sum), "scan_buf")?;
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
    let e = expect_err(
        w.exscan_buf(&[1.0, 2.0], &mut [0.0; 3], Op::Max),
        "exscan_buf",
    )?;
    ensure(
        matches!(
            e,
            Error::Length {
                got: 3,
                expected: 2,
                ..
            }
        ),
        || e.to_string(),
    )?;
    let e = expect_err(
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
    let e = expect_err(
        w.all_to_all_buf(&vec![0u8; p], &mut vec![0u8; p + 1]),
        "all_to_all recv",
    )?;
    ensure(
        matches!(
            e,
            Error::Length {
                what: "the receive buffer",
                ..
            }
        ),
        || e.to_string(),
    )?;
    // The object path exchanges lengths anyway, so every rank learns when
    // one refuses: a list of the wrong length on rank 0 only.
    let list = vec![me; if me == 0 { p + 1 } else { p }];
    let e = expect_err(w.alltoall(list), "alltoall of p + 1 values on rank 0")?;
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
        argument(&e, "rank 0 refused its arguments")?;
    }
    in_step(w)?;
    // The object path's bcast and scatter with a root that refuses (no
    // value; a list of the wrong length): the others get an error naming
    // the root (they waited for it forever, in the local world too).
    let root = p - 1;
    // The root's own error, or the others' naming it.
    let refusal = |e: Error, own: fn(&Error) -> bool| -> Res {
        if me == root {
            ensure(own(&e), || e.to_string())
        } else {
            argument(&e, &format!("rank {root} refused its arguments"))
        }
    };
    let missing = |e: &Error| matches!(e, Error::RootValueMissing { .. });
    let got: Result<u64, _> = w.bcast(root, None);
    refusal(expect_err(got, "bcast without the root's value")?, missing)?;
    let list = (me == root).then(|| vec![1u64; p + 1]);
    let e = expect_err(w.scatter(root, list), "scatter of p + 1 values")?;
    refusal(e, |e| matches!(e, Error::Length { .. }))?;
    let e = expect_err(w.scatter::<u64>(root, None), "scatter without a list")?;
    refusal(e, missing)?;
    // And they still work after.
    let x: u64 = w.bcast(root, (me == root).then_some(7))?;
    let y: u64 = w.scatter(root, (me == root).then(|| (0..p as u64).collect()))?;
    same("bcast and scatter after refusals", (x, y), (7, me as u64))?;
    in_step(w)?;
    if p > 1 {
        disagreements(w)?;
    }
    Ok(())
}

/// Counts that disagree between ranks: `all_to_allv_buf` and
/// `reduce_scatter_buf` refuse on every rank, before any data moves.
fn disagreements(w: &Comm) -> Res {
    let (me, p) = (w.rank(), w.size());
    // Rank 0 sends two elements to rank 1, which expects one.
    let sc: Vec<usize> = (0..p)
        .map(|j| if me == 0 && j == 1 { 2 } else { 1 })
        .collect();
    let sd: Vec<usize> = (0..p).map(|j| 2 * j).collect();
    let ones = vec![1usize; p];
    let rd: Vec<usize> = (0..p).collect();
    let got = w.all_to_allv_buf(
        (&vec![0u16; 2 * p], &sc, &sd),
        (&mut vec![0u16; p], &ones, &rd),
    );
    // Every rank refuses, before any data moves (tests/bin/mpi_messages.rs
    // checks the same on real MPI).
    let e = expect_err(got, "all_to_allv_buf with counts that disagree")?;
    ensure(
        matches!(e, Error::Counts { rank, .. } if rank == me)
            && e.to_string()
                .ends_with("rank 1 expects 1 element from rank 0, which sends it 2"),
        || e.to_string(),
    )?;
    in_step(w)?;
    // reduce_scatter_buf's counts differ between ranks (the same sum):
    // every rank refuses, naming rank 1 and the first block where its
    // counts differ from rank 0's (on MPI the ranks waited forever, and
    // the local world named the counts on its own).
    let mut counts = vec![2usize; p];
    if me == 1 {
        counts[0] = 3;
        counts[1] = 1;
    }
    let mut recv = vec![0u64; counts[me]];
    let e = expect_err(
        w.reduce_scatter_buf(&vec![1u64; 2 * p], &mut recv, &counts, Op::Sum),
        "reduce_scatter_buf with counts that differ between ranks",
    )?;
    ensure(
        matches!(e, Error::Counts { rank, .. } if rank == me)
            && e.to_string().ends_with(
                "rank 1 passes counts that give rank 0 3 elements, where rank 0's give it 2 \
                 elements (every rank must pass the same counts)",
            ),
        || e.to_string(),
    )?;
    ensure(recv.iter().all(|&x| x == 0), || format!("{recv:?}"))?;
    in_step(w)
}

/// A root that refuses its own arguments returns its error (here, out of
/// `main`): the job ends with the root's message instead of hanging.
pub(crate) fn root_refuses(w: &Comm) -> Res {
    let p = w.size();
    let buf = vec![1.0f64; p];
    let counts = vec![1usize; p];
    let mut displs: Vec<usize> = (0..p).collect();
    displs[p - 1] = p;
    let send = (w.rank() == 0).then_some((&buf[..], &counts[..], &displs[..]));
    w.scatterv_buf(0, send, &mut [0.0])?;
    Err("scatterv_buf with a block past the end returned Ok".into())
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
    let e = expect_err(
        w.all_to_all_buf(&vec![0u8; n * p], &mut vec![0u8; n * p]),
        "all_to_all_buf",
    )?;
    ensure(too_large(&e), || e.to_string())?;
    let e = expect_err(
        w.reduce_scatter_block_buf(&vec![0u8; n * p], &mut vec![0u8; n], Op::Sum),
        "rsb",
    )?;
    ensure(too_large(&e), || e.to_string())?;
    let counts = vec![1usize; p];
    let displs: Vec<usize> = (0..p).map(|r| if r == p - 1 { max } else { r }).collect();
    let mut recv = vec![0.0f64; max + 1];
    let e = expect_err(
        w.all_gatherv_buf(&[0.0], (&mut recv, &counts, &displs)),
        "all_gatherv_buf past MPI's counts",
    )?;
    ensure(too_large(&e), || e.to_string())?;
    let mut counts = vec![0usize; p];
    counts[0] = max + 1;
    let e = expect_err(
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
    let e = expect_err(w.alltoall(big), "alltoall past MPI's counts")?;
    ensure(too_large(&e), || e.to_string())?;
    in_step(w)
}
