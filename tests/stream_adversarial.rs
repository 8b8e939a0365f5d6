//! Adversarial checks of the streaming maps (`f::imap` and friends): every
//! value made is dropped exactly once whatever ends the stream (a consumer
//! that panics, an item that panics, a stream dropped half-way, buffers
//! reused by the next stream on the thread), items and results that borrow,
//! unusual sizes, options and nesting, against the serial loop.

use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use parallel_runtime::prelude::*;

/// Values alive: made by the item functions below, less those dropped
/// (a value dropped twice makes it fall below what it was before).
static ALIVE: AtomicIsize = AtomicIsize::new(0);
/// Serializes the tests that make `Counted` values (the harness runs tests
/// on several threads, and each checks `ALIVE` against what it was).
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A result that counts itself: the same size and alignment as a `u64`,
/// so that its buffers are those a stream of `u64`s reuses.
#[derive(Debug, PartialEq)]
struct Counted(u64);

impl Counted {
    fn new(x: u64) -> Self {
        ALIVE.fetch_add(1, Ordering::SeqCst);
        Counted(x)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = ALIVE.fetch_sub(1, Ordering::SeqCst);
        assert!(before > 0, "a value of {} dropped twice", self.0);
    }
}

#[parallel_map]
fn counted(x: u64) -> Counted {
    Counted::new(x)
}

#[parallel_map]
fn counted_ref(x: &u64) -> Counted {
    assert!(*x != 77_777, "boom at {x}");
    Counted::new(*x)
}

#[parallel_map]
fn plain_ref(x: &u64) -> u64 {
    *x + 1
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    COUNTING.lock().unwrap_or_else(|p| p.into_inner())
}

fn alive() -> isize {
    ALIVE.load(Ordering::SeqCst)
}

fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
}

fn options() -> Vec<MapOptions> {
    vec![
        MapOptions::new().backend(Backend::Serial),
        MapOptions::new().backend(Backend::Threads),
        MapOptions::new().backend(Backend::Threads).chunk_size(3),
        MapOptions::new()
            .backend(Backend::Threads)
            .schedule(Schedule::Dynamic)
            .chunk_size(5),
        MapOptions::new()
            .backend(Backend::Threads)
            .schedule(Schedule::Static),
        MapOptions::new().backend(Backend::Threads).threads(3),
        MapOptions::new().backend(Backend::Threads).progress(true),
        // One process: the local world, each rank streaming on its pool.
        MapOptions::new().backend(Backend::Mpi).chunk_size(9),
    ]
}

