//! Out-of-band pieces received into memory not initialised before: a
//! value whole when every piece fits, an error (never the memory's old
//! bytes) when a piece is shorter or longer than the table announced,
//! whether the message is decoded at once or claimed for later; either
//! way the next message arrives whole.

use super::*;
use crate::codec::oob::encode_inline;
use crate::mpi::local;

const MIN: usize = 64 << 10;
const TAG: Tag = 3;

/// The value sent: a number, then two arrays that go out of band.
type Value = (u32, Vec<u8>, Vec<f64>);

/// Rank 0 sends `value`'s inline bytes with the table the codec writes,
/// then pieces of the lengths in `sent` (not necessarily those announced).
fn send_with_pieces(w: &crate::mpi::Comm, value: &Value, sent: &[usize]) {
    let (inline, lens) = encode_inline(value, MIN).expect("encode");
    assert_eq!(lens, [value.1.len(), value.2.len() * 8], "two pieces");
    send_object(&w.t, inline, 1, TAG);
    for (k, &n) in sent.iter().enumerate() {
        send_slice(&w.t, &vec![k as u8 + 1; n], 1, TAG);
    }
    send_object(&w.t, crate::codec::encode("next").expect("encode"), 1, TAG);
}

/// The message after: nothing of the one before may be left.
fn next(w: &crate::mpi::Comm) -> String {
    let m = w.t.probe(Source::Rank(0), TagMatch::Tag(TAG), true);
    let m = m.expect("probe").expect("a message");
    let mut bytes = Vec::new();
    fill(&w.t, m, Dst::Grow(&mut bytes), "recv").expect("the next message");
    crate::codec::decode(&bytes).expect("the next message is a string")
}

/// Rank 1's view: the decoded value, or the error, decoding at once
/// (`decode_object`) or after a claim (`fill_object`, then `decode`).
fn receive(w: &crate::mpi::Comm, claim: bool) -> Result<Value, Error> {
    let first = w.t.probe(Source::Rank(0), TagMatch::Tag(TAG), true)?;
    let first = first.expect("a blocking probe returns a message");
    let mut bytes = Vec::new();
    if claim {
        fill_object(&w.t, first, &mut bytes, "recv")?;
        return crate::codec::decode(&bytes).map_err(|e| Error::decoding(1, "recv", 0, e));
    }
    let st = fill(&w.t, first, Dst::Grow(&mut bytes), "recv")?;
    decode_object(&w.t, &bytes, st, "recv").map(|(v, _)| v)
}

/// Runs `sent` (the piece lengths rank 0 sends) on 2 ranks, both ways of
/// receiving; rank 1's results.
fn exchange(sent: &'static [usize]) -> Vec<Result<Value, Error>> {
    let value = (7u32, vec![1u8; MIN + 10], vec![2.0f64; MIN / 8]);
    let mut out = Vec::new();
    for claim in [false, true] {
        let got = local::run(2, |w| {
            if w.rank() == 0 {
                send_with_pieces(&w, &value, sent);
                None
            } else {
                let got = receive(&w, claim);
                assert_eq!(next(&w), "next", "claim {claim}: the next message whole");
                Some(got)
            }
        });
        out.extend(got.into_iter().flatten());
    }
    out
}

#[test]
fn pieces_of_the_announced_sizes_make_the_value() {
    // What the sender's pieces hold: 1s then 2s, as bytes.
    for got in exchange(&[MIN + 10, MIN]) {
        let (n, a, b) = got.expect("the value");
        assert_eq!(n, 7);
        assert_eq!(a, vec![1u8; MIN + 10]);
        let two = f64::from_le_bytes([2; 8]);
        assert_eq!(b, vec![two; MIN / 8]);
    }
}

#[test]
fn a_short_piece_is_an_error_naming_both_sizes() {
    for got in exchange(&[MIN + 10, MIN - 8]) {
        let e = got.expect_err("a short piece");
        let text = e.to_string();
        assert!(
            text.contains(&format!(
                "{} bytes where the message announced {MIN}",
                MIN - 8
            )),
            "{text}"
        );
    }
}

#[test]
fn a_long_piece_is_an_error_and_consumed() {
    for got in exchange(&[MIN + 20, MIN]) {
        let e = got.expect_err("a long piece");
        let text = e.to_string();
        assert!(
            text.contains(&format!(
                "{} elements sent, room for {}",
                MIN + 20,
                MIN + 10
            )),
            "{text}"
        );
    }
}
