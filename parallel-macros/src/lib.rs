//! Attribute macros of [`parallel-runtime`](https://docs.rs/parallel-runtime).
//!
//! Depend on `parallel-runtime`, which re-exports these macros; the code they
//! write reaches the runtime only through `::parallel_runtime::__private`
//! (or the path given with `crate = "…"`).
//!
//! The crate is organised by pipeline stage: [`args`] parses attribute
//! options, [`model`] reads and checks the annotated function, and
//! `expand/` holds one expansion per attribute.

use proc_macro::TokenStream;

mod args;
mod expand;
mod model;

/// Turns a per-item function into a parallel map over the shared thread pool,
/// the way `multiprocessing.Pool.map` does in Python.
///
/// The function stays exactly as written and callable as before. Beside it,
/// a module of the same name holds the parallel entry points:
///
/// | entry point | does |
/// |---|---|
/// | `f::map(items, shared…)` | `f` on every item, results in input order |
/// | `f::try_map(items, shared…)` | for `f` returning `Result`: `Ok(Vec)` or the first `ItemError`, naming the item |
/// | `f::reduce(items, shared…, identity, op)` | folds the results with `op`, bitwise reproducibly |
/// | `f::map_with(&opts, …)`, `try_map_with`, `reduce_with` | the same, with run-time `MapOptions` |
///
/// The first parameter is the per-item one: `map` takes anything iterable of
/// its type (`Vec<T>`, `&Vec<T>` for `&T`, `&[T]`, `0..n`, any iterator).
/// Every other parameter is shared by all calls, passed once, like
/// `functools.partial` with `Pool.map`.
///
/// # Options
///
/// | option | values | default | what it is for |
/// |---|---|---|---|
/// | `schedule` | `"static"`, `"dynamic"`, `"guided"` | `"guided"` | how items are cut into pieces of work: `static` for items of equal cost, `dynamic` for very uneven ones, `guided` (rayon's adaptive splitting) for most |
/// | `chunk_size` | positive integer | per schedule | items per piece of work |
/// | `backend` | `"serial"`, `"threads"`, `"mpi"` | `"threads"` | `serial` runs the plain loop (debugging); `mpi` splits items across the ranks of an MPI job |
/// | `progress` | flag, or `= true/false` | off | a progress bar on stderr, advancing per item |
/// | `crate` | `"path"` | `"::parallel_runtime"` | where the runtime is, if you renamed the dependency |
///
/// The environment variables `PARALLEL_BACKEND`, `PARALLEL_NUM_THREADS` and
/// `PARALLEL_PROGRESS` override the attribute for a whole run; options given
/// to `map_with` win over both.
///
/// # Examples
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// struct Model { decay: f64 }
///
/// #[parallel_map(schedule = "dynamic", chunk_size = 4)]
/// fn simulate(x0: &f64, model: &Model, steps: u32) -> f64 {
///     (0..steps).fold(*x0, |x, _| x * model.decay)
/// }
///
/// let starts: Vec<f64> = (1..=100).map(f64::from).collect();
/// let model = Model { decay: 0.5 };
/// let one = simulate(&starts[3], &model, 2);           // the plain function
/// let all = simulate::map(&starts, &model, 2);         // all of them, in parallel
/// assert_eq!(all[3], one);
/// let total = simulate::reduce(&starts, &model, 2, 0.0, |a, b| a + b);
/// assert_eq!(total, 5050.0 / 4.0);
/// ```
///
/// # Equivalent code without the macro
///
/// `simulate::map(&starts, &model, 2)` stands for
///
/// ```
/// # struct Model { decay: f64 }
/// # fn simulate(x0: &f64, model: &Model, steps: u32) -> f64 { *x0 }
/// # let starts = vec![1.0]; let model = Model { decay: 0.5 };
/// use rayon::prelude::*;
/// let all: Vec<f64> = starts.par_iter().map(|x| simulate(x, &model, 2)).collect();
/// ```
///
/// plus the schedule, the item-naming panic report, the progress bar, the
/// serial and MPI backends, and the run-wide configuration.
#[proc_macro_attribute]
pub fn parallel_map(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::parallel_map::expand(attr.into(), item.into()).into()
}

/// Makes calls of a function build nodes of a lazy task graph
/// (`Delayed<T>`), computed in parallel by `compute()`, as `dask.delayed` does.
#[proc_macro_attribute]
pub fn delayed(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::delayed::expand(attr.into(), item.into()).into()
}

/// Turns `main` into an SPMD program on MPI, with an mpi4py-like communicator.
#[proc_macro_attribute]
pub fn mpi_main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::mpi_main::expand(attr.into(), item.into()).into()
}
