//! [`Reduction`]: the operations the reductions, scans and reduce-scatters
//! take, each defined on the element types MPI defines it on; the logical
//! and bitwise operations on integers.

#[cfg(feature = "mpi")]
use super::system_op;
use super::{Op, Operand};

/// Only this crate's operations and integers: the MPI operation each one
/// names is known to be defined on its element types.
pub(super) mod sealed {
    /// The seal.
    pub trait Sealed {}
}

/// An operation that the reductions of the buffer path apply element by
/// element (`reduce_buf`, `all_reduce_buf`, `scan_buf`, `exscan_buf`,
/// `reduce_scatter_buf`…), and the single-number `reduce`, `all_reduce`,
/// `scan`, `exscan`: [`Op`] on numbers, [`Logical`] and [`Bitwise`] on
/// [`Integer`]s, [`Locate`](super::Locate) on [`Loc`](super::Loc) pairs.
///
/// An operation on a type it is not defined on does not compile:
///
/// ```compile_fail
/// # use parallel_runtime::mpi::{Comm, Op};
/// # let world = Comm::single();
/// let x = world.all_reduce(1.5f64, Op::BAnd)?; // error: `Bitwise` is not defined on `f64`
/// # Ok::<(), parallel_runtime::mpi::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "the operation `{Self}` is not defined on `{T}`",
    label = "not an operation on `{T}`",
    note = "`Op::Sum`, `Prod`, `Min`, `Max` take numbers; `Op::LAnd`, `LOr`, `LXor`, `BAnd`, `BOr`, `BXor` take integers; `Op::MaxLoc`, `MinLoc` take `Loc` pairs (as MPI defines them)",
    note = "for any other combination, pass a closure on the object path (`reduce_with`, `all_reduce_with`, `scan_with`)"
)]
pub trait Reduction<T>: Copy + Send + Sync + 'static + sealed::Sealed {
    /// `a` combined with `b`, where `a` comes from the lower rank (MPI's
    /// order, which the local world keeps).
    fn combine(self, a: T, b: T) -> T;

    /// The MPI operation. Not a stable API.
    #[cfg(feature = "mpi")]
    #[doc(hidden)]
    fn mpi_op(self) -> MpiOp;
}

impl sealed::Sealed for Op {}

impl<T: Operand> Reduction<T> for Op {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        T::apply(self, a, b)
    }
    #[cfg(feature = "mpi")]
    fn mpi_op(self) -> MpiOp {
        MpiOp::system(system_op(self))
    }
}

/// The integer types, which the logical and bitwise operations take (as
/// in MPI, which defines them on C's integers).
#[diagnostic::on_unimplemented(
    message = "the logical and bitwise operations (`Op::LAnd`, `Op::BAnd`…) take integers, not `{Self}`",
    label = "an operation on integers",
    note = "MPI defines them on integers only; to reduce flags, send them as `u8`"
)]
pub trait Integer:
    Operand
    + PartialEq
    + Default
    + From<bool>
    + std::ops::BitAnd<Output = Self>
    + std::ops::BitOr<Output = Self>
    + std::ops::BitXor<Output = Self>
    + sealed::Sealed
{
}

macro_rules! integer {
    ($($t:ty),*) => { $(
        impl sealed::Sealed for $t {}
        impl Integer for $t {}
    )* };
}
integer!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

/// The logical operations (`MPI.LAND`, `MPI.LOR`, `MPI.LXOR`) of
/// integers, written [`Op::LAnd`], [`Op::LOr`], [`Op::LXor`]: non-zero is
/// true, and the result is 1 or 0 (as C's `&&`). On one rank the value is
/// passed through as it is, as MPI does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Logical {
    /// Both are non-zero (`MPI.LAND`).
    And,
    /// Either is non-zero (`MPI.LOR`).
    Or,
    /// Exactly one is non-zero (`MPI.LXOR`).
    Xor,
}

impl sealed::Sealed for Logical {}

