//! [`Equivalence`], the element types of the buffer path: rsmpi's trait
//! with the `mpi` feature, this crate's marker for plain data without it.

/// The element types of the buffer path: numbers, `bool`, and structs that
/// derive it.
///
/// With the `mpi` feature this is rsmpi's `Equivalence`, which maps the type
/// to an MPI datatype; derive it on your own `#[repr(C)]`-like structs of
/// numbers (the derive is this crate's: it writes rsmpi's impl, and
/// [`AnyBitPattern`](super::AnyBitPattern) when every field has it, so that the struct can be
/// received into); the crate path, optional, names our re-export, so that
/// your `Cargo.toml` names only `parallel-runtime`:
///
/// ```
/// use parallel_runtime::mpi::Equivalence;
///
/// #[derive(Equivalence, Clone, Copy, Debug, PartialEq)]
/// #[mpi(crate = "::parallel_runtime::mpi::rsmpi")]
/// struct Particle {
///     position: [f64; 3],
///     charge: f64,
///     id: u64,
/// }
/// ```
///
/// Without the feature, the derive implements this crate's own marker trait
/// and accepts (ignores) the `#[mpi(crate = …)]` line, so the same code
/// builds both ways.
#[cfg(feature = "mpi")]
pub use rsmpi::datatype::Equivalence;

/// The element types of the buffer path (without the `mpi` feature: a
/// marker for plain-old-data types; with it, rsmpi's `Equivalence`).
///
/// Derive it with `#[derive(Equivalence)]` and
/// `#[mpi(crate = "::parallel_runtime::mpi::rsmpi")]`, as shown in the
/// documentation built with the `mpi` feature.
///
/// # Safety
///
/// Implementors must be plain data: every field a number, `bool`, array or
/// struct of those, so that a copy of the bytes is a valid value.
#[cfg(not(feature = "mpi"))]
pub unsafe trait Equivalence {}

#[cfg(not(feature = "mpi"))]
macro_rules! plain_data {
    ($($t:ty),*) => { $(
        // SAFETY: primitive numbers and bool are plain data.
        unsafe impl Equivalence for $t {}
    )* };
}
#[cfg(not(feature = "mpi"))]
plain_data!(bool, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

#[cfg(not(feature = "mpi"))]
// SAFETY: an array of plain data is plain data.
unsafe impl<T: Equivalence, const N: usize> Equivalence for [T; N] {}
