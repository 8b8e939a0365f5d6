//! A world of N ranks as threads of this process, for unit tests of SPMD
//! logic on a machine without MPI.
//!
//! ```
//! use parallel_runtime::mpi::{local, Op};
//!
//! let sums = local::run(4, |world| {
//!     let mine = world.rank() as u64 + 1;
//!     world.all_reduce(mine, Op::Sum).unwrap()
//! });
//! assert_eq!(sums, vec![10, 10, 10, 10]);
//! ```
//!
//! The ranks have the same [`Comm`] as under `mpirun`, with the same
//! semantics (values are encoded and decoded on the object path, ranks match
//! messages by source and tag in the order sent), but they share one
//! address space and the one thread pool. It is a test harness, not a
//! replacement for MPI.
//!
//! When a rank panics, the ranks waiting on it get
//! [`Error::PeerFailed`](super::Error::PeerFailed) instead of waiting
//! forever, and [`run`] re-raises the first panic, naming its rank. When
//! every rank that has not returned waits for a message or a collective and
//! nothing has been sent for a second, each gets
//! [`Error::Deadlock`](super::Error::Deadlock):
//!
//! ```
//! use parallel_runtime::mpi::{local, Error};
//!
//! // Each rank receives from the other before sending: neither can go on.
//! let out = local::run(2, |world| world.recv::<u32>(1 - world.rank(), 0));
//! assert!(out.iter().any(|r| matches!(r, Err(Error::Deadlock { .. }))));
//! ```

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::comm::Comm;
use super::transport::backend::Backend;
use super::transport::local::Local;

/// Runs `f` on `n` ranks, each a thread of this process with its own
/// communicator of `n` ranks, and returns their results in rank order.
///
/// Inside, `#[parallel_map]` with `backend = "mpi"` splits its items across
/// these ranks as it would across MPI processes.
///
/// # Panics
///
/// When `n` is 0, and when a rank panics: with that rank's panic, after the
/// other ranks have stopped.
pub fn run<R, F>(n: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(Comm) -> R + Sync,
{
    assert!(
        n > 0,
        "parallel_runtime::mpi::local::run needs at least one rank"
    );
    let (world, ends) = Local::world(n);
    let results: Vec<std::thread::Result<R>> = std::thread::scope(|s| {
        let handles: Vec<_> = ends
            .into_iter()
            .enumerate()
            .map(|(rank, end)| {
                let f = &f;
                let world = &world;
                std::thread::Builder::new()
                    .name(format!("local-rank-{rank}"))
                    .spawn_scoped(s, move || {
                        let comm = Comm::new(Backend::Local(end));
                        let _dist = super::world::install(&comm);
                        let out = catch_unwind(AssertUnwindSafe(|| f(comm)));
                        if out.is_err() {
                            world.fail(rank);
                        }
                        world.finish(rank);
                        out
                    })
                    .unwrap_or_else(|e| panic!("cannot start the thread of local rank {rank}: {e}"))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(Err))
            .collect()
    });
    let first = world.failed();
    let mut out = Vec::with_capacity(n);
    let mut panics: Vec<Option<Box<dyn Any + Send>>> = Vec::new();
    for r in results {
        match r {
            Ok(v) => {
                out.push(v);
                panics.push(None);
            }
            Err(p) => panics.push(Some(p)),
        }
    }
    if let Some(rank) = first {
        if let Some(p) = panics.get_mut(rank).and_then(Option::take) {
            resume_unwind(p);
        }
    }
    if let Some(p) = panics.into_iter().flatten().next() {
        resume_unwind(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpi::Op;

    #[test]
    fn collectives_agree_with_serial() {
        let out = run(3, |w| {
            let r = w.rank();
            let b: String = w.bcast(1, (r == 1).then(|| "hi".to_string())).unwrap();
            let g = w.gather(2, &(r * 10)).unwrap();
            let a = w.allgather(&vec![r; r]).unwrap();
            let s: usize = w.scatter(0, (r == 0).then(|| vec![5usize, 6, 7])).unwrap();
            let m = w.all_reduce(r as i64 - 1, Op::Max).unwrap();
            let c = w.all_reduce_with(format!("{r}"), |a, b| a + &b).unwrap();
            w.barrier().unwrap();
            (b, g, a, s, m, c)
        });
        for (r, (b, g, a, s, m, c)) in out.into_iter().enumerate() {
            assert_eq!(b, "hi");
            assert_eq!(g, (r == 2).then(|| vec![0, 10, 20]));
            assert_eq!(a, vec![vec![], vec![1], vec![2, 2]]);
            assert_eq!(s, 5 + r);
            assert_eq!(m, 1);
            assert_eq!(c, "012");
        }
    }

    #[test]
    fn a_panicking_rank_releases_the_others() {
        let r = catch_unwind(|| {
            run(3, |w| {
                if w.rank() == 1 {
                    panic!("boom");
                }
                w.barrier()
            })
        });
        let msg = r.err().and_then(|p| p.downcast::<&str>().ok().map(|s| *s));
        assert_eq!(msg, Some("boom"));
    }
}
