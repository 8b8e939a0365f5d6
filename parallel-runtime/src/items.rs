//! What a map accepts as its items: [`IntoItems`].
//!
//! Vectors, slices, arrays and integer ranges are split in place (no copy);
//! any other iterable of the standard library is first collected into a
//! vector on the calling thread, as `multiprocessing.Pool.map` turns an
//! iterable into a list. For an iterator type of your own, wrap it with
//! [`items`].

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};

/// Anything a `#[parallel_map]` entry point takes as its items.
///
/// Implemented for `Vec<T>`, `&Vec<T>`, `&mut Vec<T>`, `&[T]`, `&mut [T]`,
/// `[T; N]`, `&[T; N]`, integer ranges (`a..b`, `a..=b`), the collections and
/// iterator adapters of `std` (`v.iter().map(…)`, `HashMap`, `BTreeSet`,
/// `VecDeque`, lines of a reader, …), and [`Items`] (see [`items`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the items of a map",
    label = "not a collection, range or `std` iterator the map knows",
    note = "an iterator or collection of your own: wrap it, `items(it)` (`parallel_runtime::items`), and it is collected first, as `Pool.map` makes a list"
)]
pub trait IntoItems: Sized {
    /// The type of one item, the annotated function's first parameter.
    type Item: Send;
    /// How the items are split across threads.
    type Par: IndexedParallelIterator<Item = Self::Item>;
    /// How the items are walked by the serial backend.
    type Seq: Iterator<Item = Self::Item>;
    /// The items, for the thread pool.
    fn into_par(self) -> Self::Par;
    /// The items, for the serial loop.
    fn into_seq(self) -> Self::Seq;

    /// Whether the order of the items may differ from one process of the
    /// program to the next: `true` for `HashMap` and `HashSet` (and their
    /// iterators), whose hasher is seeded per process.
    ///
    /// With the `mpi` backend, ranks split the items by position, so before
    /// any item runs they check that all of them hold the same items in the
    /// same order, by a fingerprint of the items (their `Hash`, else their
    /// serde encoding). Items from a source whose order is per process and
    /// that have neither are refused, with an error that says so.
    const ORDER_PER_PROCESS: bool = false;

    /// A fingerprint of the items, the same in every process that holds the
    /// same items in the same order, when it can be told without walking
    /// them (a range: its bounds). `None` to fingerprint the items one by
    /// one.
    #[doc(hidden)]
    fn order_fingerprint(&self) -> Option<u64> {
        None
    }
}

impl<T: Send> IntoItems for Vec<T> {
    type Item = T;
    type Par = rayon::vec::IntoIter<T>;
    type Seq = std::vec::IntoIter<T>;
    fn into_par(self) -> Self::Par {
        self.into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.into_iter()
    }
}

impl<'a, T: Sync> IntoItems for &'a [T] {
    type Item = &'a T;
    type Par = rayon::slice::Iter<'a, T>;
    type Seq = std::slice::Iter<'a, T>;
    fn into_par(self) -> Self::Par {
        self.into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.iter()
    }
}

impl<'a, T: Sync> IntoItems for &'a Vec<T> {
    type Item = &'a T;
    type Par = rayon::slice::Iter<'a, T>;
    type Seq = std::slice::Iter<'a, T>;
    fn into_par(self) -> Self::Par {
        self.as_slice().into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.iter()
    }
}

impl<'a, T: Sync, const N: usize> IntoItems for &'a [T; N] {
    type Item = &'a T;
    type Par = rayon::slice::Iter<'a, T>;
    type Seq = std::slice::Iter<'a, T>;
    fn into_par(self) -> Self::Par {
        self.as_slice().into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.iter()
    }
}

impl<'a, T: Send> IntoItems for &'a mut [T] {
    type Item = &'a mut T;
    type Par = rayon::slice::IterMut<'a, T>;
    type Seq = std::slice::IterMut<'a, T>;
    fn into_par(self) -> Self::Par {
        self.into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.iter_mut()
    }
}

impl<'a, T: Send> IntoItems for &'a mut Vec<T> {
    type Item = &'a mut T;
    type Par = rayon::slice::IterMut<'a, T>;
    type Seq = std::slice::IterMut<'a, T>;
    fn into_par(self) -> Self::Par {
        self.as_mut_slice().into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.iter_mut()
    }
}

