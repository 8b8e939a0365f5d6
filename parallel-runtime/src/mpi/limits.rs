//! How many elements one MPI call carries, and the pieces a longer message
//! goes in (the format of the pieces is in `wire.rs`).
//!
//! The limit is `i32::MAX` elements; the hidden environment variable
//! `PARALLEL_MPI_MAX_COUNT` lowers it (read once per process), so that a
//! test can exercise pieces and the limits of collectives with small
//! messages.

use std::sync::OnceLock;

/// The most elements one MPI call carries: `i32::MAX`, or
/// `PARALLEL_MPI_MAX_COUNT` when set (for tests).
pub(crate) fn max_count() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        let limit = i32::MAX as usize;
        std::env::var("PARALLEL_MPI_MAX_COUNT")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| (1..=limit).contains(&n))
            .unwrap_or(limit)
    })
}

/// The pieces `buf` is sent in: one when shorter than [`max_count`], else
/// full pieces then a shorter last one (possibly empty).
pub(crate) fn pieces<T>(buf: &[T]) -> impl Iterator<Item = &[T]> {
    pieces_of(buf, max_count())
}

/// `buf` in pieces of `p` elements: one when shorter than `p`, else full
/// pieces then a shorter last one (possibly empty), so that a receiver
/// knows a full piece means "more follows".
pub(crate) fn pieces_of<T>(buf: &[T], p: usize) -> impl Iterator<Item = &[T]> {
    let full = buf.len() / p;
    (0..=full).map(move |k| &buf[k * p..((k + 1) * p).min(buf.len())])
}

/// Bytes per piece of an object-path message on MPI: 1 MiB (or
/// [`max_count`], when lower). A message shorter than a piece is whole; a
/// full piece that begins an encoded value says that more follow.
#[cfg(feature = "mpi")]
pub(crate) fn object_piece() -> usize {
    max_count().min(1 << 20)
}
