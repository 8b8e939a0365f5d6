//! What one window of a stream yields ([`Ready`]): the values of `f::imap`
//! ([`Batch`]), the `(index, value)` pairs of `f::imap_unordered`
//! ([`Pairs`]), or those of a `try_` stream.
//!
//! A fold empties each window's values in place ([`Ready::drain_fold`]),
//! and their buffer then holds the results of the window after next: a
//! long stream allocates no buffer of results per window. A fresh buffer
//! per window of a megabyte or more was faulted in page by page each time
//! (glibc gives such blocks back to the system when they are freed): that
//! was most of what a stream of trivial items cost over `map`
//! (`docs/performance.md`).

use std::vec;

use super::spare;

/// The values of one window, yielded in order. (`Send` is required where
/// a stream is made, not here: see `Overlap` in `stream/mod.rs`.)
pub trait Ready: Iterator + Default {
    /// Folds every value left into `init` with `g`, leaving this empty,
    /// its buffer kept for the next window's results.
    fn drain_fold<A, G: FnMut(A, Self::Item) -> A>(&mut self, init: A, g: G) -> A;

    /// On the calling thread, before this spent value's buffer holds a
    /// window's results: a buffer kept by an earlier stream on this thread
    /// if it has none (see `stream/spare.rs`).
    fn prime(&mut self) {}

    /// Once the stream is done: keeps this value's buffer, if any, for a
    /// later stream on this thread.
    fn keep(self)
    where
        Self: Sized,
    {
    }
}

/// The results of one window of `f::imap`, in input order.
///
/// Yielded one by one (`next()`), they are moved into an iterator that
/// owns their buffer; folded ([`Ready::drain_fold`]), they are drained
/// from it, which keeps it for the next window's results.
#[derive(Debug)]
pub struct Batch<R> {
    /// The values moved out for `next()`, yielded first.
    iter: vec::IntoIter<R>,
    /// The values not yet moved out.
    buf: Vec<R>,
}

impl<R> Default for Batch<R> {
    fn default() -> Self {
        Batch {
            iter: Vec::new().into_iter(),
            buf: Vec::new(),
        }
    }
}

impl<R> Batch<R> {
    /// The values `buf`.
    pub(super) fn new(buf: Vec<R>) -> Self {
        Batch {
            iter: Vec::new().into_iter(),
            buf,
        }
    }

    /// The buffer of these values, empty (any value left is dropped): the
    /// buffer a fold drained, else none.
    pub(super) fn into_buffer(self) -> Vec<R> {
        let mut buf = self.buf;
        buf.clear();
        buf
    }
}

impl<R> Iterator for Batch<R> {
    type Item = R;

    #[inline]
    fn next(&mut self) -> Option<R> {
        if let Some(r) = self.iter.next() {
            return Some(r);
        }
        if self.buf.is_empty() {
            return None;
        }
        self.iter = std::mem::take(&mut self.buf).into_iter();
        self.iter.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.iter.len() + self.buf.len();
        (n, Some(n))
    }

    fn fold<A, G: FnMut(A, R) -> A>(mut self, init: A, g: G) -> A {
        self.drain_fold(init, g)
    }
}

impl<R> Ready for Batch<R> {
    fn drain_fold<A, G: FnMut(A, R) -> A>(&mut self, init: A, mut g: G) -> A {
        let a = self.iter.by_ref().fold(init, &mut g);
        self.buf.drain(..).fold(a, g)
    }

    fn prime(&mut self) {
        if self.buf.capacity() == 0 && self.iter.len() == 0 {
            self.buf = spare::take();
        }
    }

    fn keep(self) {
        spare::keep(self.into_buffer());
    }
}

/// An item's index and its value.
pub(super) type Pair<T> = (usize, T);

/// The `(index, result)` pairs of one window of `f::imap_unordered`, in
/// input order: the results are stored alone and numbered as they are
/// yielded (half the memory of the pairs, which a trivial item's cost is
/// mostly made of).
#[derive(Debug)]
pub struct Pairs<R> {
    pub(super) next: usize,
    pub(super) values: Batch<R>,
}

impl<R> Default for Pairs<R> {
    fn default() -> Self {
        Pairs {
            next: 0,
            values: Batch::default(),
        }
    }
}

impl<R> Iterator for Pairs<R> {
    type Item = Pair<R>;

    #[inline]
    fn next(&mut self) -> Option<Pair<R>> {
        let r = self.values.next()?;
        self.next += 1;
        Some((self.next - 1, r))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }

    fn fold<A, G: FnMut(A, Pair<R>) -> A>(mut self, init: A, g: G) -> A {
        self.drain_fold(init, g)
    }
}

