//! The run-wide switches set in code: the backend and progress bars, each
//! over its environment variable.

use std::sync::atomic::{AtomicU8, Ordering};

use super::backend::Backend;
use super::env::env;

static BACKEND_OVERRIDE: AtomicU8 = AtomicU8::new(0);
static PROGRESS_OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// Sets the backend for the rest of the run, as `PARALLEL_BACKEND` does
/// (and over it). Options given for one call still win.
pub fn set_backend(backend: Backend) {
    BACKEND_OVERRIDE.store(backend.to_u8(), Ordering::Relaxed);
}

/// Turns progress bars on or off for the rest of the run, as
/// `PARALLEL_PROGRESS` does (and over it).
pub fn set_progress(on: bool) {
    PROGRESS_OVERRIDE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// The backend in force for the run: the setter, then the environment.
pub(crate) fn run_backend() -> Option<Backend> {
    Backend::from_u8(BACKEND_OVERRIDE.load(Ordering::Relaxed)).or(env().backend)
}

/// Progress in force for the run: the setter, then the environment.
pub(crate) fn run_progress() -> Option<bool> {
    match PROGRESS_OVERRIDE.load(Ordering::Relaxed) {
        1 => Some(false),
        2 => Some(true),
        _ => env().progress,
    }
}
