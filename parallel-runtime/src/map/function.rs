//! The call-site map: [`map_fn`] over any `Fn(T) -> R`, for a function that
//! cannot be annotated (one from another crate, a closure). The same engine
//! as `#[parallel_map]`'s entry points, with the name given at the call
//! site standing for the annotated function's name.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::options::{MapOptions, MapSite};
use super::stream::{self, pulled, Indexed, Pulled, Stream, Values, Yield};
use super::{map, reduce, try_map, ItemError};
use crate::codec::{Probe, ResultCodec, ViaSerde};
use crate::config::Backend;
use crate::items::IntoItems;
use crate::pool::PerWorker;

/// A map over any function, named at the call site: Python's
/// `pool.map(math.sqrt, xs)` for a function you cannot annotate with
/// `#[parallel_map]` (one from another crate, a closure).
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// let xs: Vec<f64> = (0..1000).map(f64::from).collect();
/// let roots: Vec<f64> = map_fn("sqrt", f64::sqrt).map(xs.clone());
/// assert_eq!(roots[49], 7.0);
///
/// // A closure, with the options of the attribute.
/// let opts = MapOptions::new().schedule(Schedule::Dynamic).chunk_size(64);
/// let scaled = map_fn("scale", |x: &f64| 2.0 * x).options(opts).map(&xs);
/// assert_eq!(scaled[10], 20.0);
/// ```
///
/// It keeps every guarantee of the attribute's `f::map`: results in input
/// order; [`MapOptions`] (schedule, chunk size, backend, progress bar), which
/// win over `PARALLEL_BACKEND` and `PARALLEL_PROGRESS` as `f::map_with`'s
/// do; the serial backend; a panic raised again as an
/// [`ItemPanic`](crate::ItemPanic) and a failure of
/// [`try_map`](MapFn::try_map) reported as an [`ItemError`], both naming the
/// item and `name`; the trace's chunks named `name`.
///
/// **The `mpi` backend.** With several ranks, a map splits its items across
/// the ranks and sends the results between them, which needs the result
/// type to implement serde's `Serialize` and `Deserialize`. The attribute
/// finds that out by itself; a call-site map cannot, so
/// [`map`](MapFn::map) and [`reduce`](MapFn::reduce) refuse to split (they
/// panic on every rank alike, before any item runs, naming the
/// alternative), and [`map_mpi`](MapFn::map_mpi) and
/// [`reduce_mpi`](MapFn::reduce_mpi), which require serde of the result,
/// split. Without several ranks (no `#[mpi_main]`) the `mpi` backend runs
/// on this process's pool, as the attribute's does. [`try_map`](MapFn::try_map)
/// runs every item on every rank under `mpi`, as the attribute's does, so it
/// needs nothing more. The ranks check that they hold the same number of
/// items before splitting them (the attribute also fingerprints their order
/// when the item type has `Hash` or serde): every rank must build the same
/// items in the same order.
#[must_use = "a `MapFn` runs nothing until `.map(items)`, `.try_map(items)` or `.reduce(…)`"]
pub struct MapFn<F> {
    site: MapSite,
    options: Option<MapOptions>,
    f: F,
}

impl<F: Clone> Clone for MapFn<F> {
    fn clone(&self) -> Self {
        MapFn {
            site: self.site,
            options: self.options,
            f: self.f.clone(),
        }
    }
}

