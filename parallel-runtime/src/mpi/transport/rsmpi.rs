//! Real MPI: rsmpi's safe traits on a `SimpleCommunicator` (only with the
//! `mpi` feature).

mod bytes;
mod early;
mod nonblocking;
mod receive;
mod send;
mod slot;
mod vector;

use rsmpi::attribute::{AttributeKey, CommAttribute};
use rsmpi::datatype::{Partition, PartitionMut};
use rsmpi::topology::{Color, SimpleCommunicator};
use rsmpi::traits::{AnyCommunicator, Communicator, CommunicatorCollectives, Destination, Root};
use rsmpi::Count;

use bytes::zeroed_bytes;
use early::EarlyQueue;
pub(crate) use receive::Probed;
pub(crate) use send::SendRequest;
pub(crate) use slot::{SlotSend, SlotSet};

use super::Transport;
use crate::mpi::error::Error;
use crate::mpi::limits::{max_count, object_piece};
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Reduction, Scalar};

/// One rank's end of an MPI communicator.
pub(crate) struct Rsmpi {
    pub(crate) comm: SimpleCommunicator,
    /// Asked once: every operation checks ranks against them.
    rank: usize,
    size: usize,
    /// `MPI_TAG_UB`, asked once.
    tag_ub: Tag,
    /// Messages a probe received to count them whole (`early.rs`).
    early: EarlyQueue,
}

/// The `MPI_TAG_UB` attribute: the largest tag (at least 32767).
#[repr(C)]
#[derive(Clone)]
struct TagUb(std::os::raw::c_int);

impl CommAttribute for TagUb {
    fn get_key() -> AttributeKey {
        // SAFETY: `MPI_TAG_UB` is a predefined keyval of every MPI library.
        unsafe { AttributeKey::new_unchecked(rsmpi::ffi::MPI_TAG_UB as i32) }
    }
}

/// Counts that the caller checked against `max_count` (so they fit).
fn count(n: usize) -> Count {
    Count::try_from(n).unwrap_or_else(|_| unreachable!("counts are checked before MPI calls"))
}

/// Displacements of consecutive blocks of `counts` elements.
fn displs(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0, |at, &c| {
            let d = *at;
            *at += c;
            Some(d)
        })
        .collect()
}

/// Cuts `flat` into blocks of `counts` bytes.
fn cut(flat: &[u8], counts: &[Count]) -> Vec<Vec<u8>> {
    // `at + c` stays within `flat`, whose length is the sum of `counts`.
    let mut at = 0;
    counts
        .iter()
        .map(|&c| {
            let c = c as usize;
            let part = flat[at..at + c].to_vec();
            at += c;
            part
        })
        .collect()
}

/// The length a root without bytes broadcasts (no value is that long).
const NO_BYTES: u64 = u64::MAX;

/// Bytes of a broadcast carried inside its first message: values that
/// encode to this or less take one `MPI_Bcast`, larger ones two.
const INLINE: usize = 56;

impl Rsmpi {
    pub(crate) fn new(comm: SimpleCommunicator) -> Rsmpi {
        let (rank, size) = (comm.rank() as usize, comm.size() as usize);
        // Set on the world; a library need not copy it to the
        // communicators made from it, whose tags have the same bound.
        let tag_ub = comm
            .get_attr::<TagUb>()
            .map(|t| t.0)
            .or_else(|| SimpleCommunicator::world().get_attr::<TagUb>().map(|t| t.0))
            .unwrap_or(32767);
        Rsmpi {
            comm,
            rank,
            size,
            tag_ub,
            early: EarlyQueue::default(),
        }
    }

    /// The root's bytes on every rank; `None` on every rank when the root
    /// has none (it says so in the length, so that no rank waits).
    fn bcast_raw(
        &self,
        root: usize,
        bytes: Option<Vec<u8>>,
        op: &'static str,
    ) -> Result<Option<Vec<u8>>, Error> {
        let is_root = self.rank == root;
        let root_proc = self.comm.process_at_rank(root as i32);
        let mut head = [0u8; 8 + INLINE];
        if is_root {
            let len = bytes.as_ref().map_or(NO_BYTES, |b| b.len() as u64);
            head[..8].copy_from_slice(&len.to_le_bytes());
            if let Some(b) = bytes.as_ref().filter(|b| b.len() <= INLINE) {
                head[8..8 + b.len()].copy_from_slice(b);
            }
        }
        root_proc.broadcast_into(&mut head[..]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[..8]);
        let len = u64::from_le_bytes(len);
        if len == NO_BYTES {
            return Ok(None);
        }
        let len = len as usize;
        if len <= INLINE {
            return Ok(Some(head[8..8 + len].to_vec()));
        }
        let mut buf = match bytes {
            Some(b) if is_root => b,
            _ => zeroed_bytes(len, self.rank, op, &format!("the root (rank {root}) sends"))?,
        };
        // In pieces MPI's `int` count can describe; every rank knows `len`.
        for piece in buf.chunks_mut(max_count()) {
            root_proc.broadcast_into(piece);
        }
        Ok(Some(buf))
    }

