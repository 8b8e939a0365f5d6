//! One point-to-point message on the wire, on both backends: matched,
//! checked against the receive buffer, received in pieces.
//!
//! # Pieces
//!
//! One MPI call carries at most `i32::MAX` elements (its `int` count). A
//! longer message is sent as several, as mpi4py's `pkl5` does: pieces of
//! exactly [`max_count`] elements mean "more follows", and the last piece
//! is shorter (possibly empty). The object path sends its encoded bytes the
//! same way. A receive claims the first piece, then takes the others from
//! the same sender and tag at once (MPI keeps them in order), so no other
//! receive can come between.
//!
//! The limit is `i32::MAX` elements; the hidden environment variable
//! `PARALLEL_MPI_MAX_COUNT` lowers it (read once per process), so that a
//! test can exercise pieces and the limits of collectives with small
//! messages.

use std::sync::OnceLock;

use super::comm::{Comm, Inner, Source, Status, TagMatch};
use super::error::Error;
use super::local::Envelope;
use super::op::{zeroed, AnyBitPattern, Scalar};
use super::Tag;

/// The most elements one MPI call carries: `i32::MAX`, or
/// `PARALLEL_MPI_MAX_COUNT` when set (for tests).
pub(crate) fn max_count() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        let limit = i32::MAX as usize;
        std::env::var("PARALLEL_MPI_MAX_COUNT")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| (1..=limit).contains(&n))
            .unwrap_or(limit)
    })
}

/// The pieces `buf` is sent in: one when shorter than [`max_count`], else
/// full pieces then a shorter last one (possibly empty).
pub(crate) fn pieces<T>(buf: &[T]) -> impl Iterator<Item = &[T]> {
    pieces_of(buf, max_count())
}

/// `buf` in pieces of `p` elements: one when shorter than `p`, else full
/// pieces then a shorter last one (possibly empty), so that a receiver
/// knows a full piece means "more follows".
pub(crate) fn pieces_of<T>(buf: &[T], p: usize) -> impl Iterator<Item = &[T]> {
    let full = buf.len() / p;
    (0..=full).map(move |k| &buf[k * p..((k + 1) * p).min(buf.len())])
}

/// Bytes per piece of an object-path message on MPI: 1 MiB (or
/// [`max_count`], when lower). A receiver can then take any message of
/// the object path with one `MPI_Recv` into a buffer of this size, without
/// a matched probe first (which costs about half a small message's
/// latency again): a message shorter than a piece is whole, a full piece
/// says that more follow.
#[cfg(feature = "mpi")]
pub(crate) fn object_piece() -> usize {
    max_count().min(1 << 20)
}

/// A message matched by a probe, not yet received: no other receive can
/// take it any more.
pub(crate) enum Matched {
    Local(Envelope),
    #[cfg(feature = "mpi")]
    Mpi(
        rsmpi::point_to_point::Message,
        rsmpi::point_to_point::Status,
    ),
}

impl Matched {
    pub(crate) fn source(&self) -> usize {
        match self {
            Matched::Local(e) => e.src,
            #[cfg(feature = "mpi")]
            Matched::Mpi(_, st) => st.source_rank() as usize,
        }
    }

    pub(crate) fn tag(&self) -> Tag {
        match self {
            Matched::Local(e) => e.tag,
            #[cfg(feature = "mpi")]
            Matched::Mpi(_, st) => st.tag(),
        }
    }
}

