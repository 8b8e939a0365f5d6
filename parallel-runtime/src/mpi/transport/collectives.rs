//! [`Collectives`]: issue 11's collectives on a transport (all-to-all,
//! counts and displacements, scans, reduce-scatter), beside the
//! [`Transport`] trait: implemented for the local world in
//! `local/vector.rs`, for real MPI in `rsmpi/vector.rs`, and for
//! [`Backend`](super::backend::Backend) by delegation in `backend.rs`.
//!
//! `Comm` (`mpi/collective.rs`, `mpi/vector.rs`) checks every argument
//! first: blocks within the buffers and MPI's counts, the same on every
//! rank.

use super::Transport;
use crate::mpi::error::Error;
use crate::mpi::op::{AnyBitPattern, Reduction, Scalar};

/// Issue 11's collectives on one rank's end of a communicator.
pub(crate) trait Collectives: Transport {
    /// Block `r` of `send` to rank `r`, rank `r`'s block into block `r` of
    /// `recv`; the blocks are `send.len() / size()` elements.
    fn all_to_all_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error>;
    /// `send.0[send.2[r]..][..send.1[r]]` to rank `r`, rank `r`'s block
    /// into `recv.0[recv.2[r]..][..recv.1[r]]` (buffer, counts,
    /// displacements).
    fn all_to_allv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: (&[T], &[usize], &[usize]),
        recv: (&mut [T], &[usize], &[usize]),
        op: &'static str,
    ) -> Result<(), Error>;
    /// The root's blocks (buffer, counts, displacements; `Some` on the
    /// root only) to each rank's `recv`.
    fn scatterv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error>;
    /// Every rank's `send` into its block of the root's `recv` (buffer,
    /// counts, displacements; `Some` on the root only).
    fn gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<(&mut [T], &[usize], &[usize])>,
        op: &'static str,
    ) -> Result<(), Error>;
    /// Every rank's `send` into its block of every rank's `recv`.
    fn all_gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: (&mut [T], &[usize], &[usize]),
        op: &'static str,
    ) -> Result<(), Error>;
    /// The element-wise `reduction` of ranks `0..=rank` (`exclusive`:
    /// `0..rank`, and rank 0's `recv` is left as it was) into `recv`, of
    /// any length.
    fn scan_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        exclusive: bool,
        op: &'static str,
    ) -> Result<(), Error>;
    /// The element-wise `reduction` of every rank's `send`, cut into
    /// consecutive blocks of `counts[r]` elements: block `r` into rank
    /// `r`'s `recv`.
    fn reduce_scatter_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error>;
}
