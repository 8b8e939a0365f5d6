//! The dashboard's HTTP server: the address checks (loopback unless asked),
//! and one thread that answers `/` with the page and `/state.json` with a
//! snapshot of [`super::state`].
//!
//! `tiny_http` rather than `hyper`/`axum`: a synchronous server on one
//! thread is all a page polled twice a second needs, and it adds 6 small
//! crates to a build, where `axum` brings `tokio` and its runtime (see
//! `docs/performance.md`, "Live dashboard").

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use super::{state, ENV_PUBLIC, ON};

/// The page: HTML, CSS and a script that polls `/state.json`.
const PAGE: &str = include_str!("page.html");

/// Where the dashboard listens, once it does.
static ADDRESS: OnceLock<SocketAddr> = OnceLock::new();

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The address is not `host:port`, or names no host.
    #[error("`{0}` is not an address to listen on; expected host:port, as in 127.0.0.1:8787")]
    Address(String),
    /// The address is not loopback and `PARALLEL_DASHBOARD_PUBLIC` is not `1`.
    #[error(
        "`{0}` is not a loopback address: the page shows the program's function names and timings \
         to anyone who can reach it; listen on 127.0.0.1, or set {ENV_PUBLIC}=1 to serve it there"
    )]
    NotLoopback(String),
    /// The port is taken, or the address cannot be listened on.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the system said.
        reason: String,
    },
    /// A dashboard is already served by this process.
    #[error("a dashboard is already served on http://{0}/")]
    Running(SocketAddr),
}

/// The address the dashboard listens on, if it does.
pub fn address() -> Option<SocketAddr> {
    ADDRESS.get().copied()
}

/// Serves the live dashboard at `addr` (`127.0.0.1:8787`; port 0 picks a
/// free one) on a thread of its own, for the rest of the process, and
/// returns the address it listens on. What `PARALLEL_DASHBOARD` does when
/// the pool starts.
///
/// # Errors
/// A malformed address, one that is not loopback without
/// `PARALLEL_DASHBOARD_PUBLIC=1`, a port that is taken, or a dashboard
/// already served: see [`DashboardError`].
pub fn serve(addr: &str) -> Result<SocketAddr, DashboardError> {
    if let Some(at) = address() {
        return Err(DashboardError::Running(at));
    }
    let public = std::env::var(ENV_PUBLIC).is_ok_and(|v| v.trim() == "1");
    let wanted = check(addr, public)?;
    let server = tiny_http::Server::http(wanted).map_err(|e| DashboardError::Bind {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    let at = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| DashboardError::Address(addr.to_string()))?;
    if ADDRESS.set(at).is_err() {
        // Another thread started one in the meantime: this one is dropped.
        return Err(DashboardError::Running(address().unwrap_or(at)));
    }
    state::now_s();
    let rank = rank_from_env().unwrap_or(0);
    let spawned = std::thread::Builder::new()
        .name("parallel-dashboard".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                answer(request, rank);
            }
        });
    if let Err(e) = spawned {
        return Err(DashboardError::Bind {
            addr: addr.to_string(),
            reason: format!("cannot start the server's thread: {e}"),
        });
    }
    ON.store(true, Ordering::Relaxed);
    Ok(at)
}

/// Parses `addr` and refuses one that is not loopback unless `public`.
pub(super) fn check(addr: &str, public: bool) -> Result<SocketAddr, DashboardError> {
    let bad = || DashboardError::Address(addr.to_string());
    let found: Vec<SocketAddr> = addr.to_socket_addrs().map_err(|_| bad())?.collect();
    // `localhost` may resolve to ::1 and 127.0.0.1: the first will do.
    let first = *found.first().ok_or_else(bad)?;
    if !public && !found.iter().all(|a| a.ip().is_loopback()) {
        return Err(DashboardError::NotLoopback(addr.to_string()));
    }
    Ok(first)
}

/// This process's rank under `mpirun` (Open MPI, MPICH, PMIx), read before
/// MPI starts.
fn rank_from_env() -> Option<u32> {
    ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// `addr` with its port moved up by this process's rank (rank `r` serves on
/// port + `r`); port 0 and addresses without a number port stay as given.
pub(super) fn for_this_rank(addr: &str) -> String {
    shift_port(addr, rank_from_env().unwrap_or(0))
}

pub(super) fn shift_port(addr: &str, rank: u32) -> String {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return addr.to_string();
    };
    match port.parse::<u16>() {
        Ok(p) if p != 0 && rank > 0 => match p.checked_add(rank.min(u16::MAX as u32) as u16) {
            Some(q) => format!("{host}:{q}"),
            None => addr.to_string(),
        },
        _ => addr.to_string(),
    }
}

fn answer(request: tiny_http::Request, rank: u32) {
    let path = request.url().split('?').next().unwrap_or("");
    let (body, kind, status) = match path {
        "/" | "/index.html" => (PAGE.to_string(), "text/html; charset=utf-8", 200),
        "/state.json" => (state::snapshot(rank).to_string(), "application/json", 200),
        _ => ("not found\n".to_string(), "text/plain; charset=utf-8", 404),
    };
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    for (name, value) in [("Content-Type", kind), ("Cache-Control", "no-store")] {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    // A browser that went away is no error of the program's.
    let _ = request.respond(response);
}
