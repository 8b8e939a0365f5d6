//! Attribute macros of [`parallel-runtime`](https://docs.rs/parallel-runtime).
//!
//! Depend on `parallel-runtime`, which re-exports these macros; the code they
//! write reaches the runtime only through `::parallel_runtime::__private`
//! (or the path given with `crate = "…"`) and `::core`/`::std`.
//!
//! The crate is organised by pipeline stage, the same for every attribute
//! on a function (`pipeline`): `options` parses the attribute's options
//! from one table of keys per attribute, `model` reads the annotated
//! function, `valid` checks what each attribute needs of it, and
//! `expand/` holds one expansion per attribute. Errors are collected
//! across the stages (`ctxt`) and reported all at once, beside the user's
//! item or the expansion.

use proc_macro::TokenStream;

mod ctxt;
mod expand;
mod model;
mod options;
mod pipeline;
mod types;
mod valid;

/// Turns a per-item function into a parallel map over the shared thread pool,
/// the way `multiprocessing.Pool.map` does in Python.
///
/// The function stays exactly as written and callable as before. Beside it,
/// a type of the same name (an `enum` with no values, so that it can share
/// the function's name) holds the parallel entry points as associated
/// functions:
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
/// | `threads` | positive integer | the shared pool | run on a pool of this many threads of its own (Python's `Pool(processes=n)`) |
/// | `init` | `"path"` of a `fn() -> State` | none | per-worker state (Python's `Pool(initializer=…)`): built at most once per worker thread per call, handed to the function's last parameter, `&mut State` |
/// | `items` | positive integer | `1` | how many leading parameters take each item, a tuple of that many values (Python's `Pool.starmap`) |
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
    pipeline::PARALLEL_MAP.run(attr.into(), item.into()).into()
}

/// Makes calls of a function build tasks of a lazy graph, computed in
/// parallel later, as `dask.delayed` does in Python.
///
/// Calling the annotated function runs nothing: it records a task and
/// returns a [`Delayed<R>`](../parallel_runtime/graph/struct.Delayed.html)
/// at once. Every argument takes a plain value or the `Delayed` of one
/// (`&Delayed` to share it; a `Vec<T>` parameter also takes a
/// `Vec<Delayed<T>>`), so the graph is built by ordinary calls and a graph
/// mistake is a type error. `.compute()` runs the graph on the shared
/// thread pool (`compute((a, b))` for several results at once); a task
/// shared by several consumers runs once, results are freed as soon as
/// their last consumer has run, and `PARALLEL_BACKEND=serial` runs
/// everything on the calling thread in a fixed order.
///
/// | written | what it is |
/// |---|---|
/// | `f(args…)` | a new task: `Delayed<R>` (for `-> Result<R, E>`: `Err` fails the task) |
/// | `f::call(args…)` | the plain function, as written: runs now |
///
/// A panic, or an `Err` from a function returning `Result`, fails its
/// task: the tasks that depend on it are cancelled and `compute` returns a
/// `DelayedError` naming the task (`load-3`: the function's name and the
/// number of the call) and the message.
///
/// Parameters must own their values (`String`, not `&str`), and parameters
/// and results must be `Send + 'static`: the task runs later, on another
/// thread. Methods, `async fn`, generic functions and borrowed parameters
/// are compile errors that say what to write instead.
///
/// # Options
///
/// | option | values | default | what it is for |
/// |---|---|---|---|
/// | `name` | `"string"` | the function's name | the name in task keys and pictures (`name = "load"` gives `load-0`, `load-1`, …) |
/// | `result` | `"fail"`, `"value"` | `"fail"` | for a function returning `Result`: `fail` makes `Err` fail the task and gives `Delayed<T>`; `value` keeps the whole `Result` as the value, `Delayed<Result<T, E>>` |
/// | `crate` | `"path"` | `"::parallel_runtime"` | where the runtime is, if you renamed the dependency |
///
/// # Examples
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[delayed]
/// fn load(i: u32) -> Vec<f64> { (0..100).map(|k| f64::from(i * k)).collect() }
/// #[delayed]
/// fn clean(xs: Vec<f64>) -> Vec<f64> { xs.into_iter().filter(|x| *x > 0.0).collect() }
/// #[delayed]
/// fn count(parts: Vec<Vec<f64>>) -> usize { parts.iter().map(Vec::len).sum() }
///
/// let parts: Vec<Delayed<Vec<f64>>> = (0..4).map(|i| clean(load(i))).collect();
/// let n: Delayed<usize> = count(parts);    // nothing has run yet
/// assert_eq!(n.graph().len(), 9);
/// let dot = n.to_dot();                    // a picture: also `n.write_svg(path)`
/// assert_eq!(n.compute().unwrap(), 3 * 99);
/// assert_eq!(load::call(2)[1], 2.0);       // the plain function
/// # let _ = dot;
/// ```
///
/// # Equivalent code without the macro
///
/// For a graph whose shape is known when you write the code, the
/// hand-written equivalent is nested `rayon::join`s:
///
/// ```
/// # fn load(i: u32) -> Vec<f64> { vec![f64::from(i)] }
/// # fn clean(xs: Vec<f64>) -> Vec<f64> { xs }
/// # fn count(parts: Vec<Vec<f64>>) -> usize { parts.len() }
/// let (a, b) = rayon::join(|| clean(load(0)), || clean(load(1)));
/// let n = count(vec![a, b]);
/// # assert_eq!(n, 2);
/// ```
///
/// `#[delayed]` builds the graph at run time instead, so its shape can
/// depend on data (how many files, which steps), and adds what `join` does
/// not: a task shared by several consumers runs once, results are freed
/// after their last consumer, tasks start as soon as their own inputs are
/// ready (not when a whole `join` level is done), failures name the task,
/// and the graph can be inspected and drawn before it runs.
#[proc_macro_attribute]
pub fn delayed(attr: TokenStream, item: TokenStream) -> TokenStream {
    pipeline::DELAYED.run(attr.into(), item.into()).into()
}

