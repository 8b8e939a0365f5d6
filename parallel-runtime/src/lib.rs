//! Make serial research code parallel with one annotation.
//!
//! | annotation | Python equivalent | what it does |
//! |---|---|---|
//! | [`#[parallel_map]`](parallel_map) | `multiprocessing.Pool.map` | maps a per-item function over many items on all cores |
//! | [`#[mpi_main]`](mpi_main) | `mpi4py` | turns `main` into an SPMD program on MPI, with an mpi4py-like [`Comm`](mpi::Comm) |
//! | [`#[delayed]`](delayed) | `dask.delayed` | builds a lazy task graph and computes it in parallel |
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
pub mod graph;
pub mod items;
pub mod map;
pub mod mpi;
mod pool;
mod progress;
pub mod report;
pub mod trace;

pub use config::{Backend, ConfigError, Schedule};
pub use graph::{compute, Delayed, DelayedError, IntoDelayed};
pub use items::{items, IntoItems, Items};
pub use map::{reduce_block_size, ItemError, ItemPanic, MapOptions};
pub use pool::num_threads;

#[doc(inline)]
pub use parallel_macros::delayed;
#[doc(inline)]
pub use parallel_macros::mpi_main;
#[doc(inline)]
pub use parallel_macros::parallel_map;

/// What most programs need, in one `use`.
pub mod prelude {
    pub use crate::config::{Backend, Schedule};
    pub use crate::items::{items, IntoItems};
    pub use crate::map::{ItemError, ItemPanic, MapOptions};
    pub use crate::mpi::{Comm, Equivalence, Op, Source, ANY_SOURCE, ANY_TAG};
    pub use crate::{compute, delayed, Delayed, DelayedError};
    pub use crate::{mpi_main, parallel_map};
}

/// Support for the code the macros write. **Not a stable API**: nothing here
/// is for use by hand, and any of it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::{Probe, ResultCodec, ViaSerde, WithoutSerde};
    pub use crate::config::{Backend, Schedule};
    pub use crate::graph::outcome::{
        assert_error as delayed_assert_error, from_result as delayed_from_result, ok as delayed_ok,
    };
    pub use crate::graph::{
        task as delayed_task, Delayed, DepList, Input, Inputs, IntoDelayed, TaskSite,
    };
    pub use crate::items::{IntoItems, ItemProbe, ItemUnhashed, ItemViaHash, ItemViaSerde};
    pub use crate::map::{map, reduce, try_map, MapOptions, MapSite};
    pub use core;

    /// What `#[mpi_main]` expands to.
    pub mod mpi {
        pub use crate::mpi::start::{start, MainResult, Session, Threading};
        pub use crate::mpi::Comm;
    }
    pub use rayon;
    pub use serde;
    pub use std;

    /// The `Ok` and `Err` types of a `Result`-returning function, for
    /// `try_map` (works through type aliases such as `io::Result<T>`).
    pub trait IsResult {
        type Ok;
        type Err;
        fn into_result(self) -> Result<Self::Ok, Self::Err>;
    }

    impl<T, E> IsResult for Result<T, E> {
        type Ok = T;
        type Err = E;
        #[inline(always)]
        fn into_result(self) -> Result<T, E> {
            self
        }
    }

    /// The value type of `reduce`: the function's result type `R` itself,
    /// as a generic parameter so that `Clone + Send + Sync` is checked where
    /// `reduce` is called, not where the function is defined.
    pub trait ReduceValue<R>: Clone + Send + Sync {
        fn from_result(r: R) -> Self;
        fn into_result(self) -> R;
    }
    impl<R: Clone + Send + Sync> ReduceValue<R> for R {
        #[inline(always)]
        fn from_result(r: R) -> R {
            r
        }
        #[inline(always)]
        fn into_result(self) -> R {
            self
        }
    }

    /// Compile-time checks placed at the user's spans.
    #[inline(always)]
    pub const fn assert_send<T: ?Sized + Send>() {}
    #[inline(always)]
    pub const fn assert_sync<T: ?Sized + Sync>() {}
    #[inline(always)]
    pub const fn assert_serde<T: MpiResult>() {}
    #[inline(always)]
    pub const fn assert_item_send<T: ?Sized + PerItem>() {}
    #[inline(always)]
    pub const fn assert_shared_sync<T: ?Sized + SharedArg>() {}

    /// What `#[parallel_map]` needs of its per-item parameter.
    #[diagnostic::on_unimplemented(
        message = "the per-item parameter of a #[parallel_map] function must be `Send`: each item moves to a worker thread, and `{Self}` cannot",
        label = "not `Send`",
        note = "use a thread-safe type (`Arc` for `Rc`, `Mutex` or atomics for `Cell`/`RefCell`)"
    )]
    pub trait PerItem: Send {}
    impl<T: ?Sized + Send> PerItem for T {}

    /// What `#[parallel_map]` needs of a shared parameter.
    #[diagnostic::on_unimplemented(
        message = "a shared parameter of a #[parallel_map] function must be `Sync`: every worker thread reads it at once, and `{Self}` cannot be shared",
        label = "not `Sync`",
        note = "use a thread-safe type (`Arc` for `Rc`, `Mutex` or atomics for `Cell`/`RefCell`)"
    )]
    pub trait SharedArg: Sync {}
    impl<T: ?Sized + Sync> SharedArg for T {}

    /// What `backend = "mpi"` needs of a result type.
    #[diagnostic::on_unimplemented(
        message = "`backend = \"mpi\"` sends every result between ranks, so `{Self}` must implement serde's `Serialize` and `Deserialize`",
        label = "this result type cannot cross ranks",
        note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to the type, or use the `threads` backend"
    )]
    pub trait MpiResult: serde::Serialize + serde::de::DeserializeOwned {}
    impl<T: serde::Serialize + serde::de::DeserializeOwned> MpiResult for T {}
}
