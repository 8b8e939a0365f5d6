//! The ranks path (the `mpi` backend with a communicator of several ranks
//! installed on this thread, by `#[mpi_main]`, a local world or
//! `Comm::install`): each rank runs its contiguous share of the items on
//! its own pool, then every rank gathers every rank's results, on a
//! duplicate of the communicator that keeps these messages apart from the
//! program's own.

use super::call::Call;
use super::check::checked_items;
use super::options::MapSite;
use crate::codec::ResultCodec;
use crate::items::{IntoItems, ItemFingerprint};
use crate::mpi::world::with_comm;
use crate::mpi::Comm;

/// The ranks path: the items checked with every rank (a collective call),
/// then this rank's share of the units through `on_pool` on this rank's pool,
/// then every rank's results, in input order, on every rank.
///
/// A unit is `unit_of(n)` items of the `n` (one for a map, a block for a
/// reduction): shares are cut between units, and `on_pool` gets this rank's
/// items, the index of the first, and the unit. When the maps'
/// communicator cannot be made (said on stderr), every unit runs here.
pub(super) fn run<S, R>(
    call: &Call<'_>,
    items: S,
    fingerprint: Option<ItemFingerprint<S::Item>>,
    codec: Option<ResultCodec<R>>,
    unit_of: impl FnOnce(usize) -> usize,
    on_pool: impl FnOnce(Vec<S::Item>, usize, usize) -> Vec<R>,
) -> Vec<R>
where
    S: IntoItems,
{
    let site = call.site;
    let items = checked_items(site, items, fingerprint);
    let n = items.len();
    let unit = unit_of(n);
    // Units `lo..hi` as items (the last share may be empty).
    let split = share(n.div_ceil(unit)).map(|(lo, hi)| ((lo * unit).min(n), (hi * unit).min(n)));
    match split {
        None => on_pool(items.share(0, n), 0, unit),
        Some((lo, hi)) => {
            let codec = codec.unwrap_or_else(|| need_serde(site));
            let local = on_pool(items.share(lo, hi), lo, unit);
            all_gather_results(site, local, codec)
        }
    }
}

/// The ranks path of `try_map`: the items checked with every rank, this
/// rank's share through `on_pool` (which gets the items and the index of
/// the first, and stops at its first failure), then on every rank either
/// every rank's `Ok` values in input order, or the failure of the lowest
/// rank that failed (its lowest index among the items that ran there), with
/// its error decoded from that rank's message.
pub(super) fn run_try<S, T, E>(
    call: &Call<'_>,
    items: S,
    fingerprint: Option<ItemFingerprint<S::Item>>,
    (ok, err): (ResultCodec<T>, ResultCodec<E>),
    on_pool: impl FnOnce(Vec<S::Item>, usize) -> Result<Vec<T>, (usize, E)>,
) -> Result<Vec<T>, (usize, E)>
where
    S: IntoItems,
{
    let site = call.site;
    let items = checked_items(site, items, fingerprint);
    let n = items.len();
    let Some((lo, hi)) = share(n) else {
        return on_pool(items.share(0, n), 0);
    };
    let local = on_pool(items.share(lo, hi), lo);
    let mut local = Some(local);
    let gathered = with_comm(|comm| {
        let rank = comm.rank();
        // A part is the encoded values, then for a failure its index, then
        // one byte that says which (at the end: no copy of the values).
        let bytes = match local.take() {
            Some(Ok(values)) => {
                let mut b = encode_part(site, rank, &values, ok);
                b.push(OK);
                b
            }
            Some(Err((index, e))) => {
                let mut b = encode_part(site, rank, &[e], err);
                b.extend((index as u64).to_le_bytes());
                b.push(FAILED);
                b
            }
            None => unreachable!("this rank's results are taken once"),
        };
        let parts = gather_parts(site, comm, bytes);
        // The lowest rank that failed holds the failure with the lowest
        // index among those seen (the shares are in rank order).
        let failed = |p: &&Vec<u8>| p.last() == Some(&FAILED);
        if let Some((r, part)) = parts.iter().enumerate().find(|(_, p)| failed(p)) {
            let (part, index) = part[..part.len() - 1].split_at(part.len() - 9);
            let index = u64::from_le_bytes(index.try_into().unwrap_or_default());
            let mut e = decode_part(site, rank, r, part, err);
            let e = e
                .pop()
                .unwrap_or_else(|| unreachable!("a failure holds its error"));
            return Err((usize::try_from(index).unwrap_or(usize::MAX), e));
        }
        let mut out = Vec::with_capacity(n);
        for (r, part) in parts.iter().enumerate() {
            let values = part.split_last().map_or(&[][..], |(_, v)| v);
            out.append(&mut decode_part(site, rank, r, values, ok));
        }
        Ok(out)
    });
    gathered.or(local).unwrap_or_else(|| Ok(Vec::new()))
}

/// The last byte of a rank's part in `try_map`'s gather.
const OK: u8 = 0;
const FAILED: u8 = 1;

/// Every rank's part, in rank order, on every rank.
fn gather_parts(site: &MapSite, comm: &Comm, bytes: Vec<u8>) -> Vec<Vec<u8>> {
    comm.allgather_bytes(bytes, "parallel_map")
        .unwrap_or_else(|e| {
            panic!(
                "{}: gathering the results of all ranks failed: {e}",
                site.name
            )
        })
}

fn encode_part<R>(site: &MapSite, rank: usize, v: &[R], c: ResultCodec<R>) -> Vec<u8> {
    (c.encode)(v).unwrap_or_else(|e| {
        panic!(
            "{}: rank {rank}: cannot encode this rank's results: {e}",
            site.name
        )
    })
}

fn decode_part<R>(site: &MapSite, rank: usize, from: usize, b: &[u8], c: ResultCodec<R>) -> Vec<R> {
    (c.decode)(b).unwrap_or_else(|e| {
        panic!(
            "{}: rank {rank}: cannot decode the results of rank {from}: {e}",
            site.name
        )
    })
}

#[track_caller]
fn need_serde(site: &MapSite) -> ! {
    panic!(
        "{}: the `mpi` backend sends results between ranks, so the result type must implement \
         serde's `Serialize` and `Deserialize`; derive them, or use the `threads` backend",
        site.name
    )
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
fn share(n: usize) -> Option<(usize, usize)> {
    with_comm(|c| block(n, c.rank(), c.size()))
}

/// Every rank's results, in rank order (so in input order), on every rank.
fn all_gather_results<R>(site: &MapSite, local: Vec<R>, codec: ResultCodec<R>) -> Vec<R> {
    let mut local = Some(local);
    let gathered = with_comm(|comm| {
        let local = local.take().unwrap_or_default();
        let rank = comm.rank();
        let bytes = encode_part(site, rank, &local, codec);
        drop(local);
        let parts = gather_parts(site, comm, bytes);
        let mut out = Vec::new();
        for (r, part) in parts.iter().enumerate() {
            out.append(&mut decode_part(site, rank, r, part, codec));
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
