//! Both ways a rank runs its tasks across a local world: spawned on a pool
//! of several threads, or, with a pool of one thread, every task on the
//! rank's coordinating thread (issue 12): the same results as one machine,
//! and a failure named, with its rank, on every rank.

use crate::graph::{compute_on, delayed_fn, value, Delayed, FailureKind};
use crate::mpi::local;

/// A stencil of `width` points over `steps` steps (every point reads its
/// neighbours of the step before), XOR-ed into one value; a task of step
/// `fail_at` returns an error when it is `Some`.
fn stencil(width: usize, steps: usize, fail_at: Option<usize>) -> Delayed<u64> {
    let point = delayed_fn("cinl_point", |xs: Vec<u64>| {
        xs.iter()
            .fold(0x9e37_79b9_u64, |a, &x| a.rotate_left(7) ^ x)
            .wrapping_mul(0x0100_0000_01b3)
    });
    let check = delayed_fn("cinl_check", |x: u64| -> Result<u64, String> {
        Err(format!("task refused {x}"))
    });
    let mut row: Vec<Delayed<u64>> = (0..width as u64).map(value).collect();
    for t in 0..steps {
        row = (0..width)
            .map(|i| {
                let lo = i.saturating_sub(1);
                let hi = (i + 1).min(width - 1);
                let p = point.call(row[lo..=hi].to_vec());
                if fail_at == Some(t) && i == width / 2 {
                    check.try_call(p)
                } else {
                    p
                }
            })
            .collect();
    }
    delayed_fn("cinl_xor", |xs: Vec<u64>| xs.iter().fold(0, |a, x| a ^ x)).call(row)
}

/// The stencil's value, computed without a graph.
fn serial(width: usize, steps: usize) -> u64 {
    let mut row: Vec<u64> = (0..width as u64).collect();
    for _ in 0..steps {
        row = (0..width)
            .map(|i| {
                let (lo, hi) = (i.saturating_sub(1), (i + 1).min(width - 1));
                row[lo..=hi]
                    .iter()
                    .fold(0x9e37_79b9_u64, |a, &x| a.rotate_left(7) ^ x)
                    .wrapping_mul(0x0100_0000_01b3)
            })
            .collect();
    }
    row.iter().fold(0, |a, x| a ^ x)
}

/// Runs `f` on every rank of a local world of `ranks`, each rank's thread
/// the first of a pool of `threads` threads of its own (a communicator
/// stays on its thread).
fn each_rank<R: Send>(
    ranks: usize,
    threads: usize,
    f: impl Fn(&crate::mpi::Comm) -> R + Send + Sync,
) -> Vec<R> {
    super::transferable::<u64>();
    local::run(ranks, |w| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("a pool of {threads} threads: {e}"));
        assert_eq!(rayon::current_num_threads(), threads);
        let out = f(&w);
        drop(pool);
        out
    })
}

#[test]
fn results_equal_a_serial_walk_with_one_thread_and_with_several() {
    let expect = serial(6, 40);
    for threads in [1, 2] {
        for ranks in [2, 3] {
            let got = each_rank(ranks, threads, |w| compute_on(w, stencil(6, 40, None)));
            for (r, g) in got.into_iter().enumerate() {
                assert_eq!(
                    g.as_ref().ok(),
                    Some(&expect),
                    "rank {r} of {ranks}, {threads} threads: {g:?}"
                );
            }
        }
    }
}

#[test]
fn a_failure_is_named_on_every_rank_with_one_thread_and_with_several() {
    for threads in [1, 2] {
        let got = each_rank(3, threads, |w| compute_on(w, stencil(6, 20, Some(7))));
        let ranks: Vec<_> = got
            .iter()
            .map(|g| {
                let e = g.as_ref().expect_err("a task returned an error");
                assert_eq!(e.kind(), FailureKind::Error, "{e}");
                assert!(e.to_string().contains("cinl_check"), "{e}");
                assert!(e.to_string().contains("task refused"), "{e}");
                e.rank()
            })
            .collect();
        assert!(ranks[0].is_some(), "{threads} threads: no rank named");
        assert!(ranks.iter().all(|r| *r == ranks[0]), "{ranks:?}");
    }
}

#[test]
fn values_of_every_size_cross_ranks_in_a_local_world() {
    // Around a lane's slot (a frame of 1,024 bytes: a `Vec<u8>` of 1,006 to
    // 1,010 bytes) and far above it (a notice, then the frame by itself).
    super::transferable::<Vec<u8>>();
    let make = delayed_fn("cinl_bytes", |(n, seed): (usize, u8)| {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect::<Vec<u8>>()
    });
    let digest = delayed_fn("cinl_digest", |v: Vec<u8>| {
        v.iter().fold(v.len() as u64, |a, &b| {
            (a ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    });
    let lens = [0usize, 1000, 1006, 1007, 1008, 1009, 1010, 4096, 1 << 20];
    let expect: Vec<u64> = lens
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            (0..n)
                .map(|i| (i as u8).wrapping_mul(31) ^ k as u8)
                .fold(n as u64, |a, b| {
                    (a ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                })
        })
        .collect();
    for threads in [1, 2] {
        let got = each_rank(2, threads, |w| {
            let digests: Vec<Delayed<u64>> = lens
                .iter()
                .enumerate()
                .map(|(k, &n)| {
                    let from = k % 2;
                    let v = make.call(value((n, k as u8)).on_rank(from)).on_rank(from);
                    digest.call(v).on_rank(1 - from)
                })
                .collect();
            compute_on(w, digests)
        });
        for (r, g) in got.into_iter().enumerate() {
            assert_eq!(
                g.as_ref().ok(),
                Some(&expect),
                "rank {r}, {threads} threads: {g:?}"
            );
        }
    }
}

#[test]
fn a_result_of_another_type_on_another_rank_is_an_error_on_every_rank() {
    // The ranks build graphs of the same shape (names and edges) whose
    // first task returns a `u64` on rank 0 and a `u32` on rank 1: the
    // value crossing from rank 0 to rank 1 must be refused there, never
    // read as another type, and the error named on every rank.
    super::transferable::<u32>();
    let got = each_rank(2, 1, |w| {
        let x = value(41u64).on_rank(0);
        let last = if w.rank() == 0 {
            let a = delayed_fn("cinl_a", |x: u64| x + 1).call(x).on_rank(0);
            delayed_fn("cinl_b", |x: u64| x * 2).call(a)
        } else {
            let a = delayed_fn("cinl_a", |x: u64| (x + 1) as u32)
                .call(x)
                .on_rank(0);
            delayed_fn("cinl_b", |x: u32| u64::from(x) * 2).call(a)
        };
        compute_on(w, last.on_rank(1))
    });
    for (r, g) in got.iter().enumerate() {
        let e = g.as_ref().expect_err("a value read as another type");
        assert_eq!(e.kind(), FailureKind::Comm, "rank {r}: {e}");
        assert!(e.to_string().contains("another type"), "rank {r}: {e}");
        assert_eq!(e.rank(), Some(1), "rank {r}: {e}");
    }
}