impl<T: Send, const N: usize> IntoItems for [T; N] {
    type Item = T;
    type Par = rayon::array::IntoIter<T, N>;
    type Seq = std::array::IntoIter<T, N>;
    fn into_par(self) -> Self::Par {
        self.into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self.into_iter()
    }
}

impl<'a, T: Sync> IntoItems for std::slice::Iter<'a, T> {
    type Item = &'a T;
    type Par = rayon::slice::Iter<'a, T>;
    type Seq = std::slice::Iter<'a, T>;
    fn into_par(self) -> Self::Par {
        self.as_slice().into_par_iter()
    }
    fn into_seq(self) -> Self::Seq {
        self
    }
}

/// A range of integers, split by index without materialising it.
pub type RangeItems<T> = rayon::iter::Map<
    rayon::iter::Zip<rayon::iter::RepeatN<T>, rayon::range::Iter<usize>>,
    fn((T, usize)) -> T,
>;

fn range_len(start: i128, end_exclusive: i128) -> usize {
    let len = (end_exclusive - start).max(0);
    usize::try_from(len).unwrap_or_else(|_| {
        panic!("parallel-runtime: a range of {len} items does not fit in memory indices")
    })
}

mod sealed {
    /// Closes [`RangeInteger`](super::RangeInteger) to the integer types.
    pub trait Sealed {}
}

/// The integer types whose ranges are items: `u8` to `u64`, `usize`, `i8`
/// to `i64` and `isize`.
///
/// One impl of [`IntoItems`] covers the ranges of all of them (as rayon's
/// ranges do), so the item type of `0..100` is inferred from the function it
/// is given to: `f::map(0..100)` with `fn f(i: usize)` maps over `usize`.
/// Sealed: it cannot be implemented outside this crate.
pub trait RangeInteger: sealed::Sealed + Copy + PartialOrd + Send + 'static {
    /// The value, widened (every implementing type fits in `i128`).
    #[doc(hidden)]
    fn widen(self) -> i128;
    /// `start + i`, for `i` below the length of a range that starts at
    /// `start` (so it never overflows).
    #[doc(hidden)]
    fn offset(start_and_index: (Self, usize)) -> Self;
}

macro_rules! range_integer {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl RangeInteger for $t {
            #[inline]
            fn widen(self) -> i128 {
                self as i128
            }
            #[inline]
            fn offset((start, i): (Self, usize)) -> Self {
                start.wrapping_add(i as $t)
            }
        }
    )*};
}

range_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// The fingerprint of the items of `start..end`: the values, in order, are
/// a function of the bounds.
fn range_fingerprint(start: i128, end_exclusive: i128) -> u64 {
    let mut h = DefaultHasher::new();
    let len = (end_exclusive - start).max(0);
    (if len == 0 { 0 } else { start }, len).hash(&mut h);
    h.finish()
}

/// An integer range as its first value and its bounds widened,
/// `lo..hi` (empty: `0..0`).
trait Bounds<T> {
    fn bounds(&self) -> (T, i128, i128);
}

impl<T: RangeInteger> Bounds<T> for std::ops::Range<T> {
    fn bounds(&self) -> (T, i128, i128) {
        (self.start, self.start.widen(), self.end.widen())
    }
}

impl<T: RangeInteger> Bounds<T> for std::ops::RangeInclusive<T> {
    fn bounds(&self) -> (T, i128, i128) {
        let start = *self.start();
        if self.is_empty() {
            (start, 0, 0)
        } else {
            (start, start.widen(), self.end().widen() + 1)
        }
    }
}

/// One generic impl per kind of range, over every [`RangeInteger`]: the
/// item type is then inferred from the function, as rayon's ranges do.
macro_rules! range_items {
    ($($range:ident),*) => {$(
        impl<T: RangeInteger> IntoItems for std::ops::$range<T>
        where
            std::ops::$range<T>: Iterator<Item = T>,
        {
            type Item = T;
            type Par = RangeItems<T>;
            type Seq = std::ops::$range<T>;
            fn into_par(self) -> Self::Par {
                let (start, lo, hi) = self.bounds();
                let len = range_len(lo, hi);
                rayon::iter::repeat_n(start, len)
                    .zip(0..len)
                    .map(T::offset as fn((T, usize)) -> T)
            }
            fn into_seq(self) -> Self::Seq {
                self
            }
            fn order_fingerprint(&self) -> Option<u64> {
                let (_, lo, hi) = self.bounds();
                Some(range_fingerprint(lo, hi))
            }
        }
    )*};
}

range_items!(Range, RangeInclusive);

