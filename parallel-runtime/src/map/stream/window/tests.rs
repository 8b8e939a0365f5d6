//! The windows of a stream: their sizes, their growth while items are
//! cheap (bounded), and the reuse of their buffers.

use std::time::Duration;

use super::super::super::options::{MapOptions, MapSite};
use super::super::input::{Pulled, RefPart, RefProbe, Refs, ViaPull as _, ViaSlice as _};
use super::*;

static SITE: MapSite = MapSite {
    name: "windows",
    defaults: MapOptions::new(),
};

/// A stream's input over `0..n`.
fn source(options: &MapOptions, n: u64) -> Source<Pulled<std::ops::Range<u64>>> {
    start(&SITE, Some(options), Pulled(0..n), |x: u64| x).0
}

#[test]
fn window_sizes_follow_the_chunk_the_threads_and_the_item_size() {
    let threads = crate::config::ensure_pool();
    let plan = |o: MapOptions| SITE.plan(Some(&o));
    let free = plan(MapOptions::new().backend(Backend::Threads));
    let (first, max, cheap) = window::<u64>(&free);
    assert_eq!((first, max), (threads * 64, threads * 16 * 1024));
    assert_eq!(cheap, max.max((1 << 20) / 8));
    // Items of a kilobyte: 1 MiB holds fewer than the largest window.
    assert_eq!(window::<[u8; 1024]>(&free).2, max);
    let chunked = plan(MapOptions::new().backend(Backend::Threads).chunk_size(4));
    assert_eq!(
        window::<u64>(&chunked),
        (threads * 4, threads * 4, threads * 4)
    );
    let serial = plan(MapOptions::new().backend(Backend::Serial));
    assert_eq!(window::<u64>(&serial), (1, 1, 1));
}

/// Pulls every window of `s` as a run would leave it, telling each run
/// took `took`: the windows' sizes, after checking that they hold the
/// input in order.
fn sizes(s: &mut Source<Pulled<std::ops::Range<u64>>>, took: Duration) -> Vec<usize> {
    let (mut sizes, mut next) = (Vec::new(), 0u64);
    while let Some(mut w) = s.fill() {
        assert_eq!(w.offset(), next as usize);
        for x in w.items.drain(..) {
            assert_eq!(x, next);
            next += 1;
        }
        let len = next as usize - w.offset();
        sizes.push(len);
        s.recycle(w);
        s.grow_if_quick(len, took);
    }
    sizes
}

#[test]
fn quick_windows_grow_past_the_largest_up_to_a_megabyte_of_items() {
    let o = MapOptions::new().backend(Backend::Threads);
    let (_, max, cheap) = window::<u64>(&SITE.plan(Some(&o)));
    let n = 4 * cheap as u64 + 3 * max as u64;
    let quick = sizes(&mut source(&o, n), Duration::ZERO);
    // Each window at least the last (but the last, the rest of the input).
    let whole = &quick[..quick.len() - 1];
    assert!(whole.windows(2).all(|w| w[0] <= w[1]), "{quick:?}");
    assert!(quick.iter().all(|&w| w <= cheap), "{quick:?}");
    assert!(quick.contains(&cheap), "{quick:?}");
    // Slow windows stop at the largest size.
    let slow = sizes(&mut source(&o, n), Duration::from_secs(1));
    assert!(slow.iter().all(|&w| w <= max), "{slow:?}");
    assert!(slow.contains(&max), "{slow:?}");
}

