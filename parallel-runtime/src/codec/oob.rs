//! Out-of-band pieces: the object path's large arrays without a copy, as
//! pickle protocol 5 sends NumPy buffers in mpi4py.
//!
//! A value encoded *with pieces* ([`encode_inline`]) keeps every sequence of
//! raw numbers (`u8`, `i8`, `f32`, `f64`: those whose postcard bytes are
//! their little-endian bytes) of at least `min` bytes out of its bytes:
//! only the sequence's length stays inline, and the sequence's own memory
//! is a *piece* that the sender hands to the transport as it is
//! ([`each_piece`]). The inline bytes start with a table:
//!
//! | bytes | what |
//! |---|---|
//! | 1 | `0xB8`, the mark of a value with pieces |
//! | varint | `min` |
//! | varint | the number of pieces |
//! | varint each | the byte length of each piece, in order |
//! | … | the value as [`encode`](super::encode) writes it, less the pieces' bytes |
//!
//! The receiver reads the table, then decodes; where the deserializer meets
//! a `Vec` of raw numbers of at least `min` bytes, it allocates the vector
//! and has the next piece written straight into its memory
//! ([`decode_pieces`]). A value with no such sequence is encoded exactly as
//! [`encode`](super::encode) does (no table), so small messages do not
//! change. The bytes of the pieces are those the inline encoding would
//! have held, so the value's plain size ([`Table::plain_len`]) is the same
//! whichever way it travels.
//!
//! The pieces are found by serializing twice, once for the inline bytes,
//! once to hand each piece over while serde lends it: a piece is never
//! kept beyond the call that lent it (a `Serialize` impl may serialize a
//! temporary vector).

use std::mem::MaybeUninit;

use postcard::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::bulk::{put_varint, take_varint, OobIn, OobOut};
use super::{decode_body, encode_with, ser, CodecError, Kind};

/// The first byte of a value encoded with pieces.
pub(crate) const MARK_PIECES: u8 = 0xB8;

/// The table at the front of a value encoded with pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    min: usize,
    /// The byte length of each piece, in order.
    pub(crate) lens: Vec<usize>,
    /// The bytes of the table itself.
    head: usize,
}

impl Table {
    /// Reads the table of `inline`: `None` when `inline` is a value without
    /// pieces.
    pub(crate) fn of(inline: &[u8]) -> Option<Result<Table, CodecError>> {
        let (&mark, mut rest) = inline.split_first()?;
        if mark != MARK_PIECES {
            return None;
        }
        let len = inline.len();
        let mut read = || -> Result<Table, Error> {
            let min = take_varint(&mut rest, usize::BITS)? as usize;
            let n = take_varint(&mut rest, usize::BITS)? as usize;
            // At least one byte a length: no allocation beyond the input.
            let mut lens = Vec::with_capacity(n.min(rest.len()));
            for _ in 0..n {
                lens.push(take_varint(&mut rest, usize::BITS)? as usize);
            }
            // The value itself follows, with its own mark.
            if rest.first() != Some(&super::MARK) {
                return Err(Error::DeserializeBadEncoding);
            }
            Ok(Table {
                min,
                lens,
                head: len - rest.len(),
            })
        };
        Some(read().map_err(|_| CodecError(Kind::NotAnObject { len })))
    }

    /// The bytes of all pieces.
    pub(crate) fn piece_bytes(&self) -> usize {
        self.lens.iter().sum()
    }

    /// The size of the value as [`encode`](super::encode) writes it: the
    /// inline bytes (of `inline_len`, table included) less the table, plus
    /// the pieces.
    pub(crate) fn plain_len(&self, inline_len: usize) -> usize {
        inline_len - self.head + self.piece_bytes()
    }
}

