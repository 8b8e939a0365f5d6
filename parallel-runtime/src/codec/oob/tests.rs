//! Values with out-of-band pieces: the same value back, the same plain
//! size, the pieces lent in order, and errors for what does not fit.

use std::mem::MaybeUninit;

use serde::{Deserialize, Serialize};

use super::super::{decode, encode};
use super::{decode_pieces, each_piece, encode_inline, Table};

const MIN: usize = 64 << 10;

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Inner {
    big: Vec<f32>,
    small: Vec<u8>,
    ints: Vec<i32>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Outer {
    name: String,
    a: Vec<f64>,
    empty: Vec<f64>,
    inner: Vec<Inner>,
    bytes: Vec<u8>,
    below: Vec<u8>,
    at: Vec<u8>,
}

fn outer() -> Outer {
    Outer {
        name: "frame".into(),
        a: (0..20_000).map(|i| f64::from(i) * 0.5).collect(),
        empty: vec![],
        inner: vec![
            Inner {
                big: (0..30_000).map(|i| i as f32).collect(),
                small: vec![1, 2, 3],
                ints: (0..40_000).map(|i| i - 20_000).collect(),
            },
            Inner {
                big: vec![0.25; 3],
                small: vec![7; MIN + 1],
                ints: vec![],
            },
        ],
        bytes: (0..200_000).map(|i| i as u8).collect(),
        below: vec![9; MIN - 1],
        at: vec![4; MIN],
    }
}

/// Sends `v` as the MPI path does (inline bytes, then each piece), and
/// decodes it as a receive into the vectors does.
fn round_trip<T: Serialize + serde::de::DeserializeOwned>(v: &T) -> (T, Vec<usize>, usize) {
    let (inline, lens) = encode_inline(v, MIN).unwrap();
    let mut sent = Vec::new();
    each_piece(v, MIN, &lens, &mut |p| sent.push(p.to_vec())).unwrap();
    assert_eq!(sent.iter().map(Vec::len).collect::<Vec<_>>(), lens);
    if lens.is_empty() {
        assert_eq!(inline, encode(v).unwrap(), "no pieces: the plain bytes");
        return (decode(&inline).unwrap(), lens, inline.len());
    }
    let table = Table::of(&inline).unwrap().unwrap();
    assert_eq!(table.lens, lens);
    let mut next = sent.into_iter();
    let mut fill = |dst: &mut [MaybeUninit<u8>]| {
        let p = next.next().unwrap();
        for (d, &s) in dst.iter_mut().zip(&p) {
            d.write(s);
        }
        true
    };
    let (got, taken) = decode_pieces::<T>(&inline, &table, &mut fill);
    assert_eq!(taken, lens.len());
    (got.unwrap(), lens, table.plain_len(inline.len()))
}

#[test]
fn nested_slices_go_out_of_band_above_the_minimum_only() {
    let v = outer();
    let (back, lens, plain) = round_trip(&v);
    assert_eq!(back, v);
    // a (160000), big (120000), small (MIN + 1), bytes, at (MIN): not the
    // i32s (varints), not `below`, not the empty one.
    assert_eq!(lens, [160_000, 120_000, MIN + 1, 200_000, MIN]);
    assert_eq!(plain, encode(&v).unwrap().len(), "the same plain size");
}

#[test]
fn small_values_are_the_plain_bytes() {
    let v = (1u8, vec![0.5f64; 10], String::from("x"));
    let (back, lens, _) = round_trip(&v);
    assert_eq!(back, v);
    assert!(lens.is_empty());
    let big = vec![1.5f64; MIN / 8];
    let (back, lens, plain) = round_trip(&big);
    assert_eq!((back, lens), (big.clone(), vec![MIN]));
    assert_eq!(plain, encode(&big).unwrap().len());
}

#[test]
fn joined_bytes_decode_with_plain_decode() {
    let v = outer();
    let (mut bytes, lens) = encode_inline(&v, MIN).unwrap();
    each_piece(&v, MIN, &lens, &mut |p| bytes.extend_from_slice(p)).unwrap();
    assert_eq!(decode::<Outer>(&bytes).unwrap(), v);
    assert!(decode::<Outer>(&bytes[..bytes.len() - 1]).is_err());
}

#[test]
fn a_wrong_type_or_missing_piece_is_an_error() {
    let v = outer();
    let (inline, lens) = encode_inline(&v, MIN).unwrap();
    let table = Table::of(&inline).unwrap().unwrap();
    let mut fill = |_: &mut [MaybeUninit<u8>]| -> bool { unreachable!("refused before any piece") };
    let (got, taken) = decode_pieces::<Vec<f64>>(&inline, &table, &mut fill);
    let e = got.unwrap_err();
    assert_eq!(e.wrong_type().map(|(_, r)| r), Some("Vec<f64>"));
    assert_eq!(taken, 0, "refused before any piece");
    let mut fill = |_: &mut [MaybeUninit<u8>]| false;
    let (got, taken) = decode_pieces::<Outer>(&inline, &table, &mut fill);
    assert!(got.is_err());
    assert_eq!(taken, 1);
    assert_eq!(lens.len(), 5);
}

/// A value that serializes another vector the second time.
struct Fickle(std::cell::Cell<usize>);

impl Serialize for Fickle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0.get();
        self.0.set(n + 8);
        vec![0u8; MIN + n].serialize(s)
    }
}

#[test]
fn a_value_that_changes_between_the_passes_still_sends_what_was_announced() {
    let v = Fickle(std::cell::Cell::new(0));
    let (_, lens) = encode_inline(&v, MIN).unwrap();
    let mut sent = Vec::new();
    let e = each_piece(&v, MIN, &lens, &mut |p| sent.push(p.len())).unwrap_err();
    assert_eq!(sent, lens);
    assert!(e.to_string().contains("other out-of-band pieces"), "{e}");
}