/// Whatever ends a stream, each value made is dropped once, and the
/// buffers the thread keeps between streams hold none of them.
#[test]
fn every_value_is_dropped_once_whatever_ends_the_stream() {
    let _guard = lock();
    let v: Vec<u64> = (0..100_000).collect();
    for o in options() {
        let base = alive();
        // Whole, by next() and by a fold, pulled and read in place.
        assert_eq!(counted::imap_with(&o, 0..50_000u64).count(), 50_000);
        assert_eq!(counted_ref::imap_with(&o, &v[..50_000]).count(), 50_000);
        let sum: u64 = counted_ref::imap_with(&o, &v[..1000]).map(|c| c.0).sum();
        assert_eq!(sum, (0..1000).sum::<u64>());
        assert_eq!(alive(), base, "{o:?}: whole streams");
        // Dropped after a few next(), then a fold after a few next().
        let mut it = counted_ref::imap_unordered_with(&o, v.iter());
        assert_eq!(it.next().map(|(i, c)| (i, c.0)), Some((0, 0)));
        drop(it);
        let mut it = counted::imap_with(&o, 0..10_000u64);
        let head: Vec<Counted> = it.by_ref().take(3).collect();
        let mut n = head.len();
        it.for_each(|c| {
            assert_eq!(c.0, n as u64);
            n += 1;
        });
        assert_eq!(n, 10_000);
        drop(head);
        assert_eq!(alive(), base, "{o:?}: dropped half-way");
        // A consumer that panics mid-window, then streams on the same
        // thread reuse the buffers it left.
        for at in [0u64, 1, 4_999, 70_000] {
            let caught = quietly(|| {
                counted_ref::imap_with(&o, &v[..75_000]).for_each(|c| {
                    assert!(c.0 != at, "the consumer gives up at {at}");
                })
            });
            assert!(caught.is_err(), "{o:?}");
            assert_eq!(alive(), base, "{o:?}: consumer panicked at {at}");
            let caught = quietly(|| {
                counted::imap_unordered_with(&o, 0..75_000u64).fold(0, |a, (i, c)| {
                    assert!(c.0 != at, "the consumer gives up at {at}");
                    assert_eq!(i as u64, c.0);
                    a + 1
                })
            });
            assert!(caught.is_err());
            assert_eq!(alive(), base, "{o:?}: consumer panicked at {at}");
        }
        // An item that panics in the middle of a window.
        let caught = quietly(|| counted_ref::imap_with(&o, &v).for_each(drop)).unwrap_err();
        let p = caught.downcast::<ItemPanic>().unwrap();
        assert_eq!(p.index(), 77_777, "{o:?}");
        let mut it = counted_ref::imap_with(&o, v.iter());
        let mut last = None;
        let caught = quietly(|| it.by_ref().for_each(|c| last = Some(c.0)));
        assert!(caught.is_err());
        assert_eq!(it.next(), None, "{o:?}: the stream ended");
        drop(it);
        assert!(last.is_none_or(|l| l < 77_777), "{o:?}");
        assert_eq!(alive(), base, "{o:?}: an item panicked");
        // Forgotten: its values leak, none is dropped (twice or at all)
        // by a later stream reusing its buffers.
        let mut it = counted::imap_with(&o, 0..10_000u64);
        assert_eq!(it.next().map(|c| c.0), Some(0));
        let held = alive() - base;
        std::mem::forget(it);
        let sum: u64 = plain_ref::imap_with(&o, &v).sum();
        assert_eq!(sum, (1..=100_000).sum::<u64>());
        assert_eq!(counted::imap_with(&o, 0..10_000u64).count(), 10_000);
        assert_eq!(alive() - base, held, "{o:?}: forgotten");
        ALIVE.fetch_sub(held, Ordering::SeqCst);
    }
}

/// A result whose drop panics for one value: the panic comes out of the
/// consumer, every other value is dropped once, and the next stream on the
/// thread is whole.
#[test]
fn a_result_whose_drop_panics_comes_out_of_the_consumer() {
    struct Fussy(u64, &'static AtomicUsize);
    impl Drop for Fussy {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
            assert!(self.0 != 1234, "drop of {} fails", self.0);
        }
    }
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    static MADE: AtomicUsize = AtomicUsize::new(0);
    #[parallel_map]
    fn fussy(x: u64) -> Fussy {
        MADE.fetch_add(1, Ordering::SeqCst);
        Fussy(x, &DROPS)
    }
    for o in options() {
        DROPS.store(0, Ordering::SeqCst);
        MADE.store(0, Ordering::SeqCst);
        let caught = quietly(|| fussy::imap_with(&o, 0..5_000u64).for_each(drop));
        assert!(caught.is_err(), "{o:?}");
        // Every value made was dropped once: those before 1234, 1234, and
        // those made after it (at most two windows).
        let dropped = DROPS.load(Ordering::SeqCst);
        assert!(dropped >= 1235, "{o:?}: {dropped}");
        assert_eq!(dropped, MADE.load(Ordering::SeqCst), "{o:?}");
        let n: u64 = fussy::imap_with(&o, 0..5_000u64)
            .map(|f| {
                let x = f.0;
                if x == 1234 {
                    std::mem::forget(f);
                }
                x
            })
            .sum();
        assert_eq!(n, (0..5_000).sum::<u64>());
    }
}

