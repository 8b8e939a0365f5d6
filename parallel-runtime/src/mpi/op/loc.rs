//! [`Loc`] pairs (a value and its index) and [`Locate`], `MPI.MAXLOC` and
//! `MPI.MINLOC` on them.

use super::reduction::sealed::Sealed;
#[cfg(feature = "mpi")]
use super::reduction::MpiOp;
use super::reduction::Reduction;
use super::{AnyBitPattern, Scalar};
use crate::mpi::datatype::Equivalence;

/// A value and where it came from (an index, a rank…): the element of
/// [`Op::MaxLoc`](super::Op::MaxLoc) and [`Op::MinLoc`](super::Op::MinLoc),
/// as MPI's pair types (`MPI_DOUBLE_INT` for `Loc<f64>`, `MPI_2INT` for
/// `Loc<i32>`…) and mpi4py's `(value, rank)` tuples.
///
/// ```no_run
/// # use parallel_runtime::mpi::{Comm, Loc, Op};
/// # let world = Comm::single();
/// let mine = (world.rank() as f64 - 1.5).abs();
/// let best = world.all_reduce(Loc::new(mine, world.rank() as i32), Op::MinLoc)?;
/// println!("rank {} holds the smallest value, {}", best.index, best.value);
/// # Ok::<(), parallel_runtime::mpi::Error>(())
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Loc<T> {
    /// The value compared.
    pub value: T,
    /// Where it came from; on equal values the lower index wins.
    pub index: i32,
}

impl<T> Loc<T> {
    /// The pair `(value, index)`.
    pub fn new(value: T, index: i32) -> Loc<T> {
        Loc { value, index }
    }
}

impl<T> From<(T, i32)> for Loc<T> {
    fn from((value, index): (T, i32)) -> Loc<T> {
        Loc { value, index }
    }
}

impl<T> From<Loc<T>> for (T, i32) {
    fn from(l: Loc<T>) -> (T, i32) {
        (l.value, l.index)
    }
}

// SAFETY: a `Loc` of a type that accepts any bit pattern holds that value
// and an `i32`, which does too (its padding aside).
unsafe impl<T: AnyBitPattern> AnyBitPattern for Loc<T> {}

/// The value types of [`Loc`], those of MPI's pair types: `f32`
/// (`MPI_FLOAT_INT`), `f64` (`MPI_DOUBLE_INT`), `i16` (`MPI_SHORT_INT`),
/// `i32` (`MPI_2INT`), `i64` (`MPI_LONG_INT`).
#[diagnostic::on_unimplemented(
    message = "`Op::MaxLoc` and `Op::MinLoc` take `Loc` pairs of `f32`, `f64`, `i16`, `i32` or `i64`, not `{Self}`",
    label = "an operation on `Loc` pairs",
    note = "wrap each value with its index: `Loc::new(value, index)` (mpi4py's `(value, rank)`)"
)]
pub trait LocValue: Scalar + AnyBitPattern + PartialOrd + Sealed {}

#[cfg(not(feature = "mpi"))]
// SAFETY: a `Loc` of plain data is plain data.
unsafe impl<T: Equivalence> Equivalence for Loc<T> {}

// The integers are sealed already, as `Integer`s.
impl Sealed for f32 {}
impl Sealed for f64 {}

macro_rules! loc_value {
    ($($t:ty),*) => { $(
        impl LocValue for $t {}

        #[cfg(feature = "mpi")]
        // SAFETY: the datatype describes both fields at their offsets in
        // the `#[repr(C)]` struct, as rsmpi's derive would.
        unsafe impl Equivalence for Loc<$t> {
            type Out = rsmpi::datatype::DatatypeRef<'static>;
            fn equivalent_datatype() -> Self::Out {
                use rsmpi::datatype::{UncommittedDatatypeRef, UserDatatype};
                static DATATYPE: std::sync::LazyLock<UserDatatype> =
                    std::sync::LazyLock::new(|| {
                        UserDatatype::structured::<UncommittedDatatypeRef<'_>>(
                            &[1, 1],
                            &[
                                std::mem::offset_of!(Loc<$t>, value) as rsmpi::Address,
                                std::mem::offset_of!(Loc<$t>, index) as rsmpi::Address,
                            ],
                            &[
                                UncommittedDatatypeRef::from(<$t>::equivalent_datatype()),
                                UncommittedDatatypeRef::from(i32::equivalent_datatype()),
                            ],
                        )
                    });
                DATATYPE.as_ref()
            }
        }
    )* };
}
loc_value!(f32, f64, i16, i32, i64);

