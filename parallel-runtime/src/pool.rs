//! The one thread pool every annotation uses (and the pools of the calls
//! that ask for a size of their own: [`sized`]).
//!
//! It is rayon's global pool, built at the first parallel call with the size
//! from [`crate::config`]. Code that calls rayon directly (`par_iter`) shares
//! the same threads, so a program never runs two pools that fight for cores.
//! If the program built rayon's global pool itself before the first parallel
//! call, that pool is used as it is.
//!
//! The pool owns its size: the size asked for in code
//! ([`config::set_num_threads`](crate::config::set_num_threads)), the
//! runtime's own hint (a rank's share of its node under MPI) and the size it
//! started with. Reading the environment is the configuration's work, above
//! this module: it hands `PARALLEL_NUM_THREADS` to [`ensure`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

static STARTED: OnceLock<usize> = OnceLock::new();
static THREADS_WANTED: AtomicUsize = AtomicUsize::new(0);
static THREADS_HINT: AtomicUsize = AtomicUsize::new(0);

/// The size of the pool if it has started.
pub(crate) fn started() -> Option<usize> {
    STARTED.get().copied()
}

/// Asks for a pool of `n` threads (`n` > 0, within the limits the caller
/// checked) when it starts. Once it runs, only its own size is accepted:
/// `Err` holds the size it runs with.
pub(crate) fn want(n: usize) -> Result<(), usize> {
    if let Some(running) = started() {
        if running != n {
            return Err(running);
        }
        return Ok(());
    }
    THREADS_WANTED.store(n, Ordering::Relaxed);
    Ok(())
}

/// A default pool size chosen by the runtime itself (the hybrid MPI + threads
/// share of a node); the user's `PARALLEL_NUM_THREADS` or
/// [`config::set_num_threads`](crate::config::set_num_threads) still win.
#[cfg(feature = "mpi")]
pub(crate) fn set_threads_hint(n: usize) {
    THREADS_HINT.store(n.max(1), Ordering::Relaxed);
}

/// The pool size to build: the size asked for in code, then `from_env`
/// (`PARALLEL_NUM_THREADS`, asked only when no size was set in code), then
/// the runtime's hint; `None` lets rayon decide (`RAYON_NUM_THREADS` or the
/// number of cores).
fn threads_wanted(from_env: impl FnOnce() -> Option<usize>) -> Option<usize> {
    match THREADS_WANTED.load(Ordering::Relaxed) {
        0 => from_env().or(match THREADS_HINT.load(Ordering::Relaxed) {
            0 => None,
            n if std::env::var_os("RAYON_NUM_THREADS").is_some() => {
                let _ = n;
                None
            }
            n => Some(n),
        }),
        n => Some(n),
    }
}

/// Starts the pool if needed and returns its number of threads. `from_env`
/// gives the size the environment asks for; it is called only when the
/// pool starts and no size was set in code.
pub(crate) fn ensure(from_env: impl FnOnce() -> Option<usize>) -> usize {
    *STARTED.get_or_init(|| {
        crate::trace::start_from_env();
        // The live dashboard, if `PARALLEL_DASHBOARD` asks for one.
        crate::dashboard::start_from_env();
        let wanted = threads_wanted(from_env);
        let mut builder = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("parallel-worker-{i}"))
            .stack_size(worker_stack());
        if let Some(n) = wanted {
            builder = builder.num_threads(n);
        }
        // An error means the global pool already exists (the program built
        // it, or called rayon before us); we then share it as it is.
        let _ = builder.build_global();
        let running = global_threads();
        if let Some(n) = wanted {
            if n != running {
                eprintln!(
                    "parallel-runtime: warning: {n} threads were asked for, but rayon's global pool \
                     was already started with {running}; using {running}"
                );
            }
        }
        running
    })
}

/// The number of threads of rayon's global pool. On a thread of another
/// pool (the program's own, when its first parallel call runs inside one)
/// `rayon::current_num_threads` tells that pool's size instead: it is then
/// asked on a thread outside any pool. (It took a pool of one thread of
/// the program's own for the shared pool, and warned that the size asked
/// for was not granted.)
fn global_threads() -> usize {
    if rayon::current_thread_index().is_none() {
        return rayon::current_num_threads();
    }
    std::thread::scope(|s| s.spawn(rayon::current_num_threads).join())
        .unwrap_or_else(|_| rayon::current_num_threads())
}

