//! The windows of a stream: their sizes, their growth while items are
//! cheap (bounded), and the reuse of their buffers.

use std::time::Duration;

use super::super::super::options::{MapOptions, MapSite};
use super::*;

static SITE: MapSite = MapSite {
    name: "windows",
    defaults: MapOptions::new(),
};

/// A stream's input over `0..n`.
fn source(options: &MapOptions, n: u64) -> Source<std::ops::Range<u64>> {
    start(&SITE, Some(options), 0..n, |x: u64| x).0
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
fn sizes(s: &mut Source<std::ops::Range<u64>>, took: Duration) -> Vec<usize> {
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