/// Where a received message goes.
pub(crate) enum Dst<'a, T> {
    /// A buffer of fixed length: a longer message is an error.
    Slice(&'a mut [T]),
    /// A vector that grows to the message (the object path's bytes).
    Grow(&'a mut Vec<T>),
}

impl Comm {
    /// The first message that matches, now matched to the caller; with
    /// `wait` false, `None` when none has arrived.
    pub(crate) fn probe_matched(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
    ) -> Result<Option<Matched>, Error> {
        match &self.inner {
            Inner::Local(c) => Ok(c
                .take(source, tag, super::local::Ctx::User, wait)?
                .map(Matched::Local)),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => Ok(c.probe(source, tag, wait).map(|(m, s)| Matched::Mpi(m, s))),
        }
    }

    /// How many `T` the matched message holds, or why it holds no whole
    /// number of them.
    fn elements<T: Scalar>(&self, m: &Matched, op: &'static str) -> Result<usize, Error> {
        let tname = std::any::type_name::<T>();
        let tsize = std::mem::size_of::<T>();
        let mismatch = |detail: String| Error::Mismatch {
            rank: self.rank(),
            op,
            from: m.source(),
            detail,
        };
        let not_whole = |bytes: usize| {
            mismatch(format!(
                "{bytes} bytes sent, not a whole number of `{tname}` elements ({tsize} bytes each)"
            ))
        };
        match m {
            Matched::Local(env) => match env.elems {
                Some(e) if env.holds::<Vec<T>>() => Ok(e.len),
                Some(e) if (e.len * e.size) % tsize.max(1) != 0 => Err(not_whole(e.len * e.size)),
                Some(e) => Err(mismatch(format!(
                    "{} elements of `{}` sent; this rank receives `{tname}` (the ranks call \
                     `{op}` with different element types)",
                    e.len, e.name
                ))),
                None => Err(mismatch("not a message of the buffer path".into())),
            },
            #[cfg(feature = "mpi")]
            Matched::Mpi(_, st) => {
                use rsmpi::datatype::Equivalence as _;
                let n = st.count(T::equivalent_datatype());
                if n >= 0 {
                    return Ok(n as usize);
                }
                let bytes = st.count(u8::equivalent_datatype());
                Err(if bytes >= 0 {
                    not_whole(bytes as usize)
                } else {
                    mismatch(format!(
                        "more than {} bytes sent, not a whole number of `{tname}` elements \
                         ({tsize} bytes each)",
                        i32::MAX
                    ))
                })
            }
        }
    }

    /// Receives a matched message of exactly `dst.len()` elements.
    fn receive_into<T: Scalar + AnyBitPattern>(&self, m: Matched, dst: &mut [T]) {
        match m {
            Matched::Local(env) => match env.into_vec::<T>() {
                Ok(v) => dst.copy_from_slice(&v),
                Err(_) => unreachable!("`elements` checked the element type"),
            },
            #[cfg(feature = "mpi")]
            Matched::Mpi(msg, _) => {
                msg.matched_receive_into(dst);
            }
        }
    }

    /// Receives a matched message and drops it (a receive that failed
    /// still consumes its message, as MPI's would).
    fn discard(&self, m: Matched) {
        match m {
            Matched::Local(_) => {}
            #[cfg(feature = "mpi")]
            Matched::Mpi(msg, st) => {
                use rsmpi::datatype::Equivalence as _;
                let bytes = st.count(u8::equivalent_datatype());
                if bytes >= 0 {
                    let mut sink = vec![0u8; bytes as usize];
                    msg.matched_receive_into(&mut sink[..]);
                } else {
                    // Over 2 GiB in one piece: as 8-byte words.
                    let words = st.count(u64::equivalent_datatype()).max(0);
                    let mut sink = vec![0u64; words as usize];
                    msg.matched_receive_into(&mut sink[..]);
                }
            }
        }
    }

    /// Receives the message that `first` begins (all its pieces) into
    /// `dst`. A message that holds no whole number of `T`, or more than a
    /// slice has room for, is consumed and an [`Error::Mismatch`].
    pub(crate) fn fill<T: Scalar + AnyBitPattern>(
        &self,
        first: Matched,
        mut dst: Dst<'_, T>,
        op: &'static str,
    ) -> Result<Status, Error> {
        // Objects (the growing vector) go in smaller pieces on MPI; the
        // local world posts each object whole.
        let p = match (&dst, &first) {
            #[cfg(feature = "mpi")]
            (Dst::Grow(_), Matched::Mpi(..)) => object_piece(),
            _ => max_count(),
        };
        let (src, tag) = (first.source(), first.tag());
        let room = match &dst {
            Dst::Slice(b) => Some(b.len()),
            Dst::Grow(_) => None,
        };
        let mut total = 0usize;
        let mut m = first;
        loop {
            let n = match self.elements::<T>(&m, op) {
                Ok(n) => n,
                Err(e) => {
                    self.discard(m);
                    return Err(e);
                }
            };
            let more = n == p;
            if room.is_none_or(|r| total + n <= r) {
                match &mut dst {
                    Dst::Slice(b) => self.receive_into(m, &mut b[total..total + n]),
                    Dst::Grow(v) => {
                        let at = v.len();
                        v.resize(at + n, zeroed());
                        self.receive_into(m, &mut v[at..]);
                    }
                }
            } else {
                self.discard(m);
            }
            total += n;
            if !more {
                break;
            }
            m = match self.probe_matched(Source::Rank(src), TagMatch::Tag(tag), true)? {
                Some(m) => m,
                None => unreachable!("a blocking probe returns a message or an error"),
            };
        }
        if let Some(r) = room.filter(|&r| total > r) {
            return Err(Error::Mismatch {
                rank: self.rank(),
                op,
                from: src,
                detail: format!("{total} elements sent, room for {r}"),
            });
        }
        Ok(Status {
            source: src,
            tag,
            count: total,
        })
    }

    /// Sends `v` as one message (in pieces when long).
    pub(crate) fn send_vec<T: Scalar>(&self, v: Vec<T>, dest: usize, tag: Tag) {
        match &self.inner {
            Inner::Local(c) if v.len() < max_count() => c.post_vec(dest, tag, v),
            _ => self.send_slice(&v, dest, tag),
        }
    }

    /// Sends the bytes of an encoded object: whole in the local world, in
    /// pieces of [`object_piece`] bytes on MPI.
    pub(crate) fn send_object(&self, bytes: Vec<u8>, dest: usize, tag: Tag) {
        match &self.inner {
            Inner::Local(_) => self.send_vec(bytes, dest, tag),
            #[cfg(feature = "mpi")]
            Inner::Mpi(c) => {
                for piece in pieces_of(&bytes, object_piece()) {
                    c.send_buf(piece, dest, tag);
                }
            }
        }
    }

    /// Sends `buf` as one message (in pieces when long).
    pub(crate) fn send_slice<T: Scalar>(&self, buf: &[T], dest: usize, tag: Tag) {
        for piece in pieces(buf) {
            match &self.inner {
                Inner::Local(c) => c.post_vec(dest, tag, piece.to_vec()),
                #[cfg(feature = "mpi")]
                Inner::Mpi(c) => c.send_buf(piece, dest, tag),
            }
        }
    }
}
