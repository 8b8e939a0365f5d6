//! The serial path (the `serial` backend): every unit of work in order on
//! the calling thread, recorded as one chunk of the trace.

use super::call::Hooks;

/// Collects `g(i, unit)` over `units`, in order, on this thread: the units
/// are the items of a map, or the blocks of a reduction, and `g` runs each
/// of their items through `hooks`.
pub(super) fn run<T, R, C>(
    hooks: &Hooks<'_>,
    units: impl Iterator<Item = T>,
    mut g: impl FnMut(usize, T) -> R,
) -> C
where
    C: FromIterator<R>,
{
    let mut span = hooks.chunk();
    let out = units
        .enumerate()
        .map(|(i, x)| {
            if let Some(s) = &mut span {
                s.item(i);
            }
            g(i, x)
        })
        .collect();
    drop(span);
    out
}

/// The best guess of an iterator's length, for a progress bar.
pub(super) fn len_hint(it: &impl Iterator) -> usize {
    let (lo, hi) = it.size_hint();
    hi.unwrap_or(lo)
}
