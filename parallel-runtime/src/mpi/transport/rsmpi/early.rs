//! Messages received before their receive: what a probe of the object path
//! takes on real MPI to count a whole message.
//!
//! `MPI_Probe` tells the size of one MPI message, but a message of the
//! object path may be several: its inline bytes in pieces of 1 MiB, then
//! its out-of-band pieces (see `wire.rs`), and only its bytes say so. To
//! count the whole message as the local world does, [`Rsmpi::whole_bytes`]
//! receives its MPI messages here, each as it came, and every later
//! receive, matched probe and probe on the communicator takes from here
//! first: these messages came before any that MPI still holds from the same
//! rank with the same tag, so MPI's order is kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rsmpi::datatype::Equivalence as _;
use rsmpi::traits::{Communicator, Source as _};

use super::Rsmpi;
use crate::codec::oob::Table;
use crate::mpi::limits::{max_count, object_piece};
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::Scalar;
use crate::mpi::transport::local::lock;
use crate::mpi::transport::nonblocking::Peeked;
use crate::mpi::transport::Fit;

/// One MPI message, received.
pub(crate) struct Early {
    pub(super) source: usize,
    pub(super) tag: Tag,
    pub(super) bytes: Vec<u8>,
}

impl Early {
    fn fits(&self, source: Source, tag: TagMatch) -> bool {
        source.fits(self.source) && tag.fits(self.tag)
    }

    /// How it fits a receive of `T`.
    pub(super) fn fit<T: Scalar>(&self) -> Fit {
        let size = std::mem::size_of::<T>();
        match self.bytes.len() % size {
            0 => Fit::Whole(self.bytes.len() / size),
            _ => Fit::NotWhole(self.bytes.len()),
        }
    }
}

/// A communicator's messages received early, in the order they came
/// (shared by its handles).
#[derive(Default, Clone)]
pub(crate) struct EarlyQueue(Arc<Mutex<VecDeque<Early>>>);

impl EarlyQueue {
    /// The first message that matches, taken.
    pub(super) fn take(&self, source: Source, tag: TagMatch) -> Option<Early> {
        let mut q = lock(&self.0);
        let i = q.iter().position(|e| e.fits(source, tag))?;
        q.remove(i)
    }

    /// What a probe for `T` sees of the first message that matches.
    pub(super) fn peek<T: Scalar>(&self, source: Source, tag: TagMatch) -> Option<Peeked> {
        let q = lock(&self.0);
        let e = q.iter().find(|e| e.fits(source, tag))?;
        Some(Peeked {
            source: e.source,
            tag: e.tag,
            bytes: e.bytes.len(),
            fit: e.fit::<T>(),
        })
    }
}

impl Rsmpi {
    /// Applies `f` to the `k`-th message from `source` with `tag`, counting
    /// those received early, receiving more from MPI (in order) as needed.
    fn nth<R>(&self, source: usize, tag: Tag, k: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let (src, tg) = (Source::Rank(source), TagMatch::Tag(tag));
        loop {
            {
                let q = lock(&self.early.0);
                if let Some(e) = q.iter().filter(|e| e.fits(src, tg)).nth(k) {
                    return f(&e.bytes);
                }
            }
            let (msg, st) = self
                .comm
                .process_at_rank(source as i32)
                .matched_probe_with_tag(tag);
            let mut bytes = vec![0u8; st.count(u8::equivalent_datatype()).max(0) as usize];
            msg.matched_receive_into(&mut bytes[..]);
            lock(&self.early.0).push_back(Early { source, tag, bytes });
        }
    }

    /// The bytes of the whole object-path message from `source` with `tag`
    /// whose first MPI message holds `first` bytes: its inline bytes in all
    /// their pieces and its out-of-band pieces, counted as the value's plain
    /// size (what the local world's message holds). A message that is not
    /// the object path's counts as its first MPI message.
    pub(super) fn count_whole(&self, source: usize, tag: Tag, first: usize) -> usize {
        let p = object_piece();
        // An object message's first MPI message is at most a piece.
        if first > p {
            return first;
        }
        if !self.nth(source, tag, 0, crate::codec::begins_value) {
            return first;
        }
        // The inline bytes: full pieces say that more follow.
        let mut inline = Vec::new();
        let mut k = 0;
        loop {
            let n = self.nth(source, tag, k, |b| {
                inline.extend_from_slice(b);
                b.len()
            });
            k += 1;
            if n != p {
                break;
            }
        }
        let Some(Ok(table)) = Table::of(&inline) else {
            return inline.len();
        };
        // Each out-of-band piece, in pieces of `max_count` bytes.
        for &len in &table.lens {
            let mut got = 0;
            loop {
                let n = self.nth(source, tag, k, <[u8]>::len);
                k += 1;
                got += n;
                if n < max_count() || got > len {
                    break;
                }
            }
        }
        table.plain_len(inline.len())
    }
}
