//! [`Backend`]: the transport of one communicator, either of the two, and
//! the trait implemented by delegating to it: the one place that tells the
//! backends apart.

use super::collectives::Collectives;
use super::local::{Envelope, Local, Sent};
use super::nonblocking::{CollFlight, Extended, Peeked};
#[cfg(feature = "mpi")]
use super::rsmpi::{Probed, Rsmpi, SendRequest};
use super::{Fit, InFlight, Matched, Transport};
use crate::mpi::error::Error;
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Op, Operand, Reduction, Scalar};

/// The transport of one communicator: the local world of threads or real
/// MPI.
pub(crate) enum Backend {
    Local(Local),
    #[cfg(feature = "mpi")]
    Rsmpi(Rsmpi),
}

/// A message matched on a [`Backend`].
pub(crate) enum AnyMatched {
    Local(Envelope),
    #[cfg(feature = "mpi")]
    Rsmpi(Probed),
}

/// A send in flight on a [`Backend`].
pub(crate) enum AnySending<T: Scalar> {
    Local(Sent<T>),
    #[cfg(feature = "mpi")]
    Rsmpi(SendRequest<T>),
}

/// `$e` with `$t` bound to the backend's own transport: the one place that
/// tells the backends apart.
macro_rules! each {
    ($self:expr, $t:ident => $e:expr) => {
        match $self {
            Backend::Local($t) => $e,
            #[cfg(feature = "mpi")]
            Backend::Rsmpi($t) => $e,
        }
    };
}

/// `$e` with `$m` bound to the backend's own matched message.
macro_rules! each_matched {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            AnyMatched::Local($m) => $e,
            #[cfg(feature = "mpi")]
            AnyMatched::Rsmpi($m) => $e,
        }
    };
}

impl Backend {
    /// A world of one rank: what a program started without `mpirun` gets.
    pub(crate) fn single() -> Backend {
        Backend::Local(Local::single())
    }

    /// The world communicator of real MPI.
    #[cfg(feature = "mpi")]
    pub(crate) fn rsmpi(comm: ::rsmpi::topology::SimpleCommunicator) -> Backend {
        Backend::Rsmpi(Rsmpi::new(comm))
    }

    /// `"local"` or `"mpi"`, for `Debug`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Backend::Local(_) => "local",
            #[cfg(feature = "mpi")]
            Backend::Rsmpi(_) => "mpi",
        }
    }

    /// Whether it runs on a real MPI library.
    pub(crate) fn is_mpi(&self) -> bool {
        !matches!(self, Backend::Local(_))
    }

    /// The rsmpi communicator, on real MPI.
    #[cfg(feature = "mpi")]
    pub(crate) fn raw(&self) -> Option<&::rsmpi::topology::SimpleCommunicator> {
        match self {
            Backend::Rsmpi(t) => Some(&t.comm),
            Backend::Local(_) => None,
        }
    }
}

/// `$e` with `$s` bound to the backend's own send in flight.
macro_rules! each_sending {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            AnySending::Local($s) => $e,
            #[cfg(feature = "mpi")]
            AnySending::Rsmpi($s) => $e,
        }
    };
}

impl<T: Scalar> InFlight<T> for AnySending<T> {
    #[inline]
    fn is_done(&self) -> bool {
        each_sending!(self, s => s.is_done())
    }
    #[inline]
    fn test(&mut self) -> Option<Vec<T>> {
        each_sending!(self, s => s.test())
    }
    #[inline]
    fn wait(&mut self) -> Vec<T> {
        each_sending!(self, s => s.wait())
    }
}

