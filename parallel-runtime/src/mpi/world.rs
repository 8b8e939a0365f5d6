//! The world installed on the thread that runs `main`: `#[mpi_main]` (and
//! each rank of a [`local`](super::local) world) installs it; maps with the
//! `mpi` backend called on that thread split their items across it.

use std::cell::RefCell;

use super::comm::Comm;

/// The communicator of maps on this thread: the world until the first map
/// across ranks, which replaces it with a duplicate (a collective call, made
/// then by every rank, not at start-up, where a peer of another language
/// would not join it).
enum World {
    Pending(Comm),
    Ready(Comm),
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// Removes the installed world when dropped.
pub(crate) struct Installed(bool);

impl Drop for Installed {
    fn drop(&mut self) {
        if self.0 {
            WORLD.with(|w| w.borrow_mut().take());
        }
    }
}

/// Makes `world` the communicator of maps called on this thread.
pub(crate) fn install(world: &Comm) -> Installed {
    if world.size() < 2 {
        return Installed(false);
    }
    WORLD.with(|w| *w.borrow_mut() = Some(World::Pending(world.handle())));
    Installed(true)
}

/// Runs `f` on the maps' own communicator, duplicating the world the first
/// time; `None` when no world of several ranks is installed.
pub(crate) fn with_comm<T>(f: impl FnOnce(&Comm) -> T) -> Option<T> {
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        if let Some(World::Pending(world)) = w.as_ref() {
            match world.dup() {
                Ok(dup) => *w = Some(World::Ready(dup)),
                Err(e) => {
                    eprintln!(
                        "parallel-runtime: #[parallel_map] will not split work across ranks: {e}"
                    );
                    *w = None;
                }
            }
        }
        match w.as_ref() {
            Some(World::Ready(c)) => Some(f(c)),
            _ => None,
        }
    })
}

/// Whether a world of several ranks is installed on this thread: a map with
/// the `mpi` backend will then split its items (a local test, no message).
///
/// Without one, the map runs on this process alone, unless a launcher
/// started several processes of a program built without the `mpi`
/// feature: each would then run every item alone, silently, so that is
/// the launcher error instead (`launcher::check_launcher`).
pub(crate) fn active() -> bool {
    let installed = WORLD.with(|w| w.borrow().is_some());
    if !installed {
        if let Err(e) = super::launcher::check_launcher() {
            panic!("{e}");
        }
    }
    installed
}
