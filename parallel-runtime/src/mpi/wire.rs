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
//!
//! # Out-of-band pieces
//!
//! On real MPI a blocking [`send_value`] sends the large arrays of a value
//! (sequences of `u8`, `i8`, `f32`, `f64` of 64 KiB or more, anywhere in
//! it) as pickle protocol 5 sends NumPy buffers: the value's inline bytes
//! (`codec/oob.rs`: a table of the pieces' lengths, then the value less
//! their bytes) as one message, then each piece straight from the
//! value's memory as a message of its own (in pieces of [`max_count`]
//! when longer), on the same rank and tag, so MPI keeps them in order.
//! The receiver that takes the message at once ([`decode_object`])
//! decodes the inline bytes and receives each piece straight into the
//! vector that holds it; one that claims it for later ([`fill_object`])
//! appends the pieces to the inline bytes. Either way the status counts
//! the value's plain size, as in the local world, which moves the encoded
//! bytes whole.

use std::mem::MaybeUninit;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{decode, Error};
use super::limits::{max_count, pieces, pieces_of};
use super::message::{Source, Status, Tag, TagMatch};
use super::op::{zeroed, AnyBitPattern, Scalar};
use super::transport::{Fit, Matched, Transport};
use crate::codec::oob::{decode_pieces, each_piece, encode_inline, Table};
use crate::codec::{encode, CodecError};