/// Turns `main` into an SPMD program on MPI, with an mpi4py-like
/// communicator: every rank runs `main`, which receives the world as a
/// [`Comm`](../parallel_runtime/mpi/struct.Comm.html).
///
/// The attribute writes the real `fn main()`. It initializes MPI once with
/// a thread level checked against what the library provides, sets the
/// thread pool of each rank to its share of the node's cores (so
/// `#[parallel_map]` inside is hybrid MPI + threads without
/// oversubscription; `PARALLEL_NUM_THREADS` still wins), runs your body,
/// and finalizes. **When a rank fails** (a panic, or `main` returning
/// `Err`), it prints `rank R: …` with the message and location and aborts
/// the whole job (`MPI_Abort`), so `mpirun` exits non-zero at once instead
/// of leaving the other ranks blocked (what `python -m mpi4py` does).
///
/// Built without the `mpi` feature of `parallel-runtime`, or started
/// without `mpirun`, the same program runs as a world of one rank, as an
/// mpi4py script run with plain `python` does.
///
/// `main` takes one parameter of type `Comm` and returns `()` or
/// `Result<(), E>` with `E: Display` (e.g. `Box<dyn Error>`).
///
/// # Options
///
/// | option | values | default | what it is for |
/// |---|---|---|---|
/// | `threading` | `"single"`, `"funneled"`, `"serialized"`, `"multiple"` | `"funneled"` | the thread level asked of `MPI_Init_thread`; `funneled` lets thread pools run inside ranks whose main thread makes the MPI calls; `single` is the fastest (MPI skips its locks) when no other thread exists |
/// | `crate` | `"path"` | `"::parallel_runtime"` | where the runtime is, if you renamed the dependency |
///
/// # Examples
///
/// ```no_run
/// use parallel_runtime::prelude::*;
///
/// #[mpi_main]
/// fn main(world: Comm) -> Result<(), Box<dyn std::error::Error>> {
///     let (rank, size) = (world.rank(), world.size());
///     let data = if rank == 0 { Some(vec![1.0f64; 1000]) } else { None };
///     let data: Vec<f64> = world.bcast(0, data)?;          // object path (serde)
///     let local: f64 = data.iter().skip(rank).step_by(size).sum();
///     let total = world.all_reduce(local, Op::Sum)?;       // every rank gets the sum
///     assert_eq!(total, 1000.0);
///     if rank == 0 {
///         println!("total = {total}");
///     }
///     world.barrier()?;
///     Ok(())
/// }
/// ```
///
/// Build with `cargo build --release --features parallel-runtime/mpi` and
/// run with `mpirun -n 4 target/release/your_program`. Runnable examples:
/// `examples/mpi_*.rs`; the mpi4py chapter: `docs/mpi.md`.
///
/// # Equivalent code without the macro
///
/// With rsmpi (the `mpi` crate) directly, the example above stands for the
/// following (not compiled here: this crate does not depend on rsmpi)
///
/// ```text
/// fn main() {
///     let (universe, provided) =
///         mpi::initialize_with_threading(mpi::Threading::Funneled).expect("MPI initialized twice");
///     assert!(provided >= mpi::Threading::Funneled, "MPI lacks thread support");
///     let world = universe.world();
///     // the pool's size: cores / ranks on this node
///     let local: usize = std::env::var("OMPI_COMM_WORLD_LOCAL_SIZE").ok()
///         .and_then(|v| v.parse().ok()).unwrap_or(1);
///     let cores = std::thread::available_parallelism().map_or(1, usize::from);
///     rayon::ThreadPoolBuilder::new().num_threads((cores / local).max(1)).build_global().ok();
///     let rank = world.rank();
///     std::panic::set_hook(Box::new(move |info| eprintln!("rank {rank}: {info}")));
///     let outcome = std::panic::catch_unwind(|| -> Result<(), Box<dyn std::error::Error>> {
///         // the body, with `world.process_at_rank(0).broadcast_into(…)` for `bcast`
///         // (after encoding with serde and broadcasting the length first) and
///         // `world.all_reduce_into(&local, &mut total, SystemOperation::sum())`
///         Ok(())
///     });
///     match outcome {
///         Ok(Ok(())) => {}                     // `universe` drops: MPI_Finalize
///         Ok(Err(e)) => { eprintln!("rank {rank}: error: {e}"); world.abort(1) }
///         Err(_) => world.abort(101),          // the hook printed the panic
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn mpi_main(attr: TokenStream, item: TokenStream) -> TokenStream {
    pipeline::MPI_MAIN.run(attr.into(), item.into()).into()
}

/// `#[derive(Equivalence)]`: a struct of plain data as an element type of
/// the buffer path. Use it as `parallel_runtime::mpi::Equivalence`.
///
/// One derive for both builds of the runtime: with its `mpi` feature it
/// implements rsmpi's `Equivalence` (the struct's MPI datatype, as rsmpi's
/// own derive builds it, at the path of `#[mpi(crate = "…")]`, by default
/// the runtime's re-export); without it, the runtime's stand-in marker.
/// In both, when every field accepts any bit pattern (numbers, arrays of
/// them, such structs), it also implements `AnyBitPattern`, which
/// receiving into the type needs: a struct holding a `bool` can be sent,
/// not received into.
#[proc_macro_derive(Equivalence, attributes(mpi))]
pub fn derive_equivalence(item: TokenStream) -> TokenStream {
    expand::equivalence::expand(item.into()).into()
}