/// Items `&&str` (a lifetime inside `X`), results borrowed from the items,
/// `X` with a lifetime of its own: every shape of input yields the serial
/// loop's results, through `next()` and a fold.
#[test]
#[allow(clippy::ptr_arg)] // `&String`: a sized `X`, read in place.
fn items_and_results_that_borrow_stream_as_the_serial_loop() {
    #[parallel_map]
    fn first_half(s: &&str) -> usize {
        s.len() / 2
    }
    #[parallel_map]
    fn tail(s: &String) -> &str {
        &s[s.len() / 2..]
    }
    struct Named<'n> {
        name: &'n str,
        weight: u64,
    }
    #[parallel_map]
    fn weigh(n: &Named<'_>) -> (usize, u64) {
        (n.name.len(), n.weight * 2)
    }
    let owned: Vec<String> = (0..20_000).map(|i| format!("item {i}")).collect();
    let strs: Vec<&str> = owned.iter().map(String::as_str).collect();
    let named: Vec<Named<'_>> = strs
        .iter()
        .enumerate()
        .map(|(i, s)| Named {
            name: s,
            weight: i as u64,
        })
        .collect();
    for o in options() {
        let want: Vec<usize> = strs.iter().map(|s| s.len() / 2).collect();
        let got: Vec<usize> = first_half::imap_with(&o, &strs).collect();
        assert_eq!(got, want, "{o:?}");
        let got: Vec<usize> = first_half::imap_with(&o, strs.iter().rev()).collect();
        assert!(got.iter().rev().eq(want.iter()), "{o:?}");
        let want: Vec<&str> = owned.iter().map(|s| &s[s.len() / 2..]).collect();
        let got: Vec<&str> = tail::imap_with(&o, &owned).collect();
        assert_eq!(got, want, "{o:?}");
        let mut folded = Vec::new();
        tail::imap_with(&o, owned.iter()).for_each(|t| folded.push(t));
        assert_eq!(folded, want, "{o:?}");
        let got: Vec<(usize, (usize, u64))> = weigh::imap_unordered_with(&o, &named).collect();
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &(j, w))| i == j && w == (strs[i].len(), 2 * i as u64)));
    }
}

/// Zero-sized items and results, huge items, and a result aligned beyond
/// any buffer a stream of `u64`s leaves behind.
#[test]
fn unusual_sizes_and_alignments() {
    #[parallel_map]
    fn nothing(_: &()) {}
    #[parallel_map]
    fn big_sum(b: &[u8; 4096]) -> u64 {
        b.iter().map(|&x| u64::from(x)).sum()
    }
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(align(64))]
    struct Wide(u64);
    #[parallel_map]
    fn wide(x: &u64) -> Wide {
        Wide(*x * 3)
    }
    #[parallel_map]
    fn byte(x: &u64) -> u8 {
        *x as u8
    }
    let units = vec![(); 100_000];
    let bigs: Vec<[u8; 4096]> = (0..300).map(|i| [i as u8; 4096]).collect();
    let v: Vec<u64> = (0..100_000).collect();
    for o in options() {
        assert_eq!(nothing::imap_with(&o, &units).count(), 100_000);
        let mut n = 0;
        nothing::imap_unordered_with(&o, units.iter()).for_each(|(i, ())| {
            assert_eq!(i, n);
            n += 1;
        });
        assert_eq!(n, 100_000);
        let got: Vec<u64> = big_sum::imap_with(&o, &bigs).collect();
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &s)| s == 4096 * u64::from(i as u8)));
        // Buffers of several layouts in turn on this thread.
        for _ in 0..3 {
            let s: u64 = plain_ref::imap_with(&o, &v).sum();
            assert_eq!(s, (1..=100_000).sum::<u64>());
            let mut k = 0u64;
            wide::imap_with(&o, &v).for_each(|w| {
                assert_eq!(w, Wide(3 * k));
                assert_eq!(std::ptr::from_ref(&w).align_offset(64), 0);
                k += 1;
            });
            assert_eq!(k, 100_000);
            let bytes: u64 = byte::imap_with(&o, &v).map(u64::from).sum();
            assert_eq!(bytes, v.iter().map(|&x| u64::from(x as u8)).sum::<u64>());
        }
    }
}

