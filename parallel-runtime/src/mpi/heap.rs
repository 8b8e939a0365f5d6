//! glibc's heap in an MPI program: freed memory kept for the next
//! received messages (`PARALLEL_MPI_KEEP_HEAP`, on by default).
//!
//! A received value's arrays are new vectors (the out-of-band pieces of
//! `wire.rs` are received straight into them), and the program frees them
//! when it is done with the value. glibc gives freed memory at the top of
//! its heap back to the system beyond its *trim threshold* (128 KiB at
//! start), and serves blocks above its *`mmap` threshold* (128 KiB at
//! start) with `mmap`, unmapped again when freed: the next message's
//! vectors then fault their pages in again (with the system calls that
//! gave them back: about 0.75 µs per 4 KiB page on a 2-core VM).
//! glibc raises both thresholds by itself after freeing a large `mmap`ed
//! block, but only up to that block's size: a program whose messages hold
//! several arrays of a few hundred KiB keeps paying. Measured (2 ranks, 2
//! cores, a struct of a 512 KiB `Vec<f32>` and a 512 KiB `Vec<u8>`,
//! ping-pong): 270 µs per message in a fresh process against 77 µs once
//! the thresholds are high, and 16 vectors of 64 KiB 313 against 114 µs.
//!
//! So at start-up, on real MPI with more than one rank, the thresholds are
//! set where glibc's own adjustment ends (32 MiB for `mmap`, twice that to
//! trim): a rank then keeps up to 64 MiB of freed heap. A program that
//! sets them itself (`GLIBC_TUNABLES=glibc.malloc.…_threshold=…`, or
//! `MALLOC_MMAP_THRESHOLD_`/`MALLOC_TRIM_THRESHOLD_`) is left as it is, and
//! `PARALLEL_MPI_KEEP_HEAP=0` leaves every program as it is.

/// Where glibc's `mmap` threshold ends by its own adjustment on 64-bit
/// systems (`DEFAULT_MMAP_THRESHOLD_MAX`).
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Twice the `mmap` threshold, as glibc's adjustment sets it.
const TRIM_THRESHOLD: i32 = 64 << 20;

/// Whether the environment already sets glibc's thresholds.
fn set_by_user(var: impl Fn(&str) -> Option<String>) -> bool {
    let tunables = var("GLIBC_TUNABLES").unwrap_or_default();
    tunables.contains("glibc.malloc.mmap_threshold")
        || tunables.contains("glibc.malloc.trim_threshold")
        || var("MALLOC_MMAP_THRESHOLD_").is_some()
        || var("MALLOC_TRIM_THRESHOLD_").is_some()
}

/// Keeps freed memory in glibc's heap (see the module's docs), unless the
/// environment says otherwise; `true` when it did.
pub(crate) fn keep_freed(keep: bool) -> bool {
    if !keep || set_by_user(|v| std::env::var(v).ok()) {
        return false;
    }
    set_thresholds()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() -> bool {
    // SAFETY: `mallopt` only changes glibc's allocation parameters, under
    // the lock of its main arena (safe beside MPI's or the pool's threads);
    // the values are in its range for both parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

/// Other C libraries keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_sets_the_thresholds_is_left_as_it_is() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |v: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == v)
                    .map(|(_, x)| x.to_string())
            }
        };
        assert!(!set_by_user(env(&[])));
        assert!(!set_by_user(env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.tcache_count=0"
        )])));
        assert!(set_by_user(env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.trim_threshold=1:glibc.pthread.rseq=0"
        )])));
        assert!(set_by_user(env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.mmap_threshold=9"
        )])));
        assert!(set_by_user(env(&[("MALLOC_TRIM_THRESHOLD_", "0")])));
        assert!(set_by_user(env(&[("MALLOC_MMAP_THRESHOLD_", "0")])));
        assert!(!keep_freed(false), "off when asked");
    }
}