    /// The root's `parts[r]` to rank `r`, or `Err(n)` on every rank.
    fn scatter_raw(
        &self,
        root: usize,
        parts: Option<Result<Vec<Vec<u8>>, u64>>,
        op: &'static str,
    ) -> Result<Result<Vec<u8>, u64>, Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        let mut len: i64 = 0;
        match parts {
            Some(parts) if self.rank == root => {
                let parts = match parts {
                    Ok(parts) => parts,
                    Err(n) => {
                        let refuse = vec![-(n as i64); self.size];
                        root_proc.scatter_into_root(&refuse[..], &mut len);
                        return Ok(Err(n));
                    }
                };
                let lens: Vec<i64> = parts.iter().map(|p| p.len() as i64).collect();
                root_proc.scatter_into_root(&lens[..], &mut len);
                let counts: Vec<Count> = parts.iter().map(|p| count(p.len())).collect();
                let flat = parts.concat();
                let d = displs(&counts);
                let mut mine = vec![0u8; len as usize];
                let part = Partition::new(&flat[..], &counts[..], &d[..]);
                root_proc.scatter_varcount_into_root(&part, &mut mine[..]);
                Ok(Ok(mine))
            }
            _ => {
                root_proc.scatter_into(&mut len);
                if len < 0 {
                    return Ok(Err(len.unsigned_abs()));
                }
                let mut mine = zeroed_bytes(
                    len as usize,
                    self.rank,
                    op,
                    &format!("the root (rank {root}) sends"),
                )?;
                root_proc.scatter_varcount_into(&mut mine[..]);
                Ok(Ok(mine))
            }
        }
    }
}

impl Transport for Rsmpi {
    type Matched = Probed;
    type Sending<T: Scalar> = SendRequest<T>;

    #[inline]
    fn rank(&self) -> usize {
        self.rank
    }

    #[inline]
    fn size(&self) -> usize {
        self.size
    }

    #[inline]
    fn tag_ub(&self) -> Tag {
        self.tag_ub
    }

    /// Another handle on the world communicator (no MPI call): for the map
    /// engine's lazily made duplicate.
    fn handle(&self) -> Rsmpi {
        Rsmpi {
            early: self.early.clone(),
            ..Rsmpi::new(SimpleCommunicator::world())
        }
    }

    /// 1 MiB: a small message is one piece.
    #[inline]
    fn object_piece(&self) -> usize {
        object_piece()
    }

    #[inline]
    fn send<T: Scalar>(&self, piece: &[T], dest: usize, tag: Tag) {
        self.comm
            .process_at_rank(dest as i32)
            .send_with_tag(piece, tag);
    }

    fn isend<T: Scalar>(&self, buf: Vec<T>, dest: usize, tag: Tag, piece: usize) -> SendRequest<T> {
        self.isend_pieces(buf, dest, tag, piece)
    }

    #[inline]
    fn probe(&self, source: Source, tag: TagMatch, wait: bool) -> Result<Option<Probed>, Error> {
        Ok(self.matched_probe(source, tag, wait))
    }

    fn idle(&self, _source: Source, _tag: TagMatch) -> Result<(), Error> {
        std::thread::yield_now();
        Ok(())
    }

    fn bcast_bytes(
        &self,
        root: usize,
        bytes: Option<Vec<u8>>,
        op: &'static str,
    ) -> Result<Vec<u8>, Error> {
        self.bcast_raw(root, bytes, op)?
            .ok_or(Error::RootValueMissing {
                rank: self.rank,
                op,
                root,
            })
    }

    fn all_lens(&self, n: usize, _op: &'static str) -> Result<Vec<u64>, Error> {
        let mut all = vec![0u64; self.size];
        self.comm.all_gather_into(&(n as u64), &mut all[..]);
        Ok(all)
    }