/// The inline bytes of `value` with every sequence of raw numbers of at
/// least `min` bytes out of band, and the byte lengths of those pieces
/// (none: the bytes are [`encode`](super::encode)'s).
pub(crate) fn encode_inline<T: Serialize + ?Sized>(
    value: &T,
    min: usize,
) -> Result<(Vec<u8>, Vec<usize>), CodecError> {
    let mut lens = Vec::new();
    let mut note = |p: &[u8]| lens.push(p.len());
    let oob = OobOut {
        min,
        piece: &mut note,
    };
    let body = encode_with(value, Vec::new(), Some(oob))?;
    if lens.is_empty() {
        return Ok((body, lens));
    }
    let mut out = Vec::with_capacity(body.len() + 2 + 3 * lens.len());
    out.push(MARK_PIECES);
    put_varint(&mut out, min as u64);
    put_varint(&mut out, lens.len() as u64);
    for &l in &lens {
        put_varint(&mut out, l as u64);
    }
    out.extend_from_slice(&body);
    Ok((out, lens))
}

/// Hands each piece of `value` (as [`encode_inline`] found them, of the
/// byte lengths `lens`) to `send`, in order, while serde lends it. A value
/// that serializes other pieces the second time (a `Serialize` impl that is
/// not a function of the value) still hands over pieces of the lengths
/// announced, zeroed, so that the receiver is not left waiting, and is an
/// error here.
pub(crate) fn each_piece<T: Serialize + ?Sized>(
    value: &T,
    min: usize,
    lens: &[usize],
    send: &mut dyn FnMut(&[u8]),
) -> Result<(), CodecError> {
    let mut k = 0;
    let mut same = true;
    let mut hand = |p: &[u8]| {
        match lens.get(k) {
            Some(&len) if len == p.len() => send(p),
            Some(&len) => {
                same = false;
                send(&vec![0; len]);
            }
            None => same = false,
        }
        k += 1;
    };
    let oob = OobOut {
        min,
        piece: &mut hand,
    };
    let walked = ser::to_extend(value, Vec::new(), Some(oob));
    for &len in lens.iter().skip(k) {
        same = false;
        send(&vec![0; len]);
    }
    walked?;
    if same {
        Ok(())
    } else {
        Err(CodecError(Kind::Unstable))
    }
}

/// Decodes a value with pieces from its inline bytes (table included) and
/// `table` (read from them), `fill` writing each piece in turn into the
/// vector that holds it, whose memory is not initialised before (`true`
/// only when it wrote every byte; `false`: it could not, and the decoding
/// fails).
/// Also returns how many pieces were taken, so that the caller can drop
/// the others when the value was refused.
pub(crate) fn decode_pieces<T: DeserializeOwned>(
    inline: &[u8],
    table: &Table,
    fill: &mut dyn FnMut(&mut [MaybeUninit<u8>]) -> bool,
) -> (Result<T, CodecError>, usize) {
    let mut oob = OobIn {
        min: table.min,
        lens: &table.lens,
        taken: 0,
        fill,
    };
    let got = decode_body(&inline[table.head..], Some(&mut oob));
    let taken = oob.taken;
    let got = got.and_then(|v| match table.lens.len() - taken {
        0 => Ok(v),
        left => Err(CodecError(Kind::PiecesLeft { left })),
    });
    (got, taken)
}

/// [`decode_pieces`] of bytes that hold the inline bytes, then every piece
/// (what a receive that takes the whole message at once gets).
pub(super) fn decode_joined<T: DeserializeOwned>(
    bytes: &[u8],
    table: &Table,
) -> Result<T, CodecError> {
    let not_ours = || CodecError(Kind::NotAnObject { len: bytes.len() });
    let at = bytes
        .len()
        .checked_sub(table.piece_bytes())
        .filter(|&at| at >= table.head)
        .ok_or_else(not_ours)?;
    let (inline, mut pieces) = bytes.split_at(at);
    let mut fill = |dst: &mut [MaybeUninit<u8>]| match pieces.split_at_checked(dst.len()) {
        Some((head, rest)) => {
            for (d, &s) in dst.iter_mut().zip(head) {
                d.write(s);
            }
            pieces = rest;
            true
        }
        None => false,
    };
    decode_pieces(inline, table, &mut fill).0
}

#[cfg(test)]
mod tests;