#[parallel_map]
fn fails_at_ends(x: &u64, last: &u64) -> Result<u64, String> {
    if *x == 0 || *x == *last {
        Err(format!("bad {x}"))
    } else {
        Ok(*x)
    }
}

/// `try_imap` over a slice whose first and last items fail; `&v[..0]`;
/// a slice iterator after `nth`.
#[test]
fn try_imap_over_a_slice_failing_at_both_ends() {
    let v: Vec<u64> = (0..50_000).collect();
    for o in options() {
        let got: Vec<_> = fails_at_ends::try_imap_with(&o, &v, &49_999).collect();
        assert_eq!(got.len(), 1, "{o:?}");
        assert_eq!(got[0].as_ref().unwrap_err().index(), 0);
        let got: Vec<_> = fails_at_ends::try_imap_with(&o, &v[1..], &49_999).collect();
        assert_eq!(got.len(), 49_999, "{o:?}");
        assert!(got[..49_998]
            .iter()
            .enumerate()
            .all(|(i, r)| r.as_ref().ok() == Some(&(i as u64 + 1))));
        let err = got[49_998].as_ref().unwrap_err();
        assert_eq!((err.index(), err.error().as_str()), (49_998, "bad 49999"));
        let n = fails_at_ends::try_imap_with(&o, &v[1..], &49_999).count();
        assert_eq!(n, 49_999);
        // The same through a fold: nothing after the failure.
        let n = fails_at_ends::try_imap_with(&o, &v, &49_999).count();
        assert_eq!(n, 1, "{o:?}");
        let last = fails_at_ends::try_imap_unordered_with(&o, &v, &49_999).last();
        assert_eq!(last.unwrap().unwrap_err().index(), 0, "{o:?}");
        let got: Vec<_> = fails_at_ends::try_imap_unordered_with(&o, &v, &49_999).collect();
        let errs: Vec<usize> = got
            .iter()
            .filter_map(|r| r.as_ref().err().map(ItemError::index))
            .collect();
        assert_eq!(errs, [0], "{o:?}: the failure with the lowest index");
        assert!(matches!(got.last(), Some(Err(_))), "{o:?}");
        assert!(got
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .all(|&(i, x)| x == i as u64));
        assert_eq!(fails_at_ends::try_imap_with(&o, &v[..0], &0).count(), 0);
        let mut it = v.iter();
        it.nth(9_999);
        let mut it = plain_ref::imap_unordered_with(&o, it);
        assert_eq!(it.next(), Some((0, 10_001)));
        let rest: Vec<(usize, u64)> = it.collect();
        assert_eq!(rest.len(), 39_999);
        assert!(rest.iter().all(|&(i, x)| x == i as u64 + 10_001 && i >= 1));
    }
}

/// A chunk size as large as the input or far beyond it: one window,
/// whatever the input's size hint says. The window's buffer was reserved
/// whole before any item was pulled: with no upper bound to the hint (or
/// one far off), `chunk_size(usize::MAX)` panicked with "capacity
/// overflow", and `chunk_size(1 << 40)` aborted the process.
#[test]
fn a_huge_chunk_size_is_one_window_whatever_the_size_hint() {
    let _guard = lock();
    let v: Vec<u64> = (0..1000).collect();
    for chunk in [1 << 20, 1 << 40, usize::MAX / 4, usize::MAX] {
        let o = MapOptions::new()
            .backend(Backend::Threads)
            .chunk_size(chunk);
        let got: Vec<u64> = plain_ref::imap_with(&o, &v).collect();
        assert_eq!(got, (1..=1000).collect::<Vec<_>>());
        // No upper bound, and one far off.
        let mut k = 0;
        let unbounded = std::iter::from_fn(|| (k < 1000).then_some(k).inspect(|_| k += 1));
        let got: Vec<u64> = counted::imap_with(&o, unbounded).map(|c| c.0).collect();
        assert_eq!(got, (0..1000).collect::<Vec<_>>(), "chunk size {chunk}");
        let far = (0..u64::MAX).take_while(|&x| x < 1000);
        let sum: u64 = counted::imap_with(&o, far).map(|c| c.0).sum();
        assert_eq!(sum, (0..1000).sum::<u64>(), "chunk size {chunk}");
        let refs: Vec<(usize, u64)> =
            plain_ref::imap_unordered_with(&o, v.iter().filter(|_| true)).collect();
        assert!(refs
            .iter()
            .enumerate()
            .all(|(i, &(j, x))| i == j && x == j as u64 + 1));
    }
}

