//! Probes of [`Comm`] (mpi4py's `comm.Probe`/`comm.Iprobe` and
//! `comm.probe`/`comm.iprobe`): who sent the next message that matches,
//! with which tag, and how long it is, before receiving it.
//!
//! A probe leaves the message where it is, and respects the receives
//! posted before it (`irecv`, `irecv_buf`, see `matching.rs`): it reports
//! a message that none of them fits, so the message it reports is the one
//! the next receive that matches it gets, as with `MPI_Probe`.

use super::check::Checks;
use super::comm::Comm;
use super::error::Error;
use super::message::{Source, Status, TagMatch};
use super::op::Scalar;
use super::transport::nonblocking::Peeked;
use super::transport::{Fit, Transport};

impl Comm {
    /// Waits for a message from `source` with `tag` (ranks and tags, or
    /// [`ANY_SOURCE`](super::ANY_SOURCE)/[`ANY_TAG`](super::ANY_TAG)) and
    /// returns its [`Status`] without receiving it (`comm.Probe(source,
    /// tag, status)`, or the object path's `comm.probe`).
    /// [`Status::count`] is its size in **bytes**, as mpi4py's
    /// `status.Get_count()` (whose datatype defaults to `MPI.BYTE`); use
    /// [`Comm::probe_buf`] for a count of elements.
    ///
    /// On the object path, the count is the whole encoded value's bytes
    /// on both backends (what [`Comm::recv_status`] reports), however it
    /// travels: on real MPI a value over 1 MiB goes in pieces, and its
    /// large arrays out of band, so there the probe receives the message's
    /// pieces to count them and keeps them for the receive that follows. A
    /// message of the buffer path over `i32::MAX` elements counts its
    /// first piece.
    ///
    /// ```no_run
    /// # let world = parallel_runtime::mpi::Comm::single();
    /// use parallel_runtime::mpi::{ANY_SOURCE, ANY_TAG};
    /// let st = world.probe(ANY_SOURCE, ANY_TAG)?;
    /// let v: String = world.recv(st.source(), st.tag())?;
    /// # Ok::<(), parallel_runtime::mpi::Error>(())
    /// ```
    pub fn probe(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<Status, Error> {
        let _span = crate::trace::op_span("probe");
        let got = self.probe_as::<u8>(source.into(), tag.into(), true, "probe", true)?;
        Ok(got.unwrap_or_else(|| unreachable!("a blocking probe returns a message or an error")))
    }

    /// [`Comm::probe`] without waiting: `None` when no message that matches
    /// has arrived (`comm.Iprobe(source, tag, status)`, `comm.iprobe`).
    pub fn iprobe(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<Option<Status>, Error> {
        let _span = crate::trace::op_span("iprobe");
        self.probe_as::<u8>(source.into(), tag.into(), false, "iprobe", true)
    }

    /// [`Comm::probe`] with [`Status::count`] in elements of `T`, to size
    /// the buffer of a [`Comm::recv_buf`] (`comm.Probe(…, status)` then
    /// `status.Get_count(datatype)`).
    ///
    /// A message that holds no whole number of `T` (or was sent with
    /// another element type, in the local world) is an [`Error::Mismatch`];
    /// the message stays, to be received with the right type.
    ///
    /// ```no_run
    /// # let world = parallel_runtime::mpi::Comm::single();
    /// let st = world.probe_buf::<f64>(0, 7)?;
    /// let mut buf = vec![0.0; st.count()];
    /// world.recv_buf(&mut buf, st.source(), st.tag())?;
    /// # Ok::<(), parallel_runtime::mpi::Error>(())
    /// ```
    pub fn probe_buf<T: Scalar>(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<Status, Error> {
        let _span = crate::trace::op_span("probe_buf");
        let got = self.probe_as::<T>(source.into(), tag.into(), true, "probe_buf", false)?;
        Ok(got.unwrap_or_else(|| unreachable!("a blocking probe returns a message or an error")))
    }

    /// [`Comm::probe_buf`] without waiting: `None` when no message that
    /// matches has arrived (`comm.Iprobe`).
    pub fn iprobe_buf<T: Scalar>(
        &self,
        source: impl Into<Source>,
        tag: impl Into<TagMatch>,
    ) -> Result<Option<Status>, Error> {
        let _span = crate::trace::op_span("iprobe_buf");
        self.probe_as::<T>(source.into(), tag.into(), false, "iprobe_buf", false)
    }

    /// The probes, with the count in bytes or in elements of `T`.
    fn probe_as<T: Scalar>(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
        op: &'static str,
        bytes: bool,
    ) -> Result<Option<Status>, Error> {
        self.t.check_recv(op, source, tag)?;
        let Some(p) = self.receiver().probe_ordered::<T>(source, tag, wait, op)? else {
            return Ok(None);
        };
        let count = if bytes {
            self.t.whole_bytes(p.source, p.tag, p.bytes)
        } else {
            self.whole::<T>(&p, op)?
        };
        Ok(Some(Status {
            source: p.source,
            tag: p.tag,
            count,
        }))
    }

    /// How many `T` the message holds, or why it holds no whole number.
    fn whole<T>(&self, p: &Peeked, op: &'static str) -> Result<usize, Error> {
        let detail = match &p.fit {
            Fit::Whole(n) => return Ok(*n),
            Fit::NotWhole(bytes) => format!(
                "{bytes} bytes sent, not a whole number of `{}` elements ({} bytes each)",
                std::any::type_name::<T>(),
                std::mem::size_of::<T>()
            ),
            Fit::Other(detail) => detail.clone(),
        };
        Err(Error::Mismatch {
            rank: self.rank(),
            op,
            from: p.source,
            detail: format!("{detail}; the message stays, to be received with its own type"),
        })
    }
}