#[test]
fn a_quick_window_sizes_the_next_for_a_millisecond_and_a_fold_starts_large() {
    let o = MapOptions::new().backend(Backend::Threads);
    let (first, max, cheap) = window::<u64>(&SITE.plan(Some(&o)));
    let mut s = source(&o, 100 * cheap as u64);
    let w = s.fill().expect("a window");
    assert_eq!(w.len(), first);
    s.recycle(w);
    // The first window took 10 µs: the next is sized for 1 ms at that
    // rate (100 times the first), not merely four times larger.
    s.grow_if_quick(first, Duration::from_micros(10));
    let w = s.fill().expect("a second window");
    assert_eq!(w.len(), (first * 100).min(cheap), "after 10 µs");
    s.recycle(w);
    // A window of 4 items that took no time at all: capped at the bound.
    s.grow_if_quick(4, Duration::ZERO);
    assert_eq!(s.fill().expect("a third window").len(), cheap);
    // A fold's first window is the largest size straight away.
    let mut s = source(&o, 100 * cheap as u64);
    s.for_fold();
    assert_eq!(s.fill().expect("a fold's window").len(), max);
}

#[test]
fn a_window_fills_the_buffer_of_the_window_before_it() {
    let o = MapOptions::new().backend(Backend::Threads).chunk_size(4);
    let mut s = source(&o, 1_000);
    let mut w = s.fill().expect("a window");
    let buffer = w.items.as_ptr();
    w.items.clear();
    s.recycle(w);
    let w = s.fill().expect("a second window");
    assert_eq!(w.items.as_ptr(), buffer);
    let threads = crate::config::ensure_pool();
    assert_eq!((w.offset(), w.items.len()), (4 * threads, 4 * threads));
}

/// The windows a `Refs` input gives, each a range of the slice (its first
/// item's address and its length), or `None` for a window pulled.
fn cut<'a, X: Sync, It: Iterator<Item = &'a X>>(
    mut input: Refs<'a, X, It>,
    n: usize,
) -> Vec<Option<(*const X, usize)>> {
    let mut windows = Vec::new();
    loop {
        let part = input.take(n, None);
        if part.len() == 0 {
            return windows;
        }
        windows.push(match part {
            RefPart::Slice(s) => Some((s.as_ptr().cast::<X>(), s.len())),
            RefPart::Pulled(_) => None,
        });
    }
}

// `(&probe).stream_input(…)`: the autoref the macro writes, spelled out.
#[allow(clippy::needless_borrow)]
#[test]
fn a_slice_walked_by_reference_is_cut_in_place_and_other_inputs_are_pulled() {
    let v: Vec<u64> = (0..10).collect();
    let base = v.as_ptr();
    let ranges = |input| cut(input, 4);
    let whole = vec![
        Some((base, 4)),
        Some((base.wrapping_add(4), 4)),
        Some((base.wrapping_add(8), 2)),
    ];
    let probe = || RefProbe::<u64>::new();
    // `&v`, `&v[..]`, `v.iter()` and an array by reference: cut.
    assert_eq!(ranges((&probe()).stream_input(&v)), whole);
    assert_eq!(ranges((&probe()).stream_input(&v[..])), whole);
    assert_eq!(ranges((&probe()).stream_input(v.iter())), whole);
    let a = [1u64, 2, 3];
    assert_eq!(
        ranges((&probe()).stream_input(&a)),
        vec![Some((a.as_ptr(), 3))]
    );
    // A slice's iterator part-way through: the rest of it.
    let mut it = v.iter();
    it.next();
    assert_eq!(
        cut((&probe()).stream_input(it), 100),
        vec![Some((base.wrapping_add(1), 9))]
    );
    // Any other iterator of references: pulled.
    let odd = (&probe()).stream_input(v.iter().filter(|x| *x % 2 == 1));
    assert_eq!(cut(odd, 4), vec![None, None]);
    let rev = (&probe()).stream_input(v.iter().rev());
    assert_eq!(cut(rev, 4), vec![None, None, None]);
}

#[test]
fn references_to_an_unsized_type_are_pulled() {
    let words = ["a", "bc", "def"];
    let input = (&RefProbe::<str>::new()).stream_input(words.iter().copied());
    let mut input = input;
    let part: Vec<&str> = input.take(10, None);
    assert_eq!(part, words);
}