    fn gather_bytes(
        &self,
        root: usize,
        bytes: Vec<u8>,
        lens: &[u64],
        op: &'static str,
    ) -> Result<Option<Vec<Vec<u8>>>, Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        if self.rank == root {
            let counts: Vec<Count> = lens.iter().map(|&c| count(c as usize)).collect();
            let total = counts.iter().map(|&c| c as usize).sum();
            let mut flat = zeroed_bytes(total, self.rank, op, "the values of all ranks add up to")?;
            let d = displs(&counts);
            {
                let mut part = PartitionMut::new(&mut flat[..], &counts[..], &d[..]);
                root_proc.gather_varcount_into_root(&bytes[..], &mut part);
            }
            Ok(Some(cut(&flat, &counts)))
        } else {
            root_proc.gather_varcount_into(&bytes[..]);
            Ok(None)
        }
    }

    fn allgather_bytes(
        &self,
        bytes: Vec<u8>,
        lens: &[u64],
        op: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let counts: Vec<Count> = lens.iter().map(|&c| count(c as usize)).collect();
        let total = counts.iter().map(|&c| c as usize).sum();
        let mut flat = zeroed_bytes(total, self.rank, op, "the values of all ranks add up to")?;
        let d = displs(&counts);
        {
            let mut part = PartitionMut::new(&mut flat[..], &counts[..], &d[..]);
            self.comm.all_gather_varcount_into(&bytes[..], &mut part);
        }
        Ok(cut(&flat, &counts))
    }

    fn scatter_bytes(
        &self,
        root: usize,
        parts: Option<Result<Vec<Vec<u8>>, u64>>,
        op: &'static str,
    ) -> Result<Result<Vec<u8>, u64>, Error> {
        self.scatter_raw(root, parts, op)
    }

    /// In pieces of `max_count` elements.
    fn bcast_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        buf: &mut [T],
        _op: &'static str,
    ) -> Result<(), Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        for piece in buf.chunks_mut(max_count()) {
            root_proc.broadcast_into(piece);
        }
        Ok(())
    }

    fn scatter_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<&[T]>,
        recv: &mut [T],
        _op: &'static str,
    ) -> Result<(), Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        match send {
            Some(send) => root_proc.scatter_into_root(send, recv),
            None => root_proc.scatter_into(recv),
        }
        Ok(())
    }

    fn gather_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        _op: &'static str,
    ) -> Result<(), Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        match recv {
            Some(recv) => root_proc.gather_into_root(send, recv),
            None => root_proc.gather_into(send),
        }
        Ok(())
    }

    fn all_gather_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        _op: &'static str,
    ) -> Result<(), Error> {
        self.comm.all_gather_into(send, recv);
        Ok(())
    }

    /// In pieces of `max_count` elements.
    fn reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        reduction: O,
        _op: &'static str,
    ) -> Result<(), Error> {
        let root_proc = self.comm.process_at_rank(root as i32);
        let p = max_count();
        let reduction = reduction.mpi_op();
        match recv {
            Some(recv) => {
                for (s, r) in send.chunks(p).zip(recv.chunks_mut(p)) {
                    root_proc.reduce_into_root(s, r, &reduction);
                }
            }
            None => {
                for s in send.chunks(p) {
                    root_proc.reduce_into(s, &reduction);
                }
            }
        }
        Ok(())
    }

    /// In pieces of `max_count` elements.
    fn all_reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        _op: &'static str,
    ) -> Result<(), Error> {
        let p = max_count();
        let reduction = reduction.mpi_op();
        for (s, r) in send.chunks(p).zip(recv.chunks_mut(p)) {
            self.comm.all_reduce_into(s, r, &reduction);
        }
        Ok(())
    }

    fn barrier(&self) -> Result<(), Error> {
        self.comm.barrier();
        Ok(())
    }

    fn split(&self, color: Option<u32>, key: i32) -> Result<Option<Rsmpi>, Error> {
        let color = match color {
            Some(c) => Color::with_value(c as i32),
            None => Color::undefined(),
        };
        Ok(self
            .comm
            .split_by_color_with_key(color, key)
            .map(Rsmpi::new))
    }

    fn abort(&self, code: i32) -> ! {
        self.comm.abort(code)
    }

    // ----- issue 11, object path at buffer speed: out-of-band pieces --------

    /// 64 KiB: below it, copying into the message costs less than a
    /// message of its own (on a little-endian machine, where the pieces'
    /// memory is their bytes on the wire).
    fn out_of_band(&self) -> Option<usize> {
        cfg!(target_endian = "little").then_some(64 << 10)
    }

    /// Receives the message's MPI messages early to count them (see
    /// `rsmpi/early.rs`).
    fn whole_bytes(&self, source: usize, tag: Tag, first: usize) -> usize {
        self.count_whole(source, tag, first)
    }
}