impl Matched for AnyMatched {
    #[inline]
    fn source(&self) -> usize {
        each_matched!(self, m => m.source())
    }
    #[inline]
    fn tag(&self) -> Tag {
        each_matched!(self, m => m.tag())
    }
    #[inline]
    fn fit<T: Scalar>(&self, op: &'static str) -> Fit {
        each_matched!(self, m => m.fit::<T>(op))
    }
    #[inline]
    fn receive_into<T: Scalar + AnyBitPattern>(self, dst: &mut [T]) {
        each_matched!(self, m => m.receive_into(dst))
    }
    #[inline]
    fn receive_into_uninit<T: Scalar + AnyBitPattern>(self, dst: &mut [std::mem::MaybeUninit<T>]) {
        each_matched!(self, m => m.receive_into_uninit(dst))
    }
    #[inline]
    fn discard(self) {
        each_matched!(self, m => m.discard())
    }
}

impl Transport for Backend {
    type Matched = AnyMatched;
    type Sending<T: Scalar> = AnySending<T>;

    #[inline]
    fn rank(&self) -> usize {
        each!(self, t => t.rank())
    }
    #[inline]
    fn size(&self) -> usize {
        each!(self, t => t.size())
    }
    #[inline]
    fn tag_ub(&self) -> Tag {
        each!(self, t => t.tag_ub())
    }
    fn handle(&self) -> Self {
        match self {
            Backend::Local(t) => Backend::Local(t.handle()),
            #[cfg(feature = "mpi")]
            Backend::Rsmpi(t) => Backend::Rsmpi(t.handle()),
        }
    }
    #[inline]
    fn object_piece(&self) -> usize {
        each!(self, t => t.object_piece())
    }
    #[inline]
    fn send<T: Scalar>(&self, piece: &[T], dest: usize, tag: Tag) {
        each!(self, t => t.send(piece, dest, tag))
    }
    #[inline]
    fn send_owned<T: Scalar>(&self, piece: Vec<T>, dest: usize, tag: Tag) {
        each!(self, t => t.send_owned(piece, dest, tag))
    }
    #[inline]
    fn isend<T: Scalar>(&self, buf: Vec<T>, dest: usize, tag: Tag, piece: usize) -> AnySending<T> {
        match self {
            Backend::Local(t) => AnySending::Local(t.isend(buf, dest, tag, piece)),
            #[cfg(feature = "mpi")]
            Backend::Rsmpi(t) => AnySending::Rsmpi(t.isend(buf, dest, tag, piece)),
        }
    }
    #[inline]
    fn probe(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
    ) -> Result<Option<AnyMatched>, Error> {
        match self {
            Backend::Local(t) => Ok(t.probe(source, tag, wait)?.map(AnyMatched::Local)),
            #[cfg(feature = "mpi")]
            Backend::Rsmpi(t) => Ok(t.probe(source, tag, wait)?.map(AnyMatched::Rsmpi)),
        }
    }
    fn idle(&self, source: Source, tag: TagMatch) -> Result<(), Error> {
        each!(self, t => t.idle(source, tag))
    }
    fn bcast_bytes(
        &self,
        root: usize,
        bytes: Option<Vec<u8>>,
        op: &'static str,
    ) -> Result<Vec<u8>, Error> {
        each!(self, t => t.bcast_bytes(root, bytes, op))
    }
    fn all_lens(&self, n: usize, op: &'static str) -> Result<Vec<u64>, Error> {
        each!(self, t => t.all_lens(n, op))
    }
    fn gather_bytes(
        &self,
        root: usize,
        bytes: Vec<u8>,
        lens: &[u64],
        op: &'static str,
    ) -> Result<Option<Vec<Vec<u8>>>, Error> {
        each!(self, t => t.gather_bytes(root, bytes, lens, op))
    }
    fn allgather_bytes(
        &self,
        bytes: Vec<u8>,
        lens: &[u64],
        op: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error> {
        each!(self, t => t.allgather_bytes(bytes, lens, op))
    }
    fn scatter_bytes(
        &self,
        root: usize,
        parts: Option<Result<Vec<Vec<u8>>, u64>>,
        op: &'static str,
    ) -> Result<Result<Vec<u8>, u64>, Error> {
        each!(self, t => t.scatter_bytes(root, parts, op))
    }
    fn bcast_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        buf: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.bcast_into(root, buf, op))
    }
    fn scatter_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<&[T]>,
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.scatter_into(root, send, recv, op))
    }
    fn gather_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.gather_into(root, send, recv, op))
    }
    fn all_gather_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.all_gather_into(send, recv, op))
    }
    fn reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.reduce_into(root, send, recv, reduction, op))
    }
    fn all_reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.all_reduce_into(send, recv, reduction, op))
    }
    fn barrier(&self) -> Result<(), Error> {
        each!(self, t => t.barrier())
    }
    fn split(&self, color: Option<u32>, key: i32) -> Result<Option<Self>, Error> {
        match self {
            Backend::Local(t) => Ok(t.split(color, key)?.map(Backend::Local)),
            #[cfg(feature = "mpi")]
            Backend::Rsmpi(t) => Ok(t.split(color, key)?.map(Backend::Rsmpi)),
        }
    }
    fn abort(&self, code: i32) -> ! {
        each!(self, t => t.abort(code))
    }

    // ----- issue 11, object path at buffer speed: out-of-band pieces --------

    fn out_of_band(&self) -> Option<usize> {
        each!(self, t => t.out_of_band())
    }
    fn whole_bytes(&self, source: usize, tag: Tag, first: usize) -> usize {
        each!(self, t => t.whole_bytes(source, tag, first))
    }
}