/// Any iterable, for types that [`IntoItems`] does not name (an iterator
/// type of your own). Made by [`items`].
#[derive(Debug, Clone)]
pub struct Items<I>(pub I);

/// Wraps any iterable so a `#[parallel_map]` entry point accepts it. The items
/// are collected into a vector on the calling thread first, as
/// `multiprocessing.Pool.map` does with an iterable that has no length.
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// struct Countdown(u32);
/// impl Iterator for Countdown {
///     type Item = u32;
///     fn next(&mut self) -> Option<u32> {
///         self.0 = self.0.checked_sub(1)?;
///         Some(self.0)
///     }
/// }
///
/// #[parallel_map]
/// fn double(x: u32) -> u32 { 2 * x }
///
/// assert_eq!(double::map(items(Countdown(3))), vec![4, 2, 0]);
/// ```
pub fn items<I: IntoIterator>(iterable: I) -> Items<I> {
    Items(iterable)
}

impl<I: IntoIterator> IntoIterator for Items<I> {
    type Item = I::Item;
    type IntoIter = I::IntoIter;
    fn into_iter(self) -> I::IntoIter {
        self.0.into_iter()
    }
}

macro_rules! collected_items {
    (order per process: $per_process:literal; $( [$($gen:tt)*] $ty:ty ),* $(,)?) => {$(
        impl<$($gen)*> IntoItems for $ty
        where
            $ty: IntoIterator,
            <$ty as IntoIterator>::Item: Send,
        {
            type Item = <$ty as IntoIterator>::Item;
            type Par = rayon::vec::IntoIter<Self::Item>;
            type Seq = <$ty as IntoIterator>::IntoIter;
            const ORDER_PER_PROCESS: bool = $per_process;
            fn into_par(self) -> Self::Par {
                IntoIterator::into_iter(self).collect::<Vec<_>>().into_par_iter()
            }
            fn into_seq(self) -> Self::Seq {
                IntoIterator::into_iter(self)
            }
        }
    )*};
}

