//! Receive buffers of the object path's collectives, whose lengths come
//! from the other ranks.

use crate::mpi::error::Error;

/// `len` zero bytes to receive into, or an error where they cannot be
/// allocated: a length read from the other ranks that no message can have
/// (ranks that call collectives in different orders read one collective's
/// bytes as another's lengths) is an error naming the collective, not the
/// end of the process on a failed allocation.
pub(super) fn zeroed_bytes(
    len: usize,
    rank: usize,
    op: &'static str,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let refused = || Error::Argument {
        rank,
        op,
        detail: format!(
            "{what} {len} bytes, more than this rank can allocate: do all ranks call the same \
             collectives in the same order?"
        ),
    };
    if len == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).map_err(|_| refused())?;
    // SAFETY: the layout's size is not zero. Zeroed as `vec![0; len]` is
    // (pages the system hands over zeroed are not written again), but a
    // failure comes back as a null pointer instead of ending the process.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(refused());
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of
    // `len` bytes (a `Vec<u8>` of capacity `len`), all of them initialised
    // to zero.
    Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_no_message_can_have_is_an_error_naming_the_collective() {
        let e = zeroed_bytes(usize::MAX / 2, 3, "bcast", "the root (rank 0) sends").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("rank 3: `bcast`: the root (rank 0) sends"),
            "{text}"
        );
        assert!(text.contains("in the same order"), "{text}");
        assert_eq!(zeroed_bytes(5, 0, "bcast", "").unwrap(), [0u8; 5]);
        assert!(zeroed_bytes(0, 0, "bcast", "").unwrap().is_empty());
    }
}
