//! Unit tests of the items: the fingerprint probe, the ranges, the order of
//! hash collections.

use super::*;

fn fingerprint_of<T>(f: Option<ItemFingerprint<T>>, x: &T) -> Option<u64> {
    f.map(|f| {
        let mut h = DefaultHasher::new();
        f(x, &mut h);
        h.finish()
    })
}

#[test]
#[allow(clippy::needless_borrow)]
fn the_probe_prefers_hash_then_serde() {
    #[allow(unused_imports)]
    use super::{ItemUnhashed, ItemViaHash, ItemViaSerde};
    struct Opaque;
    let by_hash = (&&&ItemProbe::<(u32, String)>::new()).item_fingerprint();
    let by_serde = (&&&ItemProbe::<(String, f64)>::new()).item_fingerprint();
    let none = (&&&ItemProbe::<Opaque>::new()).item_fingerprint();
    assert!(none.is_none());
    let a = fingerprint_of(by_hash, &(1, "a".into()));
    assert!(a.is_some());
    assert_eq!(a, fingerprint_of(by_hash, &(1, "a".into())));
    assert_ne!(a, fingerprint_of(by_hash, &(2, "a".into())));
    let b = fingerprint_of(by_serde, &("a".into(), 0.5));
    assert!(b.is_some());
    assert_ne!(b, fingerprint_of(by_serde, &("a".into(), 0.25)));
}

#[test]
fn range_fingerprints_name_their_values() {
    assert_eq!((0..10u8).order_fingerprint(), (0..=9u8).order_fingerprint());
    let (hi, lo) = (7u8, 3u8);
    assert_eq!((5..5u8).order_fingerprint(), (hi..lo).order_fingerprint());
    assert_ne!((0..10u8).order_fingerprint(), (0..11u8).order_fingerprint());
    assert_ne!((0..10u8).order_fingerprint(), (1..11u8).order_fingerprint());
}

#[test]
fn hash_collections_say_their_order_is_per_process() {
    use std::collections::{BTreeMap, HashMap, HashSet};
    fn per_process<S: IntoItems>(_: &S) -> bool {
        S::ORDER_PER_PROCESS
    }
    let m: HashMap<u32, u32> = HashMap::new();
    let s: HashSet<u32> = HashSet::new();
    let b: BTreeMap<u32, u32> = BTreeMap::new();
    assert!(per_process(&m) && per_process(&&m) && per_process(&m.iter()));
    assert!(per_process(&s) && per_process(&s.iter()));
    assert!(!per_process(&b) && !per_process(&vec![1]) && !per_process(&(0..3)));
}