collected_items! {
    order per process: false;
    [I] Items<I>,
    [T] std::vec::IntoIter<T>,
    [T] std::collections::VecDeque<T>,
    ['a, T] &'a std::collections::VecDeque<T>,
    [T] std::collections::LinkedList<T>,
    ['a, T] &'a std::collections::LinkedList<T>,
    [T] std::collections::BinaryHeap<T>,
    [K, V] std::collections::BTreeMap<K, V>,
    ['a, K, V] &'a std::collections::BTreeMap<K, V>,
    [T] std::collections::BTreeSet<T>,
    ['a, T] &'a std::collections::BTreeSet<T>,
    [T] Option<T>,
    ['a, T] std::slice::IterMut<'a, T>,
    ['a, T] std::slice::Chunks<'a, T>,
    ['a, T] std::slice::ChunksExact<'a, T>,
    ['a, T] std::slice::Windows<'a, T>,
    [T, const N: usize] std::array::IntoIter<T, N>,
    ['a, T] std::collections::vec_deque::Iter<'a, T>,
    [T] std::collections::vec_deque::IntoIter<T>,
    ['a, K, V] std::collections::btree_map::Iter<'a, K, V>,
    ['a, K, V] std::collections::btree_map::Keys<'a, K, V>,
    ['a, K, V] std::collections::btree_map::Values<'a, K, V>,
    [K, V] std::collections::btree_map::IntoIter<K, V>,
    ['a, T] std::collections::btree_set::Iter<'a, T>,
    ['a] std::str::Chars<'a>,
    ['a] std::str::Lines<'a>,
    ['a] std::str::SplitWhitespace<'a>,
    [B] std::io::Lines<B>,
    [] std::fs::ReadDir,
    [I, F] std::iter::Map<I, F>,
    [I, P] std::iter::Filter<I, P>,
    [I, F] std::iter::FilterMap<I, F>,
    [I] std::iter::Enumerate<I>,
    [A, B] std::iter::Zip<A, B>,
    [A, B] std::iter::Chain<A, B>,
    [I] std::iter::Cloned<I>,
    [I] std::iter::Copied<I>,
    [I] std::iter::Take<I>,
    [I] std::iter::Skip<I>,
    [I] std::iter::StepBy<I>,
    [I] std::iter::Rev<I>,
    [I] std::iter::Fuse<I>,
    [I: Iterator] std::iter::Peekable<I>,
    [I: Iterator<Item: IntoIterator>] std::iter::Flatten<I>,
    [I, U: IntoIterator, F] std::iter::FlatMap<I, U, F>,
    [I, P] std::iter::TakeWhile<I, P>,
    [I, P] std::iter::SkipWhile<I, P>,
    [I, P] std::iter::MapWhile<I, P>,
    [I, F] std::iter::Inspect<I, F>,
    [I, St, F] std::iter::Scan<I, St, F>,
    [F] std::iter::FromFn<F>,
    [T, F] std::iter::Successors<T, F>,
    [T] std::iter::Once<T>,
    [T] std::iter::Empty<T>,
    [T] std::iter::RepeatN<T>,
}

// A `HashMap`'s or `HashSet`'s order comes from its hasher's keys, random
// per process (per map, even) with the default `RandomState`.
collected_items! {
    order per process: true;
    [K, V, S] std::collections::HashMap<K, V, S>,
    ['a, K, V, S] &'a std::collections::HashMap<K, V, S>,
    [T, S] std::collections::HashSet<T, S>,
    ['a, T, S] &'a std::collections::HashSet<T, S>,
    ['a, K, V] std::collections::hash_map::Iter<'a, K, V>,
    ['a, K, V] std::collections::hash_map::IterMut<'a, K, V>,
    ['a, K, V] std::collections::hash_map::Keys<'a, K, V>,
    ['a, K, V] std::collections::hash_map::Values<'a, K, V>,
    ['a, K, V] std::collections::hash_map::ValuesMut<'a, K, V>,
    [K, V] std::collections::hash_map::IntoIter<K, V>,
    [K, V] std::collections::hash_map::IntoKeys<K, V>,
    [K, V] std::collections::hash_map::IntoValues<K, V>,
    ['a, T] std::collections::hash_set::Iter<'a, T>,
    [T] std::collections::hash_set::IntoIter<T>,
}

/// Feeds one item into the hasher of the order check of the `mpi` backend
/// (see [`IntoItems::ORDER_PER_PROCESS`]); found by [`ItemProbe`].
#[doc(hidden)]
pub type ItemFingerprint<T> = fn(&T, &mut DefaultHasher);

/// Compile-time probe for the item type's fingerprint, resolved at the
/// macro's call site by method lookup (autoref specialisation):
/// `(&&&ItemProbe::<T>::new()).item_fingerprint()` hashes with `T: Hash`
/// where it holds, else with `T`'s serde encoding, else is `None`.
///
/// `DefaultHasher::new()` has fixed keys, so a fingerprint is the same in
/// every process of one program.
#[doc(hidden)]
pub struct ItemProbe<T>(PhantomData<fn(&T)>);

impl<T> ItemProbe<T> {
    pub const fn new() -> Self {
        ItemProbe(PhantomData)
    }
}

impl<T> Default for ItemProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[doc(hidden)]
pub trait ItemViaHash<T> {
    fn item_fingerprint(&self) -> Option<ItemFingerprint<T>>;
}

impl<T: Hash> ItemViaHash<T> for &&ItemProbe<T> {
    fn item_fingerprint(&self) -> Option<ItemFingerprint<T>> {
        Some(|x, h| x.hash(h))
    }
}

#[doc(hidden)]
pub trait ItemViaSerde<T> {
    fn item_fingerprint(&self) -> Option<ItemFingerprint<T>>;
}

impl<T: serde::Serialize> ItemViaSerde<T> for &ItemProbe<T> {
    fn item_fingerprint(&self) -> Option<ItemFingerprint<T>> {
        Some(|x, h| {
            // An item postcard cannot encode (a sequence of unknown
            // length) still counts, as a fixed mark.
            if postcard::serialize_with_flavor(x, HashFlavor(h)).is_err() {
                h.write_u8(0xff);
            }
        })
    }
}

#[doc(hidden)]
pub trait ItemUnhashed<T> {
    fn item_fingerprint(&self) -> Option<ItemFingerprint<T>>;
}

impl<T> ItemUnhashed<T> for ItemProbe<T> {
    fn item_fingerprint(&self) -> Option<ItemFingerprint<T>> {
        None
    }
}

/// A postcard output that hashes the encoding instead of storing it.
struct HashFlavor<'a>(&'a mut DefaultHasher);

impl postcard::ser_flavors::Flavor for HashFlavor<'_> {
    type Output = ();
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.write(data);
        Ok(())
    }
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.write_u8(data);
        Ok(())
    }
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
