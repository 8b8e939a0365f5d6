//! One point-to-point message on the wire, over any transport: sent in
//! pieces, matched, checked against the receive buffer, received in
//! pieces.
//!
//! # Pieces
//!
//! One MPI call carries at most `i32::MAX` elements (its `int` count). A
//! longer message is sent as several, as mpi4py's `pkl5` does: pieces of
//! exactly [`max_count`] elements mean "more follows", and the last piece
//! is shorter (possibly empty). The object path sends its encoded bytes the
//! same way, in pieces of the transport's
//! [`object_piece`](Transport::object_piece). A receive claims the first
//! piece, then takes the others from the same sender and tag at once (MPI
//! keeps them in order), so no other receive can come between.

use super::error::Error;
use super::limits::{max_count, pieces, pieces_of};
use super::message::{Source, Status, Tag, TagMatch};
use super::op::{zeroed, AnyBitPattern, Scalar};
use super::transport::{Fit, Matched, Transport};

/// Where a received message goes.
pub(crate) enum Dst<'a, T> {
    /// A buffer of fixed length: a longer message is an error.
    Slice(&'a mut [T]),
    /// A vector that grows to the message (the object path's bytes).
    Grow(&'a mut Vec<T>),
}

/// How many `T` the matched message holds, or why it holds no whole
/// number of them.
fn elements<T: Scalar>(rank: usize, m: &impl Matched, op: &'static str) -> Result<usize, Error> {
    let mismatch = |detail: String| Error::Mismatch {
        rank,
        op,
        from: m.source(),
        detail,
    };
    match m.fit::<T>(op) {
        Fit::Whole(n) => Ok(n),
        Fit::NotWhole(bytes) => Err(mismatch(format!(
            "{bytes} bytes sent, not a whole number of `{}` elements ({} bytes each)",
            std::any::type_name::<T>(),
            std::mem::size_of::<T>()
        ))),
        Fit::Other(detail) => Err(mismatch(detail)),
    }
}

/// Receives the message that `first` begins (all its pieces) into `dst`.
/// A message that holds no whole number of `T`, or more than a slice has
/// room for, is consumed and an [`Error::Mismatch`].
pub(crate) fn fill<B: Transport, T: Scalar + AnyBitPattern>(
    t: &B,
    first: B::Matched,
    mut dst: Dst<'_, T>,
    op: &'static str,
) -> Result<Status, Error> {
    // Objects (the growing vector) go in the transport's pieces.
    let p = match &dst {
        Dst::Grow(_) => t.object_piece(),
        Dst::Slice(_) => max_count(),
    };
    let (src, tag) = (first.source(), first.tag());
    let room = match &dst {
        Dst::Slice(b) => Some(b.len()),
        Dst::Grow(_) => None,
    };
    let mut total = 0usize;
    let mut m = first;
    loop {
        let n = match elements::<T>(t.rank(), &m, op) {
            Ok(n) => n,
            Err(e) => {
                m.discard();
                return Err(e);
            }
        };
        let more = n == p;
        if room.is_none_or(|r| total + n <= r) {
            match &mut dst {
                Dst::Slice(b) => m.receive_into(&mut b[total..total + n]),
                Dst::Grow(v) => {
                    let at = v.len();
                    v.resize(at + n, zeroed());
                    m.receive_into(&mut v[at..]);
                }
            }
        } else {
            m.discard();
        }
        total += n;
        if !more {
            break;
        }
        m = match t.probe(Source::Rank(src), TagMatch::Tag(tag), true)? {
            Some(m) => m,
            None => unreachable!("a blocking probe returns a message or an error"),
        };
    }
    if let Some(r) = room.filter(|&r| total > r) {
        return Err(Error::Mismatch {
            rank: t.rank(),
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

/// Sends the bytes of an encoded object as one message, in pieces of the
/// transport's [`object_piece`](Transport::object_piece) (one piece, moved
/// without a copy where the transport can, when shorter).
pub(crate) fn send_object(t: &impl Transport, bytes: Vec<u8>, dest: usize, tag: Tag) {
    let p = t.object_piece();
    if bytes.len() < p {
        t.send_owned(bytes, dest, tag);
    } else {
        for piece in pieces_of(&bytes, p) {
            t.send(piece, dest, tag);
        }
    }
}

/// Sends `buf` as one message (in pieces when long).
pub(crate) fn send_slice<T: Scalar>(t: &impl Transport, buf: &[T], dest: usize, tag: Tag) {
    for piece in pieces(buf) {
        t.send(piece, dest, tag);
    }
}
