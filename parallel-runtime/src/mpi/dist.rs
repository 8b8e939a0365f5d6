//! The `mpi` backend of `#[parallel_map]`: items split across ranks.
//!
//! `#[mpi_main]` (and each rank of a [`local`](super::local) world) installs
//! its world here, on the thread that runs `main`; a map called on that
//! thread with the `mpi` backend then runs this rank's contiguous share of
//! the items and gathers every rank's results, on a duplicate of the world
//! that keeps these messages apart from the program's own.

use std::cell::RefCell;

use super::comm::Comm;
use crate::codec::ResultCodec;
use crate::map::MapSite;

/// The communicator of maps on this thread: the world until the first map
/// across ranks, which replaces it with a duplicate (a collective call, made
/// then by every rank, not at start-up, where a peer of another language
/// would not join it).
enum World {
    Pending(Comm),
    Ready(Comm),
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// Removes the installed world when dropped.
pub(crate) struct Installed(bool);

impl Drop for Installed {
    fn drop(&mut self) {
        if self.0 {
            WORLD.with(|w| w.borrow_mut().take());
        }
    }
}

/// Makes `world` the communicator of maps called on this thread.
pub(crate) fn install(world: &Comm) -> Installed {
    if world.size() < 2 {
        return Installed(false);
    }
    WORLD.with(|w| *w.borrow_mut() = Some(World::Pending(world.handle())));
    Installed(true)
}

/// Runs `f` on the maps' own communicator, duplicating the world the first
/// time; `None` when no world of several ranks is installed.
fn with_comm<T>(f: impl FnOnce(&Comm) -> T) -> Option<T> {
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        if let Some(World::Pending(world)) = w.as_ref() {
            match world.dup() {
                Ok(dup) => *w = Some(World::Ready(dup)),
                Err(e) => {
                    eprintln!(
                        "parallel-runtime: #[parallel_map] will not split work across ranks: {e}"
                    );
                    *w = None;
                }
            }
        }
        match w.as_ref() {
            Some(World::Ready(c)) => Some(f(c)),
            _ => None,
        }
    })
}

/// Rank `rank` of `size`'s contiguous share of `n` items: the first
/// `n % size` ranks get one more.
fn block(n: usize, rank: usize, size: usize) -> (usize, usize) {
    let (q, r) = (n / size, n % size);
    let lo = rank * q + rank.min(r);
    (lo, lo + q + usize::from(rank < r))
}

/// This rank's share `[lo, hi)` of `n` items, or `None` when the program is
/// not a job of several ranks (the map then runs on this rank's pool).
pub(crate) fn share(n: usize) -> Option<(usize, usize)> {
    with_comm(|c| block(n, c.rank(), c.size()))
}

/// Every rank's results, in rank order (so in input order), on every rank.
pub(crate) fn all_gather_results<R>(
    site: &MapSite,
    local: Vec<R>,
    codec: ResultCodec<R>,
) -> Vec<R> {
    let mut local = Some(local);
    let gathered = with_comm(|comm| {
        let local = local.take().unwrap_or_default();
        let rank = comm.rank();
        let bytes = (codec.encode)(&local).unwrap_or_else(|e| {
            panic!(
                "{}: rank {rank}: cannot encode this rank's results: {e}",
                site.name
            )
        });
        drop(local);
        let parts = comm
            .allgather_bytes(bytes, "parallel_map")
            .unwrap_or_else(|e| {
                panic!(
                    "{}: gathering the results of all ranks failed: {e}",
                    site.name
                )
            });
        let mut out = Vec::new();
        for (r, part) in parts.iter().enumerate() {
            let mut v = (codec.decode)(part).unwrap_or_else(|e| {
                panic!(
                    "{}: rank {rank}: cannot decode the results of rank {r}: {e}",
                    site.name
                )
            });
            out.append(&mut v);
        }
        out
    });
    gathered.or(local).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::block;

    #[test]
    fn blocks_cover_in_order() {
        for n in [0, 1, 5, 7, 100] {
            for size in 1..6 {
                let mut next = 0;
                for rank in 0..size {
                    let (lo, hi) = block(n, rank, size);
                    assert_eq!(lo, next);
                    next = hi;
                }
                assert_eq!(next, n);
            }
        }
    }
}