/// An `imap` started inside the items of a map (and of another `imap`),
/// on the pool: every inner stream whole, in order.
#[test]
fn nested_streams_on_the_pool() {
    #[parallel_map]
    fn inner_sum(n: &u64, v: &[u64]) -> u64 {
        let slice = &v[..*n as usize];
        let by_fold: u64 = plain_ref::imap(slice).sum();
        let by_next: Vec<u64> = plain_ref::imap(slice.iter()).collect();
        assert_eq!(by_next.iter().sum::<u64>(), by_fold);
        assert!(by_next.iter().enumerate().all(|(i, &x)| x == i as u64 + 1));
        by_fold
    }
    let v: Vec<u64> = (0..20_000).collect();
    let ns: Vec<u64> = (0..64).map(|i| i * 311).collect();
    let want: Vec<u64> = ns.iter().map(|&n| n * (n + 1) / 2).collect();
    assert_eq!(inner_sum::map(&ns, &v), want);
    let got: Vec<u64> = inner_sum::imap(&ns, &v).collect();
    assert_eq!(got, want);
    let mut folded = Vec::new();
    inner_sum::imap_with(&MapOptions::new().threads(3), ns.iter(), &v).for_each(|s| folded.push(s));
    assert_eq!(folded, want);
}

/// Many short streams of results of one layout, each against the serial
/// loop, from several threads at once (each keeps its own buffers).
#[test]
fn many_short_streams_from_several_threads() {
    let v: Vec<u64> = (0..3_000).collect();
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let v = &v;
            s.spawn(move || {
                for k in 0..200 {
                    let n = (k * 37 + t as usize * 101) % v.len();
                    let got: Vec<u64> = plain_ref::imap(&v[..n]).collect();
                    assert!(got.iter().enumerate().all(|(i, &x)| x == i as u64 + 1));
                    let sum: u64 = plain_ref::imap(&v[n..]).sum();
                    assert_eq!(sum, v[n..].iter().map(|x| x + 1).sum::<u64>());
                    let mut it = plain_ref::imap_unordered(v.iter());
                    let some: Vec<(usize, u64)> = it.by_ref().take(n % 50).collect();
                    assert!(some
                        .iter()
                        .enumerate()
                        .all(|(i, &(j, x))| i == j && x == j as u64 + 1));
                    let rest = it.fold(some.len(), |i, (j, x)| {
                        assert_eq!((i, x), (j, j as u64 + 1));
                        i + 1
                    });
                    assert_eq!(rest, v.len());
                }
            });
        }
    });
}

/// `map_fn(..).imap` over a slice by reference: pulled (a closure's
/// parameter type is not seen), same results.
#[test]
fn map_fn_streams_match_the_serial_loop() {
    let v: Vec<u64> = (0..30_000).collect();
    for o in options() {
        let f = map_fn("inc", |x: &u64| Counted::new(x + 1)).options(o);
        let _guard = lock();
        let base = alive();
        let got: Vec<u64> = f.imap(&v).map(|c| c.0).collect();
        assert!(got.iter().enumerate().all(|(i, &x)| x == i as u64 + 1));
        let s: u64 = f.imap(v.iter()).map(|c| c.0).sum();
        assert_eq!(s, (1..=30_000).sum::<u64>());
        let mut it = f.imap_unordered(&v);
        it.next();
        drop(it);
        assert_eq!(alive(), base, "{o:?}");
    }
}

