//! A live view of a run in the browser, as Dask's dashboard is for its
//! users: `PARALLEL_DASHBOARD=127.0.0.1:8787` serves a page that updates
//! twice a second with
//!
//! - the progress of every running map and compute (items or tasks done
//!   out of the total, and the function's name),
//! - the task stream of the last seconds: each chunk of a map and each task
//!   of a graph, per worker thread (and per rank, see below),
//! - busy and idle time per worker over the same seconds.
//!
//! Or in code, with [`serve`]. The page (`/`) reads `/state.json`, which a
//! script may read too.
//!
//! **Off by default, and free when off**: the hooks in the map and the
//! graph are one relaxed atomic load per map call, traced chunk and compute
//! (on paths that already test whether tracing is on); a map's per-item
//! loop is unchanged (its `barless` instance runs whenever no bar is shown
//! and no dashboard served).
//!
//! **Loopback only**: the page shows function names and timings of the
//! program, so an address that is not loopback (`0.0.0.0:8787`,
//! `192.168.1.5:8787`) is refused unless `PARALLEL_DASHBOARD_PUBLIC=1` says
//! it is meant.
//!
//! **Never in the program's way**: the server answers on a thread of its
//! own; the program waits for no browser, and when the port is taken (or
//! the address refused) `PARALLEL_DASHBOARD` only prints a warning on
//! stderr and the program runs on without the page.
//!
//! **Ranks**: under `mpirun` every rank serves its own page, rank `r` on
//! the port plus `r` (`PARALLEL_DASHBOARD=127.0.0.1:8787` with 4 ranks:
//! ports 8787 to 8790), since ranks may be on different nodes and a rank's
//! page must not wait on the others. Port 0 picks a free port per rank.
//!
//! ```no_run
//! let addr = parallel_runtime::dashboard::serve("127.0.0.1:8787")?;
//! println!("live view on http://{addr}/");
//! # Ok::<(), parallel_runtime::dashboard::DashboardError>(())
//! ```

mod server;
mod state;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};

pub use server::{address, serve, DashboardError};
pub(crate) use state::{chunk, job, Job};

/// The environment variable that starts the dashboard at this address
/// (`127.0.0.1:8787`) when the pool starts.
pub const ENV_DASHBOARD: &str = "PARALLEL_DASHBOARD";

/// The environment variable (`1`) that lets [`ENV_DASHBOARD`] (and
/// [`serve`]) listen on an address that is not loopback.
pub const ENV_PUBLIC: &str = "PARALLEL_DASHBOARD_PUBLIC";

/// Whether the dashboard is on: the one branch it costs when off.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether a dashboard is being served (then maps and computes report to it).
#[inline(always)]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Starts the dashboard that `PARALLEL_DASHBOARD` asks for, once per
/// process: an error is a warning on stderr, and the program runs on.
pub(crate) fn start_from_env() {
    let Ok(addr) = std::env::var(ENV_DASHBOARD) else {
        return;
    };
    if addr.trim().is_empty() || address().is_some() {
        return;
    }
    let addr = server::for_this_rank(addr.trim());
    match serve(&addr) {
        Ok(at) => eprintln!("parallel-runtime: live dashboard on http://{at}/"),
        Err(e) => eprintln!(
            "parallel-runtime: warning: no live dashboard ({ENV_DASHBOARD}={addr}): {e}; the program runs on without it"
        ),
    }
}