impl<T: Integer> Reduction<T> for Logical {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        let (a, b) = (a != T::default(), b != T::default());
        T::from(match self {
            Logical::And => a && b,
            Logical::Or => a || b,
            Logical::Xor => a != b,
        })
    }
    #[cfg(feature = "mpi")]
    fn mpi_op(self) -> MpiOp {
        use rsmpi::collective::SystemOperation;
        MpiOp::system(match self {
            Logical::And => SystemOperation::logical_and(),
            Logical::Or => SystemOperation::logical_or(),
            Logical::Xor => SystemOperation::logical_xor(),
        })
    }
}

/// The bitwise operations (`MPI.BAND`, `MPI.BOR`, `MPI.BXOR`) of
/// integers, written [`Op::BAnd`], [`Op::BOr`], [`Op::BXor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bitwise {
    /// `a & b` (`MPI.BAND`).
    And,
    /// `a | b` (`MPI.BOR`).
    Or,
    /// `a ^ b` (`MPI.BXOR`).
    Xor,
}

impl sealed::Sealed for Bitwise {}

impl<T: Integer> Reduction<T> for Bitwise {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        match self {
            Bitwise::And => a & b,
            Bitwise::Or => a | b,
            Bitwise::Xor => a ^ b,
        }
    }
    #[cfg(feature = "mpi")]
    fn mpi_op(self) -> MpiOp {
        use rsmpi::collective::SystemOperation;
        MpiOp::system(match self {
            Bitwise::And => SystemOperation::bitwise_and(),
            Bitwise::Or => SystemOperation::bitwise_or(),
            Bitwise::Xor => SystemOperation::bitwise_xor(),
        })
    }
}

/// The `MPI_Op` of a [`Reduction`]: a predefined one, or a user operation
/// made for one call (freed when dropped). Not a stable API.
#[cfg(feature = "mpi")]
pub struct MpiOp {
    raw: rsmpi::ffi::MPI_Op,
    /// Made by `MPI_Op_create`, so freed on drop.
    owned: bool,
}

/// The function of an MPI user operation: `inout[i] = in[i] ∘ inout[i]`
/// for `*len` elements.
#[cfg(feature = "mpi")]
pub(crate) type UserFunction = unsafe extern "C" fn(
    *mut std::os::raw::c_void,
    *mut std::os::raw::c_void,
    *mut std::os::raw::c_int,
    *mut rsmpi::ffi::MPI_Datatype,
);

#[cfg(feature = "mpi")]
impl MpiOp {
    /// A predefined operation.
    pub(crate) fn system(op: rsmpi::collective::SystemOperation) -> MpiOp {
        use rsmpi::raw::AsRaw;
        MpiOp {
            raw: op.as_raw(),
            owned: false,
        }
    }

    /// A commutative user operation calling `function`.
    pub(crate) fn commutative(function: UserFunction) -> MpiOp {
        let mut raw = std::mem::MaybeUninit::uninit();
        // SAFETY: `function` has the signature MPI calls; MPI writes the
        // new handle into `raw` (the default error handler aborts rather
        // than return an error).
        unsafe {
            rsmpi::ffi::MPI_Op_create(Some(function), 1, raw.as_mut_ptr());
        }
        MpiOp {
            // SAFETY: `MPI_Op_create` wrote it.
            raw: unsafe { raw.assume_init() },
            owned: true,
        }
    }
}

#[cfg(feature = "mpi")]
// SAFETY: `raw` is a valid `MPI_Op` for as long as `self` lives.
unsafe impl rsmpi::raw::AsRaw for MpiOp {
    type Raw = rsmpi::ffi::MPI_Op;
    fn as_raw(&self) -> Self::Raw {
        self.raw
    }
}

#[cfg(feature = "mpi")]
impl rsmpi::collective::Operation for MpiOp {}

#[cfg(feature = "mpi")]
impl Drop for MpiOp {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: made by `MPI_Op_create` and freed once, after the
            // collectives that used it have completed (they are blocking).
            unsafe {
                rsmpi::ffi::MPI_Op_free(&mut self.raw);
            }
        }
    }
}
