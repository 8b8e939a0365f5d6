//! Reduction operations and the element types of the buffer path.
//!
//! Every predefined operation is a value of a type that says which element
//! types it is defined on: [`Op`] (sum, product, min, max) on numbers,
//! [`Logical`] and [`Bitwise`] on integers, [`Locate`] on [`Loc`] pairs.
//! The collectives take any of them as an `impl` [`Reduction<T>`], so an
//! operation on a type MPI does not define it on (a bitwise and of `f64`)
//! is a compile error.

mod loc;
mod reduction;

use std::ops::{Add, Mul};

use super::datatype::Equivalence;

pub use loc::{Loc, LocValue, Locate};
pub use reduction::{Bitwise, Integer, Logical, Reduction};

/// A predefined reduction, as mpi4py's `MPI.SUM`, `MPI.PROD`, `MPI.MIN`,
/// `MPI.MAX`. For any other combination, pass a closure to
/// [`Comm::reduce_with`](super::Comm::reduce_with).
///
/// The other predefined operations are constants of `Op` too, of their own
/// types: [`Op::LAnd`], [`Op::LOr`], [`Op::LXor`] ([`Logical`]),
/// [`Op::BAnd`], [`Op::BOr`], [`Op::BXor`] ([`Bitwise`]), [`Op::MaxLoc`]
/// and [`Op::MinLoc`] ([`Locate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `a + b` (`MPI_SUM`).
    Sum,
    /// `a * b` (`MPI_PROD`).
    Prod,
    /// The smaller (`MPI_MIN`).
    Min,
    /// The larger (`MPI_MAX`).
    Max,
}

/// An element of the buffer path: a plain-data type MPI can send without a
/// copy (numbers, `bool`, `#[derive(Equivalence)]` structs). Receiving
/// into it needs [`AnyBitPattern`] too.
pub trait Scalar: Equivalence + Copy + Send + 'static {}
impl<T: Equivalence + Copy + Send + 'static> Scalar for T {}

/// Element types that can be *received into* on the buffer path: every bit
/// pattern of their size is a valid value (bytemuck's `AnyBitPattern`).
///
/// MPI writes the sender's bytes into the receive buffer as they are, so a
/// `bool` (only 0 and 1 are valid), a `char`, an enum or a struct holding
/// one could hold an invalid value after a receive: undefined behaviour in
/// safe code. Numbers and arrays of them implement this trait;
/// `#[derive(Equivalence)]` implements it for a struct whose fields all do.
/// Such types can still be *sent* ([`Comm::send_buf`](super::Comm::send_buf)).
///
/// To receive flags, send `u8` (`x as u8`) and compare (`x != 0`), or use
/// the object path ([`Comm::recv`](super::Comm::recv)), which checks every
/// value it decodes.
///
/// ```compile_fail
/// # let world = parallel_runtime::mpi::Comm::single();
/// let mut flags = [false; 3];
/// world.recv_buf(&mut flags, 0, 0)?; // error: `bool` cannot be received into
/// # Ok::<(), parallel_runtime::mpi::Error>(())
/// ```
///
/// # Safety
///
/// Every bit pattern of `size_of::<Self>()` bytes (padding aside) must be
/// a valid value of `Self`. Implement it by hand only for a type built with
/// rsmpi's own derive whose fields are all such types.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be received into on the buffer path: not every bit pattern is a valid `{Self}`",
    label = "a receive buffer of `{Self}`",
    note = "MPI writes the sender's bytes as they are, so a `bool`, `char`, enum or a struct holding one could get an invalid value",
    note = "receive integers and convert them (e.g. `u8`, then `x != 0` for a `bool`), or use the object path (`recv`, `bcast`…), which checks every value"
)]
pub unsafe trait AnyBitPattern {}

