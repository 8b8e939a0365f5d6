//! Reduction operations and the element types of the buffer path.

use super::Equivalence;

/// A predefined reduction, as mpi4py's `MPI.SUM`, `MPI.PROD`, `MPI.MIN`,
/// `MPI.MAX`. For any other combination, pass a closure to
/// [`Comm::reduce_with`](super::Comm::reduce_with).
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
/// copy (numbers, `bool`, `#[derive(Equivalence)]` structs).
pub trait Scalar: Equivalence + Copy + Send + 'static {}
impl<T: Equivalence + Copy + Send + 'static> Scalar for T {}

/// A number that the predefined [`Op`]s apply to.
pub trait Operand: Scalar {
    /// `op` applied to `a` and `b`.
    fn apply(op: Op, a: Self, b: Self) -> Self;
}

macro_rules! operand {
    ($($t:ty),*) => { $(
        impl Operand for $t {
            #[inline]
            fn apply(op: Op, a: Self, b: Self) -> Self {
                match op {
                    Op::Sum => a + b,
                    Op::Prod => a * b,
                    Op::Min => if b < a { b } else { a },
                    Op::Max => if b > a { b } else { a },
                }
            }
        }
    )* };
}
operand!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

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
