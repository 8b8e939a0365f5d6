//! Buffers of results kept on a thread from one stream to the next.
//!
//! A fold reuses its windows' result buffers within one call (see
//! [`ready`](super::ready)); these keep the last call's two for the next
//! call on the same thread. Without them, a program that calls `imap`
//! again and again freed a megabyte or two of buffers after each call,
//! which glibc returned to the system in some processes and not in
//! others: in those, every call faulted the pages in anew, and a stream
//! of trivial items ran at half the speed (measured in
//! `docs/performance.md`). At most [`SLOTS`] buffers of at most
//! [`MAX_BYTES`] each are kept per thread, freed when the thread ends.

use std::alloc::Layout;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// The buffers kept per thread: a fold has two in flight.
const SLOTS: usize = 2;
/// The largest buffer kept, in bytes.
const MAX_BYTES: usize = 8 << 20;

/// An allocation of the global allocator holding no value, of `layout`.
struct Spare {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Drop for Spare {
    fn drop(&mut self) {
        // SAFETY: `ptr` was allocated by the global allocator with
        // `layout` (see `keep`), and nothing else owns it.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

thread_local! {
    static KEPT: RefCell<Vec<Spare>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector with the largest buffer kept on this thread that fits
/// `R`s (same alignment, a whole number of them), else a new one.
pub(super) fn take<R>() -> Vec<R> {
    let (size, align) = (size_of::<R>(), align_of::<R>());
    if size == 0 {
        return Vec::new();
    }
    let found = KEPT.try_with(|kept| {
        let mut kept = kept.borrow_mut();
        let fits = |s: &Spare| s.layout.align() == align && s.layout.size().is_multiple_of(size);
        let i = (0..kept.len())
            .filter(|&i| fits(&kept[i]))
            .max_by_key(|&i| kept[i].layout.size())?;
        Some(kept.swap_remove(i))
    });
    match found.ok().flatten() {
        Some(spare) => {
            let spare = ManuallyDrop::new(spare);
            let capacity = spare.layout.size() / size;
            // SAFETY: the allocation is the global allocator's, with the
            // alignment of `R` and a size of `capacity` `R`s, the layout a
            // `Vec<R>` of that capacity deallocates with; it holds no value
            // (length 0), and `spare` gives up its ownership.
            unsafe { Vec::from_raw_parts(spare.ptr.as_ptr().cast::<R>(), 0, capacity) }
        }
        None => Vec::new(),
    }
}

/// Keeps the buffer of `values` (dropped first) for a later stream on this
/// thread: in place of the smallest kept, if it is larger.
pub(super) fn keep<R>(mut values: Vec<R>) {
    values.clear();
    let Ok(layout) = Layout::array::<R>(values.capacity()) else {
        return;
    };
    if layout.size() == 0 || layout.size() > MAX_BYTES {
        return;
    }
    let mut values = ManuallyDrop::new(values);
    let Some(ptr) = NonNull::new(values.as_mut_ptr().cast::<u8>()) else {
        return;
    };
    // From here `spare` owns the allocation (a `Vec<R>`'s is of
    // `Layout::array::<R>(capacity)`), and frees it when dropped.
    let spare = Spare { ptr, layout };
    let _ = KEPT.try_with(move |kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() < SLOTS {
            kept.push(spare);
            return;
        }
        let smallest = (0..kept.len()).min_by_key(|&i| kept[i].layout.size());
        if let Some(i) = smallest.filter(|&i| kept[i].layout.size() < spare.layout.size()) {
            kept[i] = spare;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_kept_comes_back_for_values_of_the_same_layout() {
        let mut v: Vec<u64> = Vec::with_capacity(1000);
        v.extend(0..10);
        let ptr = v.as_ptr();
        keep(v);
        // Another type of the same size and alignment gets it.
        let w: Vec<i64> = take();
        assert_eq!(
            (w.as_ptr().cast::<u64>(), w.capacity(), w.len()),
            (ptr, 1000, 0)
        );
        // Taken: not twice.
        assert_eq!(take::<i64>().capacity(), 0);
        // A buffer for another alignment stays kept.
        keep(w);
        assert_eq!(take::<u8>().capacity(), 0);
        assert_eq!(take::<[u32; 2]>().capacity(), 0, "alignment 4, not 8");
        assert_eq!(take::<(u64, u64)>().capacity(), 500);
        // Too large, or of zero-sized values: not kept.
        keep(Vec::<u8>::with_capacity(MAX_BYTES + 1));
        assert_eq!(take::<u8>().capacity(), 0);
        keep(vec![(); 10]);
        KEPT.with(|kept| assert!(kept.borrow().is_empty(), "nothing kept"));
    }

    #[test]
    fn the_largest_buffers_are_kept() {
        for cap in [10, 1000, 100] {
            keep(Vec::<u32>::with_capacity(cap));
        }
        assert_eq!(take::<u32>().capacity(), 1000);
        assert_eq!(take::<u32>().capacity(), 100);
        assert_eq!(take::<u32>().capacity(), 0);
    }
}
