//! What a stream reads its windows from: an [`Input`], cut into
//! [`Part`]s on the calling thread.
//!
//! Any iterator is *pulled*: each window's items are moved into a buffer
//! ([`Pulled`]). A slice walked by reference (`&v`, `&v[..]`, `v.iter()`,
//! an array by reference) is *cut*: a window is a range of the slice
//! ([`Refs`]), which nothing copies on the calling thread, and which the
//! pool reads in place, as `map` reads a slice (its loop over `&f64`s
//! vectorizes, where one over a buffer of pointers cannot: measured in
//! `docs/performance.md`). The macro takes the second kind for the items
//! `&X` of a type `X` it can tell is sized (see
//! `parallel-macros/src/expand/parallel_map.rs`); the slice itself is
//! recognised at run time, by the type of the input's iterator.

use std::marker::PhantomData;

use rayon::iter::{
    IndexedParallelIterator, IntoParallelRefIterator, ParallelDrainRange, ParallelIterator,
};

/// The input of a stream: the items of its windows, cut on the calling
/// thread.
pub trait Input {
    /// One item.
    type Item: Send;
    /// The items of one window.
    type Part: Part<Item = Self::Item>;
    /// The next at most `n` items, into `spare` (a part that ran, drained)
    /// where it holds a buffer: empty when the input has run out.
    fn take(&mut self, n: usize, spare: Option<Self::Part>) -> Self::Part;
    /// The input's `size_hint`.
    fn size_hint(&self) -> (usize, Option<usize>);
}

/// The items of one window: walked on the pool, or in order on the
/// calling thread with the `serial` backend, either way once.
pub trait Part: Send {
    /// One item.
    type Item: Send;
    /// The number of items (before they are walked).
    fn len(&self) -> usize;
    /// Whether it holds no item: the input has run out.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Gives the items to `walk` for the pool; the part is left empty.
    fn par<W: Walk<Self::Item>>(&mut self, walk: W);
    /// Gives the items to `walk` in order; the part is left empty.
    fn seq<W: Walk<Self::Item>>(&mut self, walk: W);
}

/// What walks the items of a window, given as one concrete iterator: a
/// part that is one of several kinds (see [`RefPart`]) hands each kind's
/// own, so that the loop over its items is compiled for it alone (through
/// an `Either` of the two, rayon's loop over a slice's items no longer
/// vectorized).
pub trait Walk<T> {
    /// Walks `items` on the pool.
    fn par(self, items: impl IndexedParallelIterator<Item = T>);
    /// Walks `items` in order on this thread.
    fn seq(self, items: impl Iterator<Item = T>);
}

/// Any iterator, whose windows are pulled into a buffer.
pub struct Pulled<It>(pub(super) It);

impl<It: Iterator<Item: Send>> Input for Pulled<It> {
    type Item = It::Item;
    type Part = Vec<It::Item>;

    fn take(&mut self, n: usize, spare: Option<Vec<It::Item>>) -> Vec<It::Item> {
        let mut items = spare.unwrap_or_default();
        items.clear();
        items.reserve(ahead::<It::Item>(self.0.size_hint(), n));
        items.extend(self.0.by_ref().take(n));
        items
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// The most bytes of items reserved for a window before they are pulled,
/// beyond the least the input's size hint promises: a window's size
/// (`chunk_size` × threads, as large as `usize::MAX`) bounds its items, not
/// its buffer, which grows as items come.
const RESERVE_BYTES: usize = 8 << 20;

/// The items of `T` to reserve for a window of at most `n` items from an
/// input of size hint `(least, most)`: the window's size, unless the input
/// holds fewer, or it is more than [`RESERVE_BYTES`] of items and the input
/// does not promise them. Reserving `n` items outright made a large
/// `chunk_size` over an input of unknown length panic ("capacity
/// overflow") or abort (the allocation failed) before any item was pulled.
fn ahead<T>((least, most): (usize, Option<usize>), n: usize) -> usize {
    let unpromised = RESERVE_BYTES / size_of::<T>().max(1);
    n.min(most.unwrap_or(usize::MAX)).min(least.max(unpromised))
}

impl<T: Send> Part for Vec<T> {
    type Item = T;
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn par<W: Walk<T>>(&mut self, walk: W) {
        walk.par(self.par_drain(..))
    }
    fn seq<W: Walk<T>>(&mut self, walk: W) {
        walk.seq(self.drain(..))
    }
}

/// The items `&'a X` of a stream: a slice's, cut into ranges, or any other
/// iterator's, pulled.
pub enum Refs<'a, X, It> {
    /// A slice walked by reference: what is left of it.
    Slice(&'a [Shared<'a, X>]),
    /// Any other iterator of references.
    Pulled(Pulled<It>),
}

