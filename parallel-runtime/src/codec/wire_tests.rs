//! The codec's own serializer and deserializer against postcard: the same
//! bytes, the same errors, and the bulk path of sequences of numbers.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{de, decode, encode, ser};

/// Our bytes are postcard's, and each side decodes the other's.
fn same_as_postcard<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) {
    let ours = ser::to_extend(v, Vec::new(), None).unwrap();
    let theirs = postcard::to_stdvec(v).unwrap();
    assert_eq!(ours, theirs, "bytes of {v:?}");
    let (back, rest) = de::take_from_bytes::<T>(&theirs, None).unwrap();
    assert!(rest.is_empty());
    assert_eq!(&back, v);
    assert_eq!(&postcard::from_bytes::<T>(&ours).unwrap(), v);
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
enum Shape {
    Unit,
    New(i16),
    Pair(u8, String),
    Named { r: f32, tags: Vec<u32> },
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Frame {
    step: u64,
    pos: Vec<f32>,
    raw: Vec<u8>,
    inner: Inner,
    shapes: Vec<Shape>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Inner {
    xs: Vec<f64>,
    ids: Vec<i64>,
    name: Option<String>,
}

fn frame(n: usize) -> Frame {
    Frame {
        step: 7,
        pos: (0..n).map(|i| i as f32 * 0.25).collect(),
        raw: (0..n).map(|i| i as u8).collect(),
        inner: Inner {
            xs: (0..n).map(|i| -(i as f64) / 3.0).collect(),
            ids: (0..n as i64).map(|i| i * -1_000_003).collect(),
            name: Some("é".into()),
        },
        shapes: vec![
            Shape::Unit,
            Shape::New(-300),
            Shape::Pair(9, "x".into()),
            Shape::Named {
                r: 1.5,
                tags: vec![1, 1 << 20],
            },
        ],
    }
}

#[test]
fn every_data_model_type_is_written_as_postcard_writes_it() {
    same_as_postcard(&(true, -5i8, 200u8, -30_000i16, 65_000u16));
    same_as_postcard(&(
        i32::MIN,
        u32::MAX,
        i64::MIN,
        u64::MAX,
        usize::MAX,
        isize::MIN,
    ));
    same_as_postcard(&(i128::MIN, u128::MAX, 1.5f32, -2.25f64, 'ß', '\u{10FFFF}'));
    same_as_postcard(&("text".to_string(), (), Some(3u8), None::<u8>));
    same_as_postcard(&BTreeMap::from([
        ("a".to_string(), 1u32),
        ("b".to_string(), 2),
    ]));
    same_as_postcard(&[1u16, 2, 3]);
    same_as_postcard(&frame(5));
    same_as_postcard(&frame(0));
    same_as_postcard(&vec![Shape::New(1); 3]);
}

macro_rules! bulk_round_trip {
    ($($t:ty),*) => {$(
        for n in [0usize, 1, 7, 1000, 4099] {
            let v: Vec<$t> = (0..n).map(|i| (i % 100) as $t).collect();
            same_as_postcard(&v);
            // The slice form of the same sequence, and a VecDeque on
            // either side (element by element, the same bytes).
            let b = encode(&v[..]).unwrap();
            assert_eq!(decode::<Vec<$t>>(&b).unwrap(), v);
            assert_eq!(decode::<VecDeque<$t>>(&b).unwrap(), v);
            let d: VecDeque<$t> = v.iter().copied().collect();
            assert_eq!(decode::<Vec<$t>>(&encode(&d).unwrap()).unwrap(), v);
            assert_eq!(decode::<Box<[$t]>>(&b).unwrap().as_ref(), &v[..]);
        }
        // Extremes of the type.
        same_as_postcard(&vec![<$t>::MIN, <$t>::MAX, <$t>::MIN, <$t>::MAX]);
    )*};
}

#[test]
fn every_number_round_trips_through_the_bulk_path() {
    bulk_round_trip!(u8, i8, u16, i16, u32, i32, u64, i64, usize, isize, f32, f64);
    let nan = vec![f64::NAN, -0.0, f64::INFINITY];
    let back: Vec<f64> = decode(&encode(&nan).unwrap()).unwrap();
    assert!(back[0].is_nan() && back[1].to_bits() == (-0.0f64).to_bits());
}

#[test]
fn nested_structs_round_trip() {
    for n in [0, 1, 3, 513] {
        let f = frame(n);
        let back: Frame = decode(&encode(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        let many = vec![f.clone(), frame(n + 1)];
        assert_eq!(decode::<Vec<Frame>>(&encode(&many).unwrap()).unwrap(), many);
        let nested = vec![vec![1.0f64; n], vec![], vec![2.0; 3]];
        assert_eq!(
            decode::<Vec<Vec<f64>>>(&encode(&nested).unwrap()).unwrap(),
            nested
        );
    }
}

#[test]
fn another_element_type_is_refused() {
    let e = decode::<Vec<f64>>(&encode(&vec![1.0f32; 4]).unwrap()).unwrap_err();
    assert_eq!(e.wrong_type(), Some(("Vec<f32>", "Vec<f64>")));
    let e = decode::<Vec<u32>>(&encode(&vec![1i32]).unwrap()).unwrap_err();
    assert_eq!(e.wrong_type(), Some(("Vec<i32>", "Vec<u32>")));
}

#[test]
fn short_or_long_bulk_input_is_an_error() {
    // A length beyond the bytes: an error, no allocation of that length.
    for bytes in [
        &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F][..],
        &[3, 0, 0, 0][..],
        &[2, 0x80][..],
    ] {
        assert!(de::take_from_bytes::<Vec<f64>>(bytes, None).is_err());
    }
    assert!(de::take_from_bytes::<Vec<u8>>(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F], None).is_err());
    assert!(de::take_from_bytes::<Vec<u8>>(&[4, 1, 2, 3], None).is_err());
    assert!(de::take_from_bytes::<Vec<u64>>(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1], None).is_err());
    assert!(de::take_from_bytes::<Vec<u64>>(&[2, 0x80], None).is_err());
    let mut b = encode(&vec![1.0f64; 3]).unwrap();
    b.pop();
    assert!(decode::<Vec<f64>>(&b).is_err());
    b.extend_from_slice(&[0, 0]);
    let e = decode::<Vec<f64>>(&b).unwrap_err().to_string();
    assert!(e.contains("1 bytes are left"), "{e}");
    // A varint with bits beyond the type.
    assert!(de::take_from_bytes::<Vec<u16>>(&[1, 0xFF, 0xFF, 0x7F], None).is_err());
    assert!(de::take_from_bytes::<u16>(&[0xFF, 0xFF, 0x7F], None).is_err());
}

#[test]
fn a_visitor_that_is_not_serdes_vec_keeps_its_own_logic() {
    /// Deserializes a sequence of `f64` into a vector, reversed.
    #[derive(Debug, PartialEq)]
    struct Reversed(Vec<f64>);
    impl<'de> Deserialize<'de> for Reversed {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Vec<f64>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("numbers")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Vec<f64>, A::Error> {
                    let mut v = Vec::new();
                    while let Some(x) = a.next_element()? {
                        v.insert(0, x);
                    }
                    Ok(v)
                }
            }
            d.deserialize_seq(V).map(Reversed)
        }
    }
    let bytes = ser::to_extend(&vec![1.0f64, 2.0, 3.0], Vec::new(), None).unwrap();
    let (r, _) = de::take_from_bytes::<Reversed>(&bytes, None).unwrap();
    assert_eq!(r, Reversed(vec![3.0, 2.0, 1.0]));
}
