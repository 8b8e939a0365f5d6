//! What a map accepts as its items: [`IntoItems`].
//!
//! Vectors, slices, arrays and integer ranges are split in place (no copy);
//! any other iterable of the standard library is first collected into a
//! vector on the calling thread, as `multiprocessing.Pool.map` turns an
//! iterable into a list. For an iterator type of your own, wrap it with
//! [`items`].

use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};

/// Anything a `#[parallel_map]` entry point takes as its items.
///
/// Implemented for `Vec<T>`, `&Vec<T>`, `&mut Vec<T>`, `&[T]`, `&mut [T]`,
/// `[T; N]`, `&[T; N]`, integer ranges (`a..b`, `a..=b`), the collections and
/// iterator adapters of `std` (`v.iter().map(…)`, `HashMap`, `BTreeSet`,
/// `VecDeque`, lines of a reader, …), and [`Items`] (see [`items`]).
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

macro_rules! range_items {
    ($($t:ty),*) => {$(
        impl IntoItems for std::ops::Range<$t> {
            type Item = $t;
            type Par = RangeItems<$t>;
            type Seq = std::ops::Range<$t>;
            fn into_par(self) -> Self::Par {
                let len = range_len(self.start as i128, self.end as i128);
                rayon::iter::repeat_n(self.start, len)
                    .zip(0..len)
                    .map((|(start, i)| start.wrapping_add(i as $t)) as fn(($t, usize)) -> $t)
            }
            fn into_seq(self) -> Self::Seq {
                self
            }
        }

        impl IntoItems for std::ops::RangeInclusive<$t> {
            type Item = $t;
            type Par = RangeItems<$t>;
            type Seq = std::ops::RangeInclusive<$t>;
            fn into_par(self) -> Self::Par {
                let len = if self.is_empty() {
                    0
                } else {
                    range_len(*self.start() as i128, *self.end() as i128 + 1)
                };
                rayon::iter::repeat_n(*self.start(), len)
                    .zip(0..len)
                    .map((|(start, i)| start.wrapping_add(i as $t)) as fn(($t, usize)) -> $t)
            }
            fn into_seq(self) -> Self::Seq {
                self
            }
        }
    )*};
}

range_items!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

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
    ($( [$($gen:tt)*] $ty:ty ),* $(,)?) => {$(
        impl<$($gen)*> IntoItems for $ty
        where
            $ty: IntoIterator,
            <$ty as IntoIterator>::Item: Send,
        {
            type Item = <$ty as IntoIterator>::Item;
            type Par = rayon::vec::IntoIter<Self::Item>;
            type Seq = <$ty as IntoIterator>::IntoIter;
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
    [I] Items<I>,
    [T] std::vec::IntoIter<T>,
    [T] std::collections::VecDeque<T>,
    ['a, T] &'a std::collections::VecDeque<T>,
    [T] std::collections::LinkedList<T>,
    ['a, T] &'a std::collections::LinkedList<T>,
    [T] std::collections::BinaryHeap<T>,
    [K, V, S] std::collections::HashMap<K, V, S>,
    ['a, K, V, S] &'a std::collections::HashMap<K, V, S>,
    [T, S] std::collections::HashSet<T, S>,
    ['a, T, S] &'a std::collections::HashSet<T, S>,
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
    ['a, K, V] std::collections::hash_map::Iter<'a, K, V>,
    ['a, K, V] std::collections::hash_map::Keys<'a, K, V>,
    ['a, K, V] std::collections::hash_map::Values<'a, K, V>,
    [K, V] std::collections::hash_map::IntoIter<K, V>,
    ['a, K, V] std::collections::btree_map::Iter<'a, K, V>,
    ['a, K, V] std::collections::btree_map::Keys<'a, K, V>,
    ['a, K, V] std::collections::btree_map::Values<'a, K, V>,
    [K, V] std::collections::btree_map::IntoIter<K, V>,
    ['a, T] std::collections::hash_set::Iter<'a, T>,
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