macro_rules! any_bit_pattern {
    ($($t:ty),*) => { $(
        // SAFETY: every bit pattern of an integer or a float is a value.
        unsafe impl AnyBitPattern for $t {}
    )* };
}
any_bit_pattern!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

// SAFETY: an array of such elements has no other bytes than theirs.
unsafe impl<T: AnyBitPattern, const N: usize> AnyBitPattern for [T; N] {}

/// A zeroed element, to fill a receive buffer whose length only the
/// message tells.
pub(crate) fn zeroed<T: AnyBitPattern>() -> T {
    // SAFETY: all-zero bytes are one of the bit patterns `T` accepts.
    unsafe { std::mem::zeroed() }
}

/// A number that the predefined [`Op`]s apply to.
#[diagnostic::on_unimplemented(
    message = "`Op::Sum`, `Prod`, `Min` and `Max` take numbers, not `{Self}`",
    label = "an operation on numbers",
    note = "`Op::MaxLoc` and `Op::MinLoc` take `Loc` pairs; for any other type, pass a closure on the object path (`all_reduce_with`, `scan_with`)"
)]
pub trait Operand: Scalar + AnyBitPattern {
    /// `op` applied to `a` and `b`.
    fn apply(op: Op, a: Self, b: Self) -> Self;
}

// `$sum` and `$prod` are the arithmetic MPI does: integers wrap around
// (C's arithmetic, and MPI's `MPI_SUM` on every implementation), so that a
// sum past `i32::MAX` is the same in the local world, in a debug build, as
// under `mpirun`, not a panic inside the runtime.
macro_rules! operand {
    ($sum:ident, $prod:ident: $($t:ty),*) => { $(
        impl Operand for $t {
            #[inline]
            fn apply(op: Op, a: Self, b: Self) -> Self {
                match op {
                    Op::Sum => a.$sum(b),
                    Op::Prod => a.$prod(b),
                    Op::Min => if b < a { b } else { a },
                    Op::Max => if b > a { b } else { a },
                }
            }
        }
    )* };
}
operand!(add, mul: f32, f64);
operand!(wrapping_add, wrapping_mul: i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

// The names are MPI's and mpi4py's (`MPI.LAND`, `MPI.MAXLOC`), written as
// `Op`'s variants are, so that `Op::BAnd` reads as `Op::Sum` does; each is
// of its own type, so that the compiler knows which elements it takes.
#[allow(non_upper_case_globals)]
impl Op {
    /// Logical and (`MPI.LAND`) of integers: 1 when both are non-zero, else 0.
    pub const LAnd: Logical = Logical::And;
    /// Logical or (`MPI.LOR`) of integers.
    pub const LOr: Logical = Logical::Or;
    /// Logical exclusive or (`MPI.LXOR`) of integers.
    pub const LXor: Logical = Logical::Xor;
    /// Bitwise and (`MPI.BAND`) of integers.
    pub const BAnd: Bitwise = Bitwise::And;
    /// Bitwise or (`MPI.BOR`) of integers.
    pub const BOr: Bitwise = Bitwise::Or;
    /// Bitwise exclusive or (`MPI.BXOR`) of integers.
    pub const BXor: Bitwise = Bitwise::Xor;
    /// The larger value with its index (`MPI.MAXLOC`) of [`Loc`] pairs; on
    /// equal values, the lower index.
    pub const MaxLoc: Locate = Locate::MaxLoc;
    /// The smaller value with its index (`MPI.MINLOC`) of [`Loc`] pairs; on
    /// equal values, the lower index.
    pub const MinLoc: Locate = Locate::MinLoc;
}

#[cfg(feature = "mpi")]
pub(crate) fn system_op(op: Op) -> rsmpi::collective::SystemOperation {
    use rsmpi::collective::SystemOperation;
    match op {
        Op::Sum => SystemOperation::sum(),
        Op::Prod => SystemOperation::product(),
        Op::Min => SystemOperation::min(),
        Op::Max => SystemOperation::max(),
    }
}