/// An unsized referent behind an alias.
type Shown = dyn std::fmt::Debug + Sync;

/// Items `&dyn Trait` (unsized, so pulled), with the object's lifetime
/// elided as written, borrowed from a local.
#[test]
fn trait_objects_by_reference_stream() {
    #[parallel_map]
    fn shown(x: &Shown) -> String {
        format!("{x:?}")
    }
    let v: Vec<u64> = (0..100).collect();
    let objs: Vec<&Shown> = v.iter().map(|x| x as _).collect();
    let got: Vec<String> = shown::imap(objs.iter().copied()).collect();
    assert_eq!(got[42], "42");
    let got: Vec<String> = shown::imap(objs).collect();
    assert_eq!(got[99], "99");
}

/// A stream is `Send` where its items and function are, whatever its
/// input: one over a slice read in place may be consumed on another
/// thread, whose buffers it then uses.
#[test]
fn a_stream_over_a_slice_may_move_to_another_thread() {
    let v: Vec<u64> = (0..10_000).collect();
    let it = plain_ref::imap(&v);
    let folded = plain_ref::imap_unordered(v.iter());
    let pulled = plain_ref::imap(v.iter().rev());
    std::thread::scope(|s| {
        let a = s.spawn(move || it.sum::<u64>());
        let b = s.spawn(move || folded.map(|(i, x)| x - i as u64).sum::<u64>());
        let c = s.spawn(move || pulled.collect::<Vec<u64>>());
        assert_eq!(a.join().unwrap(), (1..=10_000).sum::<u64>());
        assert_eq!(b.join().unwrap(), 10_000);
        assert_eq!(c.join().unwrap()[0], 10_000);
    });
}

/// Against the serial loop: slices of many lengths and chunk sizes, some
/// `next()` calls and then a fold, `imap` and `imap_unordered`, in place
/// and pulled.
#[test]
fn many_shapes_match_the_serial_loop() {
    let v: Vec<u64> = (0..5_000).map(|x| x * 7 % 1_003).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..60 {
        let (a, b) = (rand(v.len()), rand(v.len()));
        let (a, b) = (a.min(b), a.max(b));
        let slice = &v[a..b];
        let want: Vec<u64> = slice.iter().map(|x| x + 1).collect();
        let chunk = 1 + rand(40);
        let o = match rand(4) {
            0 => MapOptions::new().backend(Backend::Serial),
            1 => MapOptions::new().chunk_size(chunk),
            2 => MapOptions::new()
                .schedule(Schedule::Dynamic)
                .chunk_size(chunk),
            _ => MapOptions::new().threads(1 + rand(3)),
        };
        let head = rand(want.len() + 1);
        let mut it = plain_ref::imap_with(&o, slice);
        let mut got: Vec<u64> = it.by_ref().take(head).collect();
        it.for_each(|x| got.push(x));
        assert_eq!(got, want, "{o:?} {a}..{b} after {head}");
        let mut it = plain_ref::imap_unordered_with(&o, slice.iter().filter(|_| true));
        let mut got: Vec<(usize, u64)> = it.by_ref().take(head).collect();
        got.extend(it.fold(Vec::new(), |mut v, p| {
            v.push(p);
            v
        }));
        assert!(got.iter().map(|p| p.1).eq(want.iter().copied()));
        assert!(got.iter().enumerate().all(|(i, p)| p.0 == i));
    }
}