/// Where a received message goes.
pub(crate) enum Dst<'a, T> {
    /// A buffer of fixed length: a longer message is an error.
    Slice(&'a mut [T]),
    /// A vector that grows to the message (the object path's bytes).
    Grow(&'a mut Vec<T>),
    /// Memory of fixed length not initialised yet (an out-of-band piece);
    /// every byte of it is written only when the message fills it.
    Uninit(&'a mut [MaybeUninit<T>]),
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

/// Whether the full first piece `v` of an object-path message is followed
/// by more: only when it begins an encoded value. A buffer-path message of
/// exactly one piece's length, received as an object, is one message
/// (refused when decoded); the sender's next message is not taken for the
/// rest of it, and stays for the next receive.
fn begins_value_of<T: 'static>(v: &[T]) -> bool {
    v.first()
        .and_then(|x| (x as &dyn std::any::Any).downcast_ref::<u8>())
        .is_none_or(|b| crate::codec::begins_value(std::slice::from_ref(b)))
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
        Dst::Slice(_) | Dst::Uninit(_) => max_count(),
    };
    let (src, tag) = (first.source(), first.tag());
    let room = match &dst {
        Dst::Slice(b) => Some(b.len()),
        Dst::Uninit(b) => Some(b.len()),
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
        let mut more = n == p;
        if room.is_none_or(|r| total + n <= r) {
            match &mut dst {
                Dst::Slice(b) => m.receive_into(&mut b[total..total + n]),
                Dst::Uninit(b) => m.receive_into_uninit(&mut b[total..total + n]),
                Dst::Grow(v) => {
                    let at = v.len();
                    v.resize(at + n, zeroed());
                    m.receive_into(&mut v[at..]);
                    if at == 0 && more {
                        more = begins_value_of(v);
                    }
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

/// Sends `value` as one message of the object path: with out-of-band
/// pieces where the transport has them (see the module's docs), else its
/// encoded bytes. The value is only read during the call.
pub(crate) fn send_value<T: Serialize + ?Sized>(
    t: &impl Transport,
    value: &T,
    dest: usize,
    tag: Tag,
) -> Result<(), CodecError> {
    let Some(min) = t.out_of_band() else {
        send_object(t, encode(value)?, dest, tag);
        return Ok(());
    };
    let (inline, lens) = encode_inline(value, min)?;
    send_object(t, inline, dest, tag);
    if lens.is_empty() {
        return Ok(());
    }
    each_piece(value, min, &lens, &mut |p| send_slice(t, p, dest, tag))
}

/// Receives one out-of-band piece of the message from `src` with `tag`
/// into `dst` (not initialised before), which it must fill exactly: `Ok`
/// only when every byte of it was written.
fn recv_piece<B: Transport>(
    t: &B,
    src: usize,
    tag: Tag,
    dst: &mut [MaybeUninit<u8>],
    op: &'static str,
) -> Result<(), Error> {
    let Some(m) = t.probe(Source::Rank(src), TagMatch::Tag(tag), true)? else {
        unreachable!("a blocking probe returns a message or an error")
    };
    let len = dst.len();
    let st = fill(t, m, Dst::Uninit(dst), op)?;
    if st.count != len {
        return Err(Error::Mismatch {
            rank: t.rank(),
            op,
            from: src,
            detail: format!(
                "an out-of-band piece of {} bytes where the message announced {len}",
                st.count,
            ),
        });
    }
    Ok(())
}

/// Receives and drops the out-of-band pieces of lengths `lens` of the
/// message from `src` with `tag`, so that nothing of it is left for a
/// later receive.
fn drop_pieces<B: Transport>(
    t: &B,
    src: usize,
    tag: Tag,
    lens: &[usize],
    op: &'static str,
) -> Result<(), Error> {
    for &len in lens {
        recv_piece(
            t,
            src,
            tag,
            Vec::<u8>::with_capacity(len).spare_capacity_mut(),
            op,
        )?;
    }
    Ok(())
}

/// Receives the object-path message that `first` begins into `bytes`
/// (empty): its inline bytes, then its out-of-band pieces after them, as
/// `codec::decode` reads them. The status counts the value's plain size.
pub(crate) fn fill_object<B: Transport>(
    t: &B,
    first: B::Matched,
    bytes: &mut Vec<u8>,
    op: &'static str,
) -> Result<Status, Error> {
    let st = fill(t, first, Dst::Grow(bytes), op)?;
    // A table that does not read is refused by the decoding.
    let Some(Ok(table)) = Table::of(bytes) else {
        return Ok(st);
    };
    let inline = bytes.len();
    let total = table.piece_bytes();
    bytes.reserve_exact(total);
    let mut at = 0;
    for (k, &len) in table.lens.iter().enumerate() {
        let spare = &mut bytes.spare_capacity_mut()[at..at + len];
        if let Err(e) = recv_piece(t, st.source, st.tag, spare, op) {
            drop_pieces(t, st.source, st.tag, &table.lens[k + 1..], op)?;
            return Err(e);
        }
        at += len;
    }
    // SAFETY: every piece returned `Ok`, so the `total` bytes after the
    // inline ones were all written, within the capacity reserved above.
    unsafe { bytes.set_len(inline + total) };
    Ok(Status {
        count: table.plain_len(inline),
        ..st
    })
}

/// Decodes the object-path message whose inline bytes are `inline`,
/// received with status `st`: the pieces of a value with out-of-band
/// pieces are received from the same rank and tag straight into the
/// vectors that hold them. The pieces that a refused value did not take
/// (another type, a piece that does not fit) are received and dropped, so
/// that nothing of the message is left for a later receive.
pub(crate) fn decode_object<T: DeserializeOwned, B: Transport>(
    t: &B,
    inline: &[u8],
    st: Status,
    op: &'static str,
) -> Result<(T, Status), Error> {
    let rank = t.rank();
    let table = match Table::of(inline) {
        None => return decode(rank, op, st.source, inline).map(|v| (v, st)),
        Some(Err(e)) => return Err(Error::decoding(rank, op, st.source, e)),
        Some(Ok(table)) => table,
    };
    let mut failed = None;
    let mut fill = |dst: &mut [MaybeUninit<u8>]| match recv_piece(t, st.source, st.tag, dst, op) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    };
    let (got, taken) = decode_pieces(inline, &table, &mut fill);
    drop_pieces(t, st.source, st.tag, &table.lens[taken..], op)?;
    if let Some(e) = failed {
        return Err(e);
    }
    let status = Status {
        count: table.plain_len(inline.len()),
        ..st
    };
    got.map(|v| (v, status))
        .map_err(|e| Error::decoding(rank, op, st.source, e))
}

#[cfg(test)]
mod tests;