/// An `X` of a slice whose items `&'a X` a stream hands to the pool.
///
/// The stream's items are `Send`, so `X` is `Sync`, which makes a slice of
/// `X`s `Sync` too; but the macro's `where` clause says it as `&'a X:
/// Send`, which the trait solver does not turn into `X: Sync`. A slice of
/// `Shared` is `Sync` on that bound, so that rayon's own slice iterator
/// walks it: its loop keeps the slice in registers and vectorizes, where a
/// closure that reads a captured pointer per item does not.
#[repr(transparent)]
pub struct Shared<'a, X>(X, PhantomData<&'a X>);

// SAFETY: `&'a X: Send` holds exactly when `X: Sync`, and `Shared` holds
// nothing but an `X` (the `PhantomData` is a zero-sized marker).
unsafe impl<'a, X> Sync for Shared<'a, X> where &'a X: Send {}

/// The `X` that `s` holds.
#[inline(always)]
fn inner<'a, X>(s: &'a Shared<'a, X>) -> &'a X {
    &s.0
}

/// The first `n` items of `rest` (at most all of them), which then no
/// longer holds them.
fn split_off<'a, T>(rest: &mut &'a [T], n: usize) -> &'a [T] {
    let (front, back) = rest.split_at(n.min(rest.len()));
    *rest = back;
    front
}

/// The items of `items`: cut by ranges where its iterator is a slice's
/// (`&v`, `&v[..]`, `v.iter()`, `&[x; N]`), pulled otherwise.
fn refs<'a, X, I>(items: I) -> Refs<'a, X, I::IntoIter>
where
    I: IntoIterator<Item = &'a X>,
    &'a X: Send,
{
    let it = items.into_iter();
    if typeid::of::<I::IntoIter>() != typeid::of::<std::slice::Iter<'a, X>>() {
        return Refs::Pulled(Pulled(it));
    }
    let it = std::mem::ManuallyDrop::new(it);
    // SAFETY: the two types are the same up to their lifetimes, and
    // `slice::Iter<'b, X>`'s only lifetime is that of its items, which the
    // bound on `I` makes `'a`: they are the same type.
    let slice: std::slice::Iter<'a, X> = unsafe { std::mem::transmute_copy(&*it) };
    let slice = slice.as_slice();
    // SAFETY: `Shared<'a, X>` is `repr(transparent)` over `X`, and the
    // slice is borrowed for `'a` as before.
    let shared = unsafe { std::slice::from_raw_parts(slice.as_ptr().cast(), slice.len()) };
    Refs::Slice(shared)
}

/// The items of `items`, pulled: the input of a stream whose items are not
/// references to a sized type.
#[doc(hidden)]
pub fn pulled<I: IntoIterator<Item: Send>>(items: I) -> Pulled<I::IntoIter> {
    Pulled(items.into_iter())
}

/// Picks the input of a stream whose items are `&'a X`, by autoref on the
/// concrete `X` (`(&RefProbe::<X>::new()).stream_input(items)`, with
/// [`ViaSlice`] and [`ViaPull`] in scope): [`Refs`] for a sized `X`, whose
/// slices are cut by ranges, else [`Pulled`] (`&str`, `&Path`, `&[T]`).
#[doc(hidden)]
pub struct RefProbe<X: ?Sized>(PhantomData<X>);

impl<X: ?Sized> RefProbe<X> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        RefProbe(PhantomData)
    }
}

