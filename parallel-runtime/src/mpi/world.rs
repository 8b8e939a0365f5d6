//! The communicator of maps on this thread: `#[mpi_main]` (and each rank of
//! a [`local`](super::local) world) installs the world; [`Comm::install`]
//! installs another one (a communicator from [`Comm::split`]) for the
//! length of a closure. Maps and reduces with the `mpi` backend called on
//! that thread split their items across it.

use std::cell::RefCell;

use super::comm::Comm;

/// The communicator of maps on this thread.
enum World {
    /// Not used by a map yet: the first map across ranks replaces it with a
    /// duplicate (a collective call, made then by every rank of it, not at
    /// start-up, where a peer of another language would not join it).
    Pending(Comm),
    /// The communicator of [`Comm::install`], borrowed for the length of
    /// its closure, not used by a map yet (a handle on a sub-communicator
    /// cannot be made without MPI's ownership of it, so it is borrowed).
    Borrowed(*const Comm),
    /// The duplicate that maps use, and the [`Comm::id`] of the
    /// communicator it duplicates.
    Ready(Comm, usize),
    /// A communicator of one rank: maps run on this rank's pool alone.
    Alone,
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// Puts back the communicator of maps that was there before, when dropped
/// (also when the closure of [`Comm::install`] panics).
pub(crate) struct Installed(Option<Option<World>>);

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(before) = self.0.take() {
            // The duplicate, if a map made one, is freed here.
            let _ = WORLD.with(|w| std::mem::replace(&mut *w.borrow_mut(), before));
        }
    }
}

/// Makes `world`, the program's world, the communicator of maps called on
/// this thread; nothing when it has a single rank.
pub(crate) fn install(world: &Comm) -> Installed {
    if world.size() < 2 {
        return Installed(None);
    }
    replace(World::Pending(world.handle()))
}

fn replace(world: World) -> Installed {
    Installed(Some(WORLD.with(|w| w.borrow_mut().replace(world))))
}

impl Comm {
    /// Runs `f` with this communicator as the one that
    /// `#[parallel_map(backend = "mpi")]` maps and reduces called inside it
    /// (on this thread) split their items over, instead of the whole world:
    /// for a map on a sub-communicator made by [`Comm::split`]. Every rank
    /// of this communicator must make the same maps inside `f`, in the same
    /// order, as with the world; ranks outside it are not involved. A
    /// communicator of one rank runs the maps on this rank's pool alone.
    /// What was installed before comes back when `f` returns (or panics),
    /// so calls nest, like rayon's `ThreadPool::install`.
    ///
    /// The first map inside `f` that splits items duplicates this
    /// communicator (one collective call), so that the maps' messages never
    /// mix with the program's own; the duplicate lives until `f` returns:
    /// install once around a phase of many maps, not around each map.
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// #[parallel_map(backend = "mpi")]
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// // Four ranks as threads: the even and the odd ranks each map over
    /// // their own half of the world.
    /// let sums = parallel_runtime::mpi::local::run(4, |world| {
    ///     let color = world.rank() as u32 % 2;
    ///     let half = world.split(Some(color), 0).unwrap().unwrap();
    ///     let squares = half.install(|| square::map(0..10u64));
    ///     squares.iter().sum::<u64>()
    /// });
    /// assert_eq!(sums, [285; 4]);
    /// ```
    pub fn install<R>(&self, f: impl FnOnce() -> R) -> R {
        let _installed = if self.size() < 2 {
            replace(World::Alone)
        } else {
            // Read by `with_comm` on this thread only, while `f` runs:
            // `_installed` puts the previous entry back before `self`'s
            // borrow ends, on return and on unwind alike.
            replace(World::Borrowed(self))
        };
        f()
    }
}

/// Runs `f` on the maps' own communicator, duplicating the installed one
/// the first time; `None` when no communicator of several ranks is
/// installed on this thread.
pub(crate) fn with_comm<T>(f: impl FnOnce(&Comm) -> T) -> Option<T> {
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        let dup = match w.as_ref() {
            Some(World::Pending(world)) => Some((world.dup(), world.id())),
            // SAFETY: a `Borrowed` entry exists only inside `Comm::install`
            // on this thread, which removes it before its `&self` ends (see
            // there), so the pointer is to a live `Comm`, used here on the
            // thread that borrowed it.
            Some(World::Borrowed(comm)) => {
                let comm = unsafe { &**comm };
                Some((comm.dup(), comm.id()))
            }
            _ => None,
        };
        if let Some((dup, base)) = dup {
            match dup {
                Ok(dup) => *w = Some(World::Ready(dup, base)),
                Err(e) => {
                    eprintln!(
                        "parallel-runtime: maps and graphs will not split work across ranks: \
                         the duplicate of the world they use, made by the first of them on \
                         every rank (a collective call), failed: {e}"
                    );
                    *w = Some(World::Alone);
                }
            }
        }
        match w.as_ref() {
            Some(World::Ready(c, _)) => Some(f(c)),
            _ => None,
        }
    })
}

/// This thread's rank in the communicator installed on it, without a
/// message (for the errors of local computations such as `dims_create`):
/// `None` when none of several ranks is installed.
pub(crate) fn installed_rank() -> Option<usize> {
    WORLD.with(|w| match w.borrow().as_ref() {
        Some(World::Pending(world) | World::Ready(world, _)) => Some(world.rank()),
        // SAFETY: as in `with_comm`.
        Some(World::Borrowed(c)) => Some(unsafe { &**c }.rank()),
        Some(World::Alone) | None => None,
    })
}

/// Whether `comm` is the communicator installed on this thread (by
/// `#[mpi_main]` or [`Comm::install`]), whose duplicate [`with_comm`] gives:
/// a graph computed across it takes that duplicate, as `compute()` with
/// the `mpi` backend does, so that ranks computing one graph by either
/// call make the same collectives on the same communicator.
pub(crate) fn is_installed(comm: &Comm) -> bool {
    WORLD.with(|w| match w.borrow().as_ref() {
        Some(World::Pending(world)) => world.id() == comm.id(),
        // SAFETY: as in `with_comm`.
        Some(World::Borrowed(c)) => unsafe { &**c }.id() == comm.id(),
        Some(World::Ready(_, base)) => *base == comm.id(),
        Some(World::Alone) | None => false,
    })
}

/// Whether a communicator of several ranks is installed on this thread: a
/// map with the `mpi` backend will then split its items (a local test, no
/// message).
///
/// With none installed, the map runs on this process alone, unless a
/// launcher started several processes of a program built without the `mpi`
/// feature: each would then run every item alone, silently, so that is the
/// launcher error instead (`launcher::check_launcher`).
pub(crate) fn active() -> bool {
    let installed = WORLD.with(|w| match w.borrow().as_ref() {
        None => None,
        Some(World::Alone) => Some(false),
        Some(World::Pending(_) | World::Borrowed(_) | World::Ready(..)) => Some(true),
    });
    installed.unwrap_or_else(|| {
        if let Err(e) = super::launcher::check_launcher() {
            panic!("{e}");
        }
        false
    })
}
