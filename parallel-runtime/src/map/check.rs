//! Before a map splits its items across ranks: every rank checks, with one
//! collective call and before any item runs, that all ranks hold the same
//! number of items in the same order (else the shares would overlap and
//! leave gaps), by a fingerprint of the items in their order.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::Hasher;

use rayon::prelude::*;

use super::options::MapSite;
use crate::items::{IntoItems, ItemFingerprint};
use crate::mpi::world::with_comm;

/// Items per block of the fingerprint: a function of nothing, so every
/// rank cuts the same blocks of the same items.
const FINGERPRINT_BLOCK: usize = 4096;

/// A fingerprint of `items` in their order: each block of
/// [`FINGERPRINT_BLOCK`] items hashed on the pool, the blocks' hashes then
/// combined in order with the count. `&mut` only so that items need not be
/// `Sync` (nothing is changed).
fn fingerprint<T: Send>(items: &mut [T], feed: ItemFingerprint<T>) -> u64 {
    let blocks: Vec<u64> = items
        .par_chunks_mut(FINGERPRINT_BLOCK)
        .map(|block| {
            let mut h = DefaultHasher::new();
            for x in block.iter() {
                feed(x, &mut h);
            }
            h.finish()
        })
        .collect();
    let mut h = DefaultHasher::new();
    h.write_u64(items.len() as u64);
    for b in blocks {
        h.write_u64(b);
    }
    h.finish()
}

/// Where the items of a map come from, for the messages of
/// [`check_items`].
struct Source {
    /// [`crate::IntoItems::ORDER_PER_PROCESS`].
    per_process_order: bool,
    /// The item type's name.
    item_type: &'static str,
}

const ADVICE: &str = "a HashMap or HashSet iterates in an order of its own in each process (its \
                      hasher is seeded per process), so the ranks would split different \
                      sequences; pass a BTreeMap, a BTreeSet or a sorted Vec instead \
                      (`let mut v: Vec<_> = map.into_iter().collect(); v.sort();`)";

/// Checks, before any item runs, that every rank holds `count` items with
/// the same fingerprint as this one (`None`: the count only, the items
/// having no fingerprint), since each rank runs its share of the items *by
/// position*. A collective call on the maps' communicator: on a mismatch
/// every rank panics with the same message, which names the ranks, so that
/// no rank waits for the others; nothing when no world of several ranks is
/// installed.
///
/// Items from a source whose order is per process (`HashMap`, `HashSet`)
/// and which have no fingerprint are refused on every rank alike, before
/// any message is sent.
fn check_items(site: &MapSite, source: &Source, count: usize, fp: Option<u64>) {
    let mismatch = with_comm(|comm| {
        if source.per_process_order && fp.is_none() {
            panic!(
                "{}: backend mpi: the items come from a HashMap or HashSet and their type `{}` \
                 implements neither `Hash` nor serde's `Serialize`, so the ranks cannot check \
                 that they split the same sequence of items; {ADVICE}, or derive `Hash` for the \
                 item type",
                site.name, source.item_type
            );
        }
        let mut mine = Vec::with_capacity(17);
        mine.extend_from_slice(&(count as u64).to_le_bytes());
        mine.push(u8::from(fp.is_some()));
        mine.extend_from_slice(&fp.unwrap_or(0).to_le_bytes());
        let all = comm
            .allgather_bytes(mine.clone(), "parallel_map_check")
            .unwrap_or_else(|e| {
                panic!(
                    "{}: comparing the items of all ranks failed: {e}",
                    site.name
                )
            });
        if all.iter().all(|theirs| *theirs == mine) {
            None
        } else {
            Some(describe_mismatch(site, source, &all))
        }
    });
    if let Some(Some(msg)) = mismatch {
        panic!("{msg}");
    }
}

/// The message of a mismatch: the ranks grouped by what they hold, in rank
/// order (the same text on every rank).
fn describe_mismatch(site: &MapSite, source: &Source, all: &[Vec<u8>]) -> String {
    /// What one rank holds: its item count, and its fingerprint if any.
    type Holding = (u64, Option<u64>);
    let decode = |b: &[u8]| -> Holding {
        let word = |r: std::ops::Range<usize>| {
            b.get(r)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map_or(0, u64::from_le_bytes)
        };
        let count = word(0..8);
        let fp = (b.get(8) == Some(&1)).then(|| word(9..17));
        (count, fp)
    };
    let mut groups: Vec<(Holding, Vec<usize>)> = Vec::new();
    for (rank, bytes) in all.iter().enumerate() {
        let key = decode(bytes);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ranks)) => ranks.push(rank),
            None => groups.push((key, vec![rank])),
        }
    }
    let counts_differ = groups.iter().any(|((c, _), _)| *c != groups[0].0 .0);
    let mut msg = format!(
        "{}: backend mpi: the ranks do not hold the same items {}, so their shares would \
         overlap and leave gaps; no item ran. ",
        site.name,
        if counts_differ {
            "(not the same number)"
        } else {
            "in the same order"
        }
    );
    for (i, ((count, fp), ranks)) in groups.iter().enumerate() {
        let ranks = ranks
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            msg,
            "{}{} {ranks}: {count} items",
            if i > 0 { "; " } else { "" },
            if ranks.contains(',') { "ranks" } else { "rank" },
        );
        if let Some(fp) = fp {
            let _ = write!(msg, ", order fingerprint {fp:016x}");
        }
    }
    msg.push_str(". ");
    if source.per_process_order {
        let _ = write!(msg, "The cause: {ADVICE}.");
    } else {
        msg.push_str(
            "Every rank must build the same items in the same order (the same input files, \
             the same seeds); a HashMap or HashSet read through an adaptor (`.iter().map(…)`) \
             also iterates in an order of its own in each process: sort its items first.",
        );
    }
    msg
}