/// Streams started by the consumer of a fold (on the calling thread, while
/// the fold's next window runs on the pool), inside a rayon pool of the
/// caller's own, and inside an item of a map on a pool of the stream's
/// size: each whole, in order, and none hangs.
#[test]
fn streams_inside_consumers_and_pools() {
    let v: Vec<u64> = (0..20_000).collect();
    let sum = |s: &[u64]| s.iter().map(|x| x + 1).sum::<u64>();
    let mut n = 0;
    plain_ref::imap_with(&MapOptions::new().chunk_size(64), &v).for_each(|x| {
        if x % 4_999 == 0 {
            let inner: u64 = plain_ref::imap(&v[..x as usize]).sum();
            assert_eq!(inner, sum(&v[..x as usize]));
            let by_next: Vec<u64> = plain_ref::imap(&v[x as usize..]).collect();
            assert_eq!(by_next.len(), v.len() - x as usize);
        }
        assert_eq!(x, n + 1);
        n += 1;
    });
    assert_eq!(n, 20_000);
    let own = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let got: u64 = own.install(|| plain_ref::imap(&v).sum());
    assert_eq!(got, sum(&v));
    #[parallel_map]
    fn inner_on_own_pool(k: &u64, v: &[u64]) -> u64 {
        let o = MapOptions::new().threads(2).chunk_size(16);
        plain_ref::imap_with(&o, &v[..*k as usize]).sum()
    }
    let ks: Vec<u64> = (0..16).map(|k| k * 1_000).collect();
    let o = MapOptions::new().threads(2);
    let got = inner_on_own_pool::map_with(&o, &ks, &v);
    assert!(got
        .iter()
        .zip(&ks)
        .all(|(&g, &k)| g == sum(&v[..k as usize])));
}

/// Items `&X` of an `X` that is `Sync` but not `Send` (a lock's guard,
/// which holds a lifetime too), read in place on the pool; and a `try_`
/// stream whose error borrows from its item.
#[test]
#[allow(clippy::ptr_arg)] // `&String`: a sized `X`, read in place.
fn items_that_are_sync_but_not_send_and_errors_that_borrow() {
    #[parallel_map]
    fn read(g: &std::sync::MutexGuard<'_, u64>) -> u64 {
        **g * 2
    }
    #[parallel_map]
    fn parse_owned(s: &String) -> Result<u64, &str> {
        s.parse().map_err(|_| s.as_str())
    }
    let locks: Vec<std::sync::Mutex<u64>> = (0..500).map(std::sync::Mutex::new).collect();
    let guards: Vec<std::sync::MutexGuard<'_, u64>> =
        locks.iter().map(|m| m.lock().unwrap()).collect();
    for o in options() {
        let got: Vec<u64> = read::imap_with(&o, &guards).collect();
        assert!(
            got.iter().enumerate().all(|(i, &x)| x == 2 * i as u64),
            "{o:?}"
        );
        assert_eq!(read::imap_with(&o, guards.iter()).sum::<u64>(), 499 * 500);
    }
    drop(guards);
    let words: Vec<String> = ["1", "2", "three", "4"].map(String::from).to_vec();
    let got: Vec<_> = parse_owned::try_imap(&words).collect();
    assert_eq!(got[..2], [Ok(1), Ok(2)]);
    let err = got[2].as_ref().unwrap_err();
    assert_eq!((err.index(), *err.error()), (2, "three"));
    assert_eq!(got.len(), 3);
}

/// A consumer that panics in `by_ref().for_each` (which steps with
/// `next()`): the stream goes on after the value it was given, every value
/// once, in order.
#[test]
fn a_stream_goes_on_after_its_consumer_panicked() {
    let v: Vec<u64> = (0..10_000).collect();
    for o in options() {
        let mut it = plain_ref::imap_unordered_with(&o, &v);
        let mut seen = Vec::new();
        let caught = quietly(|| {
            it.by_ref().for_each(|(i, x)| {
                assert!(i != 4_321, "the consumer gives up at {i}");
                seen.push((i, x));
            })
        });
        assert!(caught.is_err(), "{o:?}");
        seen.push((4_321, 4_322));
        seen.extend(it);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(i, &(j, x))| i == j && x == i as u64 + 1),
            "{o:?}"
        );
        assert_eq!(seen.len(), 10_000, "{o:?}");
    }
}