impl<R> Ready for Pairs<R> {
    fn drain_fold<A, G: FnMut(A, Pair<R>) -> A>(&mut self, init: A, mut g: G) -> A {
        let Batch { iter, buf } = &mut self.values;
        let (first, moved, kept) = (self.next, iter.len(), buf.len());
        // Numbered by `enumerate`, whose fold compiles to a plain loop.
        let numbered = move |(i, r)| (first + i, r);
        let a = iter.by_ref().enumerate().map(numbered).fold(init, &mut g);
        let numbered = move |(i, r)| (first + moved + i, r);
        let a = buf.drain(..).enumerate().map(numbered).fold(a, g);
        self.next = first + moved + kept;
        a
    }

    fn prime(&mut self) {
        self.values.prime();
    }

    fn keep(self) {
        self.values.keep();
    }
}

/// The values of a `try_` stream's window: built whole after it ran, with
/// its failure, so no buffer is kept.
impl<T> Ready for vec::IntoIter<T> {
    fn drain_fold<A, G: FnMut(A, T) -> A>(&mut self, init: A, g: G) -> A {
        self.by_ref().fold(init, g)
    }
}

/// What `f::imap` and `f::imap_unordered` yield of a window: its values
/// ([`Values`]), or its `(index, value)` pairs ([`Indexed`]), in input
/// order. A window's results are handed over together when it ends, so an
/// order of completion would deliver none of them sooner; the input order
/// costs least.
#[doc(hidden)]
pub trait Yield<R>: Copy {
    /// The values of one window.
    type Ready: Ready + Send;
    /// The values of the window whose first item is `offset`, of results
    /// `values`.
    fn ready(offset: usize, values: Vec<R>) -> Self::Ready;
    /// The buffer of `spent`, values all yielded, for the next results.
    fn buffer(spent: Self::Ready) -> Vec<R>;
}

/// `f::imap` yields the results alone.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Values;

impl<R: Send> Yield<R> for Values {
    type Ready = Batch<R>;
    fn ready(_: usize, values: Vec<R>) -> Batch<R> {
        Batch::new(values)
    }
    fn buffer(spent: Batch<R>) -> Vec<R> {
        spent.into_buffer()
    }
}

/// `f::imap_unordered` yields `(index, result)` pairs.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Indexed;

impl<R: Send> Yield<R> for Indexed {
    type Ready = Pairs<R>;
    fn ready(next: usize, values: Vec<R>) -> Pairs<R> {
        let values = Batch::new(values);
        Pairs { next, values }
    }
    fn buffer(spent: Pairs<R>) -> Vec<R> {
        spent.values.into_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_batch_keeps_its_buffer_for_the_next_results() {
        let values: Vec<u64> = (0..1000).collect();
        let mut batch = Values::ready(0, values);
        // Two values by `next()`, the rest by a fold: all of them, in order.
        let head: Vec<u64> = batch.by_ref().take(2).collect();
        let rest = batch.drain_fold(Vec::new(), |mut v, x| {
            v.push(x);
            v
        });
        assert_eq!([head, rest].concat(), (0..1000).collect::<Vec<_>>());
        assert_eq!(batch.next(), None);
        // `next()` moved the values out with their buffer: none is kept.
        assert_eq!(<Values as Yield<u64>>::buffer(batch).capacity(), 0);
        // Folded whole, the buffer comes back empty, for the next window.
        let values: Vec<u64> = (0..1000).collect();
        let (ptr2, cap2) = (values.as_ptr(), values.capacity());
        let mut batch = Values::ready(0, values);
        assert_eq!(batch.drain_fold(0, |a, x| a + x), 499_500);
        let buf = <Values as Yield<u64>>::buffer(batch);
        assert_eq!((buf.as_ptr(), buf.capacity(), buf.len()), (ptr2, cap2, 0));
    }

    #[test]
    fn pairs_number_their_values_from_the_window_offset_either_way() {
        let mut pairs = Indexed::ready(40, vec!['a', 'b', 'c', 'd']);
        assert_eq!(pairs.next(), Some((40, 'a')));
        let rest = pairs.drain_fold(Vec::new(), |mut v, p| {
            v.push(p);
            v
        });
        assert_eq!(rest, [(41, 'b'), (42, 'c'), (43, 'd')]);
        assert_eq!(pairs.next(), None);
        let pairs = Indexed::ready(7, vec![1, 2]);
        assert_eq!(pairs.collect::<Vec<_>>(), [(7, 1), (8, 2)]);
    }
}