/// The items of a map about to be split across ranks, after every rank
/// checked that all ranks hold the same items in the same order.
pub(super) enum Checked<S: IntoItems> {
    /// As the source gave them (their count and order were known without
    /// walking them).
    Par(S::Par),
    /// Collected to be fingerprinted, in their order.
    Collected(Vec<S::Item>),
}

impl<S: IntoItems> Checked<S> {
    /// How many items every rank holds.
    pub(super) fn len(&self) -> usize {
        match self {
            Checked::Par(par) => par.len(),
            Checked::Collected(v) => v.len(),
        }
    }

    /// Items `lo..hi`, this rank's share, as one type whatever the source
    /// (so that the pool's pipelines are instantiated once per map
    /// function, not once per kind of source).
    pub(super) fn share(self, lo: usize, hi: usize) -> Vec<S::Item> {
        match self {
            Checked::Par(par) => par.skip(lo).take(hi - lo).collect(),
            Checked::Collected(mut v) => {
                v.truncate(hi);
                v.split_off(lo)
            }
        }
    }
}

/// Checks with every other rank, before any item runs, that all hold the
/// same number of items in the same order (else the shares would overlap
/// and leave gaps); see [`check_items`]. A collective call.
pub(super) fn checked_items<S: IntoItems>(
    site: &MapSite,
    items: S,
    feed: Option<ItemFingerprint<S::Item>>,
) -> Checked<S> {
    let source = Source {
        per_process_order: S::ORDER_PER_PROCESS,
        item_type: std::any::type_name::<S::Item>(),
    };
    if let Some(known) = items.order_fingerprint() {
        let par = items.into_par();
        check_items(site, &source, par.len(), Some(known));
        return Checked::Par(par);
    }
    match feed {
        None => {
            let par = items.into_par();
            check_items(site, &source, par.len(), None);
            Checked::Par(par)
        }
        Some(feed) => {
            let mut v: Vec<S::Item> = items.into_par().collect();
            let fp = fingerprint(&mut v, feed);
            check_items(site, &source, v.len(), Some(fp));
            Checked::Collected(v)
        }
    }
}

#[cfg(test)]
mod tests {
    /// The cost of the order check's hashing, per item (the collective
    /// call comes on top, once per map).
    #[test]
    #[ignore = "a measurement: cargo test --release -p parallel-runtime --lib fingerprint_cost -- --ignored --nocapture"]
    #[allow(clippy::needless_borrow)]
    fn fingerprint_cost() {
        #[allow(unused_imports)]
        use crate::items::{ItemProbe, ItemUnhashed, ItemViaHash, ItemViaSerde};
        fn per_item<T: Send>(what: &str, mut items: Vec<T>, feed: super::ItemFingerprint<T>) {
            let n = items.len();
            let mut best = f64::MAX;
            for _ in 0..7 {
                let t = std::time::Instant::now();
                std::hint::black_box(super::fingerprint(&mut items, feed));
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{what}: {:.2} ns per item ({n} items, {} threads)",
                best / n as f64 * 1e9,
                rayon::current_num_threads()
            );
        }
        let n = 1_000_000u64;
        let hash = (&&&ItemProbe::<u64>::new()).item_fingerprint().unwrap();
        per_item("u64 by Hash", (0..n).collect(), hash);
        let refs: Vec<u64> = (0..n).collect();
        let hash = (&&&ItemProbe::<&u64>::new()).item_fingerprint().unwrap();
        per_item("&u64 by Hash", refs.iter().collect(), hash);
        let hash = (&&&ItemProbe::<(u64, String)>::new())
            .item_fingerprint()
            .unwrap();
        per_item(
            "(u64, String) by Hash",
            (0..n).map(|i| (i, format!("value {i}"))).collect(),
            hash,
        );
        let serde = (&&&ItemProbe::<(String, f64)>::new())
            .item_fingerprint()
            .unwrap();
        per_item(
            "(String, f64) by serde",
            (0..n).map(|i| (format!("value {i}"), i as f64)).collect(),
            serde,
        );
        let serde = (&&&ItemProbe::<f64>::new()).item_fingerprint().unwrap();
        per_item("f64 by serde", (0..n).map(|i| i as f64).collect(), serde);
    }
}
