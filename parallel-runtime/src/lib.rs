//! Make serial research code parallel with one annotation.
//!
//! | annotation | Python equivalent | what it does |
//! |---|---|---|
//! | [`#[parallel_map]`](parallel_map) | `multiprocessing.Pool.map` | maps a per-item function over many items on all cores |
//! | [`#[mpi_main]`](mpi_main) | `mpi4py` | turns `main` into an SPMD program on MPI, with an mpi4py-like [`Comm`](mpi::Comm) |
//! | [`#[delayed]`](delayed) | `dask.delayed` | builds a lazy task graph and computes it in parallel |
//!
//! For a function you cannot annotate (one of another crate, a closure),
//! [`map_fn`] is Python's `pool.map(math.sqrt, xs)` and [`delayed_fn`] Dask's
//! `delayed(sum)(parts)`, named at the call site.
//!
//! ```
//! use parallel_runtime::prelude::*;
//!
//! #[parallel_map]
//! fn simulate(seed: u64, steps: &u32) -> u64 {
//!     (0..*steps as u64).fold(seed, |x, i| x.wrapping_mul(6364136223846793005).wrapping_add(i))
//! }
//!
//! let one = simulate(7, &1000);                          // the plain serial function
//! let all: Vec<u64> = simulate::map(0..100u64, &1000);  // every item, in input order, on all cores
//! assert_eq!(all[7], one);
//! ```
//!
//! Everything runs on one shared thread pool (rayon's), configured once per
//! run: see [`config`] for `PARALLEL_BACKEND`, `PARALLEL_NUM_THREADS` and
//! `PARALLEL_PROGRESS`.

pub mod codec;
pub mod config;
pub mod dashboard;
pub mod graph;
pub mod items;
pub mod map;
pub mod mpi;
mod panic;
mod pool;
pub mod trace;

pub use config::threads::num_threads;
pub use config::{Backend, ConfigError, Schedule};
pub use graph::{compute, delayed_fn, Delayed, DelayedError, DelayedFn, IntoDelayed};
pub use items::{items, IntoItems, Items};
pub use map::{
    map_fn, reduce_block_size, AsyncResult, AsyncTimeout, ItemError, ItemPanic, MapFn, MapOptions,
};

#[doc(inline)]
pub use parallel_macros::delayed;
#[doc(inline)]
pub use parallel_macros::mpi_main;
#[doc(inline)]
pub use parallel_macros::parallel_map;

/// [serde](https://serde.rs), re-exported, with its derives: a struct
/// sent on the object path ([`Comm::send`](mpi::Comm::send), `bcast`, a
/// map's results between ranks) needs no `serde` dependency of its own.
/// serde's derives name the `serde` crate, so point them here with
/// `#[serde(crate = "parallel_runtime::serde")]`:
///
/// ```
/// use parallel_runtime::serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// #[serde(crate = "parallel_runtime::serde")]
/// struct Particle {
///     id: u64,
///     pos: Vec<f64>,
/// }
///
/// let p = Particle { id: 7, pos: vec![0.5; 3] };
/// let bytes = parallel_runtime::codec::encode(&p).unwrap();
/// assert_eq!(parallel_runtime::codec::decode::<Particle>(&bytes).unwrap(), p);
/// ```
///
/// (Python's pickle needs nothing of the kind; a crate that depends on
/// `serde` itself derives as usual.)
pub use serde;

/// What most programs need, in one `use`.
pub mod prelude {
    pub use crate::config::{Backend, Schedule};
    pub use crate::items::{items, IntoItems};
    pub use crate::map::{as_completed, map_fn, ItemError, ItemPanic, MapOptions};
    pub use crate::mpi::{Comm, Equivalence, Op, Source, ANY_SOURCE, ANY_TAG};
    pub use crate::{compute, delayed, delayed_fn, Delayed, DelayedError};
    pub use crate::{mpi_main, parallel_map};
}

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;
mod bounds;

/// The Rust examples of the README and of the guides in `docs/`, compiled
/// and run as doctests (`cargo test --doc -p parallel-runtime`), so that
/// what a user copies from them builds and does what the text says.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../README.md")]
    struct Readme;
    #[doc = include_str!("../../docs/parallel_map.md")]
    struct ParallelMap;
    #[doc = include_str!("../../docs/delayed.md")]
    struct Delayed;
    #[doc = include_str!("../../docs/mpi.md")]
    struct Mpi;
    #[doc = include_str!("../../docs/observability.md")]
    struct Observability;
}