/// The input of a stream of `&X` for a sized `X` (see [`RefProbe`]).
#[doc(hidden)]
pub trait ViaSlice<X> {
    fn stream_input<'a, I>(&self, items: I) -> Refs<'a, X, I::IntoIter>
    where
        I: IntoIterator<Item = &'a X>,
        &'a X: Send;
}

impl<X> ViaSlice<X> for RefProbe<X> {
    fn stream_input<'a, I>(&self, items: I) -> Refs<'a, X, I::IntoIter>
    where
        I: IntoIterator<Item = &'a X>,
        &'a X: Send,
    {
        refs(items)
    }
}

/// The input of a stream of `&X` for any other `X` (see [`RefProbe`]).
#[doc(hidden)]
pub trait ViaPull<X: ?Sized> {
    fn stream_input<'a, I>(&self, items: I) -> Pulled<I::IntoIter>
    where
        I: IntoIterator<Item = &'a X>,
        X: 'a,
        &'a X: Send;
}

impl<X: ?Sized> ViaPull<X> for &RefProbe<X> {
    fn stream_input<'a, I>(&self, items: I) -> Pulled<I::IntoIter>
    where
        I: IntoIterator<Item = &'a X>,
        X: 'a,
        &'a X: Send,
    {
        pulled(items)
    }
}

impl<'a, X, It> Input for Refs<'a, X, It>
where
    It: Iterator<Item = &'a X>,
    &'a X: Send,
{
    type Item = &'a X;
    type Part = RefPart<'a, X>;

    fn take(&mut self, n: usize, spare: Option<Self::Part>) -> Self::Part {
        match self {
            Refs::Slice(rest) => RefPart::Slice(split_off(rest, n)),
            Refs::Pulled(pulled) => {
                let spare = match spare {
                    Some(RefPart::Pulled(items)) => Some(items),
                    _ => None,
                };
                RefPart::Pulled(pulled.take(n, spare))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Refs::Slice(rest) => (rest.len(), Some(rest.len())),
            Refs::Pulled(pulled) => pulled.size_hint(),
        }
    }
}

/// One window of [`Refs`]: a range of the slice, or the items pulled.
pub enum RefPart<'a, X> {
    /// A range of the slice.
    Slice(&'a [Shared<'a, X>]),
    /// The items pulled from another iterator.
    Pulled(Vec<&'a X>),
}

impl<'a, X> Part for RefPart<'a, X>
where
    &'a X: Send,
{
    type Item = &'a X;

    fn len(&self) -> usize {
        match self {
            RefPart::Slice(part) => part.len(),
            RefPart::Pulled(items) => items.len(),
        }
    }

    fn par<W: Walk<&'a X>>(&mut self, walk: W) {
        match self {
            RefPart::Slice(part) => walk.par(split_off(part, usize::MAX).par_iter().map(inner)),
            RefPart::Pulled(items) => walk.par(items.par_drain(..)),
        }
    }

    fn seq<W: Walk<&'a X>>(&mut self, walk: W) {
        match self {
            RefPart::Slice(part) => walk.seq(split_off(part, usize::MAX).iter().map(inner)),
            RefPart::Pulled(items) => walk.seq(items.drain(..)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reserves_what_its_input_holds_or_promises_or_8_mib() {
        // A known length: the window, or the fewer items the input holds.
        assert_eq!(ahead::<u64>((10, Some(10)), 1000), 10);
        assert_eq!(ahead::<u64>((5000, Some(5000)), 1000), 1000);
        assert_eq!(ahead::<u64>((0, None), 100), 100);
        // Past 8 MiB, only what the input promises.
        assert_eq!(ahead::<u64>((0, None), usize::MAX), 1 << 20);
        assert_eq!(ahead::<u64>((0, Some(usize::MAX)), 1 << 40), 1 << 20);
        assert_eq!(ahead::<u64>((3 << 20, None), 1 << 40), 3 << 20);
        assert_eq!(ahead::<()>((0, None), usize::MAX), 8 << 20);
        // A window as large as can be, of an input of unknown length.
        let mut input = Pulled((0..10u64).filter(|_| true));
        assert_eq!(input.take(usize::MAX, None), (0..10).collect::<Vec<_>>());
        assert!(input.take(usize::MAX, None).is_empty());
    }
}