/// The pool of exactly `n` threads of the calls that ask for one
/// (`MapOptions::threads`): started at the first such call, then kept for
/// the program's life, one per size. The shared pool is not touched.
pub(crate) fn sized(n: usize) -> &'static rayon::ThreadPool {
    static POOLS: Mutex<Vec<(usize, &'static rayon::ThreadPool)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&(_, pool)) = pools.iter().find(|(size, _)| *size == n) {
        return pool;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(move |i| format!("parallel-pool{n}-worker-{i}"))
        .stack_size(worker_stack())
        .build()
        .unwrap_or_else(|e| panic!("parallel-runtime: cannot start a pool of {n} threads: {e}"));
    // Kept for the program's life, as the shared pool is: a size asked for
    // once is usually asked for again.
    let pool: &'static rayon::ThreadPool = Box::leak(Box::new(pool));
    pools.push((n, pool));
    pool
}

/// The state of each worker thread of one call (`#[parallel_map(init =
/// "make")]`, Python's `Pool(initializer=…)`): one slot per worker of the
/// pool the call runs on, filled by `init` on the worker's first item and
/// lent to each later item it runs, so `init` runs at most once per worker
/// per call (rayon's `map_init` runs it once per split, far more often).
///
/// A slot is emptied while its item runs, so an item that waits for other
/// work (a nested map, on which the worker may take another item of this
/// call) finds it empty and builds a state of its own for that item; and a
/// panicking item drops its state. Neither happens in a plain map.
#[doc(hidden)]
pub struct PerWorker<S, I = fn() -> S> {
    init: I,
    /// The workers' slots and, last, one for any other thread (the caller,
    /// on the serial backend); made at the first item, sized by the pool
    /// that runs it.
    slots: OnceLock<Box<[Mutex<Option<S>>]>>,
}

impl<S: Send> PerWorker<S> {
    /// No state built yet. (A function pointer: `init` is a path, and a
    /// type mismatch is then one error, at it.)
    pub fn new(init: fn() -> S) -> Self {
        Self::with_init(init)
    }
}

impl<S: Send, I: Fn() -> S> PerWorker<S, I> {
    /// No state built yet; `init` builds each one (a closure: `map_fn`'s
    /// `init`, which may capture Python's `initargs`).
    pub fn with_init(init: I) -> Self {
        PerWorker {
            init,
            slots: OnceLock::new(),
        }
    }

    /// Runs `f` with this thread's state, built first if this thread has
    /// none yet.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let slots = self.slots.get_or_init(|| {
            let workers = rayon::current_num_threads();
            (0..=workers).map(|_| Mutex::new(None)).collect()
        });
        let other = slots.len() - 1;
        let slot = &slots[rayon::current_thread_index().map_or(other, |i| i.min(other))];
        let lock = || slot.lock().unwrap_or_else(PoisonError::into_inner);
        // The slot is not locked while `init` runs: an `init` that runs a
        // map itself lets this worker take another item of this call while
        // it waits, and that item locks the same slot (it deadlocked).
        let taken = lock().take();
        let mut state = taken.unwrap_or_else(&self.init);
        let out = f(&mut state);
        lock().get_or_insert(state);
        out
    }
}

/// The pool size of one rank of a hybrid (MPI + threads) job, from what the
/// node tells it: `bound_cpus` in its CPU affinity mask, `online_cpus` on the
/// node, `ranks_on_node` ranks of the job on this node.
///
/// - A rank whose mask is smaller than the node (the launcher bound it:
///   `mpirun --map-by slot:PE=4`, `srun --cpu-bind`) owns those cores: its
///   share is the mask, which must not be divided again by the ranks on the
///   node. Where masks overlap (`--bind-to socket` with several ranks per
///   socket) the even share of the node is smaller, and is taken instead, so
///   the ranks of one socket do not oversubscribe it.
/// - An unbound rank gets the node's cores divided by the ranks on the node.
///
/// Never less than 1.
#[cfg(any(feature = "mpi", test))]
pub(crate) fn rank_threads(bound_cpus: usize, online_cpus: usize, ranks_on_node: usize) -> usize {
    let online = online_cpus.max(1);
    let even_share = online / ranks_on_node.max(1);
    let share = if bound_cpus < online {
        bound_cpus.min(even_share.max(1))
    } else {
        even_share
    };
    share.max(1)
}