// ----- issue 11 (nonblocking collectives, probes, Cartesian topologies) -----

impl Extended for Backend {
    fn ibarrier<'c>(&'c self, seq: i32) -> Box<dyn CollFlight<()> + 'c> {
        each!(self, t => t.ibarrier(seq))
    }
    fn ibcast<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        buf: Vec<T>,
        seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c> {
        each!(self, t => t.ibcast(root, buf, seq))
    }
    fn iall_reduce<'c, T: Operand>(
        &'c self,
        send: Vec<T>,
        reduction: Op,
        seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c> {
        each!(self, t => t.iall_reduce(send, reduction, seq))
    }
    fn igather<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        send: Vec<T>,
        recv: Option<Vec<T>>,
        seq: i32,
    ) -> Box<dyn CollFlight<Option<Vec<T>>> + 'c> {
        each!(self, t => t.igather(root, send, recv, seq))
    }
    fn peek<T: Scalar>(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
        op: &'static str,
    ) -> Result<Option<Peeked>, Error> {
        each!(self, t => t.peek::<T>(source, tag, wait, op))
    }
    fn cart_create(&self, dims: &[usize], periods: &[bool], reorder: bool) -> Result<Self, Error> {
        match self {
            Backend::Local(t) => t.cart_create(dims, periods, reorder).map(Backend::Local),
            #[cfg(feature = "mpi")]
            Backend::Rsmpi(t) => t.cart_create(dims, periods, reorder).map(Backend::Rsmpi),
        }
    }
}

/// Issue 11's collectives (all-to-all, counts and displacements, scans,
/// reduce-scatter), by delegation as above.
impl Collectives for Backend {
    fn all_to_all_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.all_to_all_into(send, recv, op))
    }
    fn all_to_allv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: (&[T], &[usize], &[usize]),
        recv: (&mut [T], &[usize], &[usize]),
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.all_to_allv_into(send, recv, op))
    }
    fn scatterv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.scatterv_into(root, send, recv, op))
    }
    fn gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<(&mut [T], &[usize], &[usize])>,
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.gatherv_into(root, send, recv, op))
    }
    fn all_gatherv_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: (&mut [T], &[usize], &[usize]),
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.all_gatherv_into(send, recv, op))
    }
    fn scan_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        exclusive: bool,
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.scan_into(send, recv, reduction, exclusive, op))
    }
    fn reduce_scatter_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error> {
        each!(self, t => t.reduce_scatter_into(send, recv, counts, reduction, op))
    }
}