/// `MPI.MAXLOC` and `MPI.MINLOC`, written [`Op::MaxLoc`](super::Op::MaxLoc)
/// and [`Op::MinLoc`](super::Op::MinLoc): the larger (smaller) value of
/// [`Loc`] pairs with its index; of equal values, the lower index, as MPI
/// defines them.
///
/// They take pairs only, and pairs take no other operation:
///
/// ```compile_fail
/// # use parallel_runtime::mpi::{Comm, Op};
/// # let world = Comm::single();
/// let x = world.all_reduce(2.5f64, Op::MaxLoc)?; // error: `Locate` is not defined on `f64`
/// # Ok::<(), parallel_runtime::mpi::Error>(())
/// ```
///
/// ```compile_fail
/// # use parallel_runtime::mpi::{Comm, Loc, Op};
/// # let world = Comm::single();
/// let x = world.all_reduce(Loc::new(2.5f64, 0), Op::Sum)?; // error: `Op` is not defined on `Loc<f64>`
/// # Ok::<(), parallel_runtime::mpi::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Locate {
    /// The larger value and its index (`MPI.MAXLOC`).
    MaxLoc,
    /// The smaller value and its index (`MPI.MINLOC`).
    MinLoc,
}

impl Sealed for Locate {}

impl<T: LocValue> Reduction<Loc<T>> for Locate {
    /// The winning pair, whole: a value is never reported with another
    /// pair's index. A NaN (a value unordered even with itself) wins over
    /// every number, in both operations, as NumPy's `argmax`/`argmin`
    /// report a NaN; of equal values (or two NaNs), the lower index. This
    /// order is total, so the result does not depend on the order in
    /// which MPI combines the ranks' pairs.
    #[inline]
    fn combine(self, a: Loc<T>, b: Loc<T>) -> Loc<T> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let nan = |x: &T| x.partial_cmp(x).is_none();
        let a_first = match (nan(&a.value), nan(&b.value)) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => a.index <= b.index,
            (false, false) => match (self, a.value.partial_cmp(&b.value)) {
                (Locate::MaxLoc, Some(Greater)) | (Locate::MinLoc, Some(Less)) => true,
                (Locate::MaxLoc, Some(Less)) | (Locate::MinLoc, Some(Greater)) => false,
                // Equal values (`-0.0` and `0.0` too): the lower index.
                (_, Some(Equal) | None) => a.index <= b.index,
            },
        };
        if a_first {
            a
        } else {
            b
        }
    }
    #[cfg(feature = "mpi")]
    fn mpi_op(self) -> MpiOp {
        // MPI's own MAXLOC needs its predefined pair datatypes, which rsmpi
        // does not name; a user operation with the same definition works on
        // the datatype of `Loc<T>`.
        match self {
            Locate::MaxLoc => MpiOp::commutative(combine_locs::<T, true>),
            Locate::MinLoc => MpiOp::commutative(combine_locs::<T, false>),
        }
    }
}

/// The user function of `MAXLOC` (`MAX`) or `MINLOC` on `Loc<T>`.
#[cfg(feature = "mpi")]
unsafe extern "C" fn combine_locs<T: LocValue, const MAX: bool>(
    invec: *mut std::os::raw::c_void,
    inoutvec: *mut std::os::raw::c_void,
    len: *mut std::os::raw::c_int,
    _datatype: *mut rsmpi::ffi::MPI_Datatype,
) {
    let op = if MAX { Locate::MaxLoc } else { Locate::MinLoc };
    // SAFETY: this function is only made an operation by `Locate::mpi_op`
    // for buffers of `Loc<T>` (the reduction's element type), so MPI passes
    // `*len` elements of `Loc<T>`'s datatype, laid out as `Loc<T>`, in two
    // distinct buffers.
    let (input, inout) = unsafe {
        let n = usize::try_from(*len).unwrap_or(0);
        (
            std::slice::from_raw_parts(invec as *const Loc<T>, n),
            std::slice::from_raw_parts_mut(inoutvec as *mut Loc<T>, n),
        )
    };
    for (a, b) in input.iter().zip(inout) {
        *b = op.combine(*a, *b);
    }
}