/// The CPUs this process may run on (its affinity mask) and the CPUs online
/// on the machine, for [`rank_threads`]; both from the standard library's
/// `available_parallelism` where the system cannot tell them apart.
#[cfg(any(feature = "mpi", test))]
pub(crate) fn cpu_counts() -> (usize, usize) {
    let available = std::thread::available_parallelism().map_or(1, usize::from);
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is
        // the valid empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid 0 is the calling thread (at start-up, the process's
        // mask); the size and pointer describe `set`, which outlives the call.
        let rc =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        let bound = if rc == 0 {
            // SAFETY: `set` is initialised (zeroed, then filled by the kernel).
            usize::try_from(unsafe { libc::CPU_COUNT(&set) }).unwrap_or(0)
        } else {
            0 // more CPUs than a `cpu_set_t` holds: fall back below
        };
        // SAFETY: sysconf reads a system value and has no preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        let online = usize::try_from(online).unwrap_or(0);
        if bound > 0 && online > 0 {
            return (bound, online.max(bound));
        }
    }
    (available, available)
}

/// The stack of each thread of our pools: as large as a main thread's
/// usual one (8 MiB, `ulimit -s`), or `RUST_MIN_STACK` when that asks for
/// more. Rayon's default, 2 MiB, made a function that a serial loop on the
/// main thread ran fine abort the whole process on a worker ("has
/// overflowed its stack"): in a debug build, one that returns a 256 KiB
/// array by value. Only the pages a thread touches are committed.
fn worker_stack() -> usize {
    const MAIN_THREAD: usize = 8 << 20;
    std::env::var("RUST_MIN_STACK")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(MAIN_THREAD, |asked: usize| asked.max(MAIN_THREAD))
}

/// Stack left below which a map or a `compute` called inside an item or a
/// task (nested, or recursive) continues on a new stack segment on the heap,
/// and the size of that segment: so that depth is limited by memory, as
/// plain recursion on the main thread is, not by a worker's 2 MiB stack.
const STACK_RED_ZONE: usize = 256 * 1024;
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// Runs `f`, on a new stack segment if this thread's stack runs low: the
/// maps and computes that items and tasks call, nested or recursive.
#[inline]
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, f)
}

#[cfg(test)]
mod tests {
    use super::rank_threads;

    #[test]
    fn a_bound_rank_owns_its_cores_and_an_unbound_one_shares_the_node() {
        // mpirun -n 4 --map-by slot:PE=4 on 16 cores: each rank bound to 4.
        assert_eq!(rank_threads(4, 16, 4), 4);
        // mpirun -n 4 --bind-to none on 16 cores.
        assert_eq!(rank_threads(16, 16, 4), 4);
        // bound to one core (mpirun -n 2 --bind-to core on 2 cores).
        assert_eq!(rank_threads(1, 16, 4), 1);
        assert_eq!(rank_threads(1, 2, 2), 1);
        // unbound, more ranks than cores (--oversubscribe).
        assert_eq!(rank_threads(2, 2, 4), 1);
        // --bind-to socket, two 8-core sockets, two ranks per socket: the
        // masks overlap, each rank gets half a socket.
        assert_eq!(rank_threads(8, 16, 4), 4);
        // one rank per node, bound to a 12-core subset.
        assert_eq!(rank_threads(12, 16, 1), 12);
        // nonsense from the environment never gives 0.
        assert_eq!(rank_threads(0, 0, 0), 1);
    }

    #[test]
    fn cpu_counts_are_consistent() {
        let (bound, online) = super::cpu_counts();
        assert!(bound >= 1 && online >= bound, "{bound} of {online}");
    }
}