impl<F> fmt::Debug for MapFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapFn")
            .field("name", &self.site.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `f` as a map named `name`, to run with [`MapFn::map`], [`MapFn::try_map`]
/// or [`MapFn::reduce`]. `name` stands where the attribute puts the function's
/// name: in [`ItemError`], [`ItemPanic`](crate::ItemPanic), the progress bar
/// and the trace. See [`MapFn`].
pub fn map_fn<F>(name: &'static str, f: F) -> MapFn<F> {
    MapFn {
        site: MapSite {
            name,
            defaults: MapOptions::new(),
        },
        options: None,
        f,
    }
}

impl<F> MapFn<F> {
    /// The options of the calls of this map (the `_with` forms of the
    /// attribute): they win over `PARALLEL_BACKEND` and `PARALLEL_PROGRESS`.
    pub fn options(mut self, options: MapOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// A state per worker thread, built by `init` (Python's
    /// `Pool(initializer=init, initargs=(…))`): the function takes the item
    /// and `&mut` the state of the worker that runs it. `init` is a
    /// closure, so it may capture what the state is built from (the
    /// `initargs`: a seed, a path, a table).
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// struct Rng(u64);
    /// impl Rng {
    ///     fn next(&mut self) -> u64 {
    ///         self.0 ^= self.0 << 13;
    ///         self.0 ^= self.0 >> 7;
    ///         self.0 ^= self.0 << 17;
    ///         self.0
    ///     }
    /// }
    ///
    /// let seed = 42; // Pool(initializer=make_rng, initargs=(seed,))
    /// let noisy = map_fn("noisy", |x: u64, rng: &mut Rng| x + rng.next() % 2)
    ///     .init(move || Rng(seed));
    /// let out = noisy.map(0..1000u64);
    /// assert!(out.iter().zip(0..).all(|(&y, x)| y == x || y == x + 1));
    /// ```
    ///
    /// Each worker's state is built on its first item, **at most once per
    /// worker thread** of the pool a call runs on, and kept for the life of
    /// this `MapFn`, across its calls, as a `Pool`'s workers keep theirs
    /// (the serial backend builds one, on the calling thread). An item that
    /// waits on a nested map, or two calls of this `MapFn` running at once,
    /// may build one more; a panicking item drops its worker's state. Which
    /// worker runs which item is not fixed: for reproducible results, seed
    /// from the item instead. The annotated form is `#[parallel_map(init =
    /// "make")]`; an annotated function whose state needs run-time values
    /// runs here as `map_fn("f", |x, s: &mut S| f(x, &k, s)).init(…)`.
    pub fn init<T, S, R, I>(self, init: I) -> MapFn<impl Fn(T) -> R + Sync + Send>
    where
        F: Fn(T, &mut S) -> R + Sync + Send,
        I: Fn() -> S + Sync + Send,
        S: Send,
    {
        let (f, state) = (self.f, PerWorker::with_init(init));
        MapFn {
            site: self.site,
            options: self.options,
            f: move |x: T| state.with(|s| f(x, s)),
        }
    }

    /// The name given to [`map_fn`].
    pub fn name(&self) -> &'static str {
        self.site.name
    }

    /// Every item through the function, on all cores; the results in input
    /// order (Python's `pool.map(f, xs)`). With the `mpi` backend and
    /// several ranks it panics: see [`map_mpi`](Self::map_mpi).
    ///
    /// # Panics
    /// With an [`ItemPanic`](crate::ItemPanic) when the function panics on
    /// an item (the lowest index of those that panicked).
    #[track_caller]
    pub fn map<S, R>(&self, items: S) -> Vec<R>
    where
        S: IntoItems,
        R: Send,
        F: Fn(S::Item) -> R + Sync,
    {
        self.refuse_ranks("map_mpi");
        map(&self.site, self.call_options(), items, None, None, &self.f)
    }

    /// For a function returning a `Result`: all the `Ok` values in input
    /// order, or the failure with the lowest index among the items that ran,
    /// naming that index and the map. No new item starts after a failure is
    /// seen.
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// let parse = map_fn("parse", |s: &str| s.parse::<i32>());
    /// assert_eq!(parse.try_map(["1", "2"]).unwrap(), [1, 2]);
    /// let err = parse.try_map(["1", "x"]).unwrap_err();
    /// assert_eq!(err.to_string(), "parse: item 1 failed: invalid digit found in string");
    /// ```
    ///
    /// # Errors
    /// The [`ItemError`] of the failing item.
    #[track_caller]
    pub fn try_map<S, T, E>(&self, items: S) -> Result<Vec<T>, ItemError<E>>
    where
        S: IntoItems,
        T: Send,
        E: Send,
        F: Fn(S::Item) -> Result<T, E> + Sync,
    {
        try_map(
            &self.site,
            self.call_options(),
            items,
            (None, None),
            None,
            &self.f,
        )
    }

    /// The results in input order, each as soon as its window is done
    /// (Python's `pool.imap(f, xs)`): the attribute's `f::imap`, for any
    /// `IntoIterator`, pulled lazily one window at a time, so an endless
    /// generator runs in bounded memory. `for_each`, `fold`, `sum` and
    /// `count` keep the pool busy while a window is consumed. Under the
    /// `mpi` backend every rank runs every item, as the attribute's does.
    /// See `docs/parallel_map.md`, "Streaming and asynchronous calls".
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// let square = map_fn("square", |x: u64| x * x);
    /// let firsts: Vec<u64> = square.imap(1..).take(4).collect();
    /// assert_eq!(firsts, [1, 4, 9, 16]);
    /// assert_eq!(square.imap(1..=100u64).sum::<u64>(), 338_350);
    /// ```
    ///
    /// # Panics
    /// `next()` panics with an [`ItemPanic`](crate::ItemPanic) naming the
    /// map and the item if the function panics for an item of its window;
    /// the iterator then ends.
    pub fn imap<'f, S, R>(&'f self, items: S) -> impl Iterator<Item = R> + 'f
    where
        S: IntoIterator + 'f,
        S::Item: Send,
        R: Send + 'f,
        F: Fn(S::Item) -> R + Sync,
    {
        self.stream(items, Values)
    }

    /// `(index, result)` pairs, a window of them as it is done (Python's
    /// `pool.imap_unordered(f, xs)`): the attribute's `f::imap_unordered`.
    /// See [`imap`](Self::imap).
    pub fn imap_unordered<'f, S, R>(&'f self, items: S) -> impl Iterator<Item = (usize, R)> + 'f
    where
        S: IntoIterator + 'f,
        S::Item: Send,
        R: Send + 'f,
        F: Fn(S::Item) -> R + Sync,
    {
        self.stream(items, Indexed)
    }

    /// [`imap`](Self::imap) for a function returning a `Result`: the `Ok`
    /// values in input order, then at the first failure its [`ItemError`],
    /// naming the item and the map, then the end; nothing after the failure
    /// is pulled from `items`.
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// let parse = map_fn("parse", |s: &str| s.parse::<i32>());
    /// let got: Vec<_> = parse.try_imap(["1", "x", "3"]).collect();
    /// assert_eq!(got[0], Ok(1));
    /// assert_eq!(got[1].as_ref().unwrap_err().index(), 1);
    /// assert_eq!(got.len(), 2);
    /// ```
    pub fn try_imap<'f, S, T, E>(
        &'f self,
        items: S,
    ) -> impl Iterator<Item = Result<T, ItemError<E>>> + 'f
    where
        S: IntoIterator + 'f,
        S::Item: Send,
        T: Send + 'f,
        E: Send + 'f,
        F: Fn(S::Item) -> Result<T, E> + Sync,
    {
        let items = pulled(items);
        let pairs = stream::try_imap(&self.site, self.call_options(), items, &self.f, true);
        pairs.map(|r| r.map(|(_, v)| v))
    }

    /// [`imap_unordered`](Self::imap_unordered) for a function returning a
    /// `Result`: the `Ok` pairs of the items that ran, then at a failure its
    /// [`ItemError`], then the end (the attribute's `f::try_imap_unordered`).
    pub fn try_imap_unordered<'f, S, T, E>(
        &'f self,
        items: S,
    ) -> impl Iterator<Item = Result<(usize, T), ItemError<E>>> + 'f
    where
        S: IntoIterator + 'f,
        S::Item: Send,
        T: Send + 'f,
        E: Send + 'f,
        F: Fn(S::Item) -> Result<T, E> + Sync,
    {
        stream::try_imap(
            &self.site,
            self.call_options(),
            pulled(items),
            &self.f,
            false,
        )
    }

    /// Folds the function's results with `op` from `identity`, without
    /// collecting them, with the same bits whatever the thread count,
    /// schedule or backend (the attribute's `f::reduce`). With the `mpi`
    /// backend and several ranks it panics: see
    /// [`reduce_mpi`](Self::reduce_mpi).
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// let total = map_fn("square", |x: u64| x * x).reduce(1..=100u64, 0, |a, b| a + b);
    /// assert_eq!(total, 338_350);
    /// ```
    #[track_caller]
    pub fn reduce<S, R>(&self, items: S, identity: R, op: impl Fn(R, R) -> R + Sync) -> R
    where
        S: IntoItems,
        R: Clone + Send + Sync,
        F: Fn(S::Item) -> R + Sync,
    {
        self.refuse_ranks("reduce_mpi");
        reduce(
            &self.site,
            self.call_options(),
            items,
            None,
            None,
            &self.f,
            identity,
            op,
        )
    }

    /// [`map`](Self::map), which under the `mpi` backend with several ranks
    /// also splits the items across the ranks (each rank runs its share and
    /// every rank gets every result): for a result type with serde's traits.
    #[track_caller]
    pub fn map_mpi<S, R>(&self, items: S) -> Vec<R>
    where
        S: IntoItems,
        R: Send + Serialize + DeserializeOwned,
        F: Fn(S::Item) -> R + Sync,
    {
        let codec = serde_codec::<R>();
        map(&self.site, self.call_options(), items, codec, None, &self.f)
    }

    /// [`reduce`](Self::reduce), which under the `mpi` backend with several
    /// ranks also splits the items across the ranks: for a value type with
    /// serde's traits. The answer has the same bits as on one rank.
    #[track_caller]
    pub fn reduce_mpi<S, R>(&self, items: S, identity: R, op: impl Fn(R, R) -> R + Sync) -> R
    where
        S: IntoItems,
        R: Clone + Send + Sync + Serialize + DeserializeOwned,
        F: Fn(S::Item) -> R + Sync,
    {
        let codec = serde_codec::<R>();
        reduce(
            &self.site,
            self.call_options(),
            items,
            codec,
            None,
            &self.f,
            identity,
            op,
        )
    }

    /// [`imap`](Self::imap) (`Values`) or
    /// [`imap_unordered`](Self::imap_unordered) (`Indexed`) of `items`.
    fn stream<S, R, Y>(&self, items: S, how: Y) -> Stream<Pulled<S::IntoIter>, &F, Y::Ready>
    where
        S: IntoIterator,
        S::Item: Send,
        R: Send,
        F: Fn(S::Item) -> R + Sync,
        Y: Yield<R>,
    {
        stream::imap(&self.site, self.call_options(), pulled(items), &self.f, how)
    }

    fn call_options(&self) -> Option<&MapOptions> {
        self.options.as_ref()
    }

    /// Refuses, on every rank alike and before any item runs, a call that
    /// would split its items across ranks without a way to send results.
    #[track_caller]
    fn refuse_ranks(&self, instead: &str) {
        if self.site.plan(self.call_options()).backend == Backend::Mpi
            && crate::mpi::world::active()
        {
            panic!(
                "{name}: backend mpi: this map would split its items across ranks and send the \
                 results between them, which a call-site map (`map_fn`) does only in \
                 `map_fn(\"{name}\", f).{instead}(…)`, for a result type with serde's \
                 `Serialize` and `Deserialize`; call that, or use the `threads` backend \
                 (`.options(MapOptions::new().backend(Backend::Threads))`), which runs every \
                 item on each rank",
                name = self.site.name
            );
        }
    }
}

/// The serde codec of results, which the attribute finds by probing its
/// result type; here the bounds say it is there.
fn serde_codec<R: Serialize + DeserializeOwned>() -> Option<ResultCodec<R>> {
    <&Probe<R> as ViaSerde<R>>::result_codec(&&Probe::new())
}
