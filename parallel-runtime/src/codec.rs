//! The serde codec for values that cross ranks (the object path of MPI and
//! the `mpi` backend of `#[parallel_map]`).
//!
//! An encoded value is a small header, then the value in
//! [postcard](https://docs.rs/postcard)'s format (written and read by this
//! module's own serializer, byte for byte postcard's, which copies
//! sequences of numbers in one piece: see `codec/bulk.rs`):
//!
//! | bytes | what |
//! |---|---|
//! | 1 | `0xB7`, the mark of this format |
//! | 8 | fingerprint of the type's serde shape (little-endian) |
//! | 2 | length of the type's name (little-endian) |
//! | n | the type's name, UTF-8 |
//! | … | the value |
//!
//! [`decode`] refuses a value of another type, naming both (a value sent
//! as `(usize, String)` is not decoded as a `String`), and refuses bytes
//! left over after the value. Types that serde writes the same way match:
//! `&str`/`String`, `[T]`/`&[T]`/`Vec<T>`, `&T`/`Box<T>`/`T` (see the
//! normalisation in `codec/typename.rs`). Like pickle's class names, the
//! header lets the receiver check what it gets, not trust it.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

mod bulk;
mod de;
pub(crate) mod oob;
mod ser;
mod typename;

pub(crate) use typename::fnv1a;
#[cfg(test)]
mod wire_tests;

/// The first byte of every encoded value.
const MARK: u8 = 0xB7;
/// Bytes before the type's name: mark, fingerprint, name length.
const FIXED: usize = 1 + 8 + 2;

/// Whether `bytes` begin an encoded value (with or without a table of
/// out-of-band pieces first): the first byte is one of the codec's marks.
/// Bytes of anything else (a buffer-path message received as an object)
/// almost never do.
pub(crate) fn begins_value(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(&MARK | &oob::MARK_PIECES))
}

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CodecError(Kind);

/// What went wrong, inside [`CodecError`].
#[derive(Debug, thiserror::Error)]
enum Kind {
    #[error("serialization failed: {0}")]
    Serde(#[from] WireError),
    #[error("the message holds a `{sent}`, but is received as `{expected}`")]
    WrongType { sent: String, expected: String },
    #[error(
        "{extra} bytes are left after the `{expected}` the message holds; \
         the sender wrote more than one value or another format"
    )]
    Trailing { extra: usize, expected: String },
    #[error(
        "the message ({len} bytes) is not a value encoded by parallel-runtime's object path \
         (a buffer-path message, or another program's bytes?)"
    )]
    NotAnObject { len: usize },
    #[error(
        "the value serialized other out-of-band pieces the second time than the first \
         (a `Serialize` impl that is not a function of the value); its receiver got zeros"
    )]
    Unstable,
    #[error("{left} out-of-band pieces of the message were left after its value")]
    PiecesLeft { left: usize },
}

impl From<postcard::Error> for CodecError {
    fn from(e: postcard::Error) -> Self {
        CodecError(Kind::Serde(e.into()))
    }
}

impl From<WireError> for CodecError {
    fn from(e: WireError) -> Self {
        CodecError(Kind::Serde(e))
    }
}

/// The error of the codec's serializer and deserializer: one of postcard's
/// (the format's own checks), or the text a value's own `Serialize` or
/// `Deserialize` gave to serde's `Error::custom` (postcard's error keeps
/// only that there was one; a user reading "Serde Serialization Error"
/// could not tell which check of theirs failed).
///
/// Boxed, so that `Result<(), WireError>`, which every call of the
/// serializer returns, is one register, as with postcard's one-byte error
/// (16 bytes cost 5% more instructions to encode and decode structs).
#[derive(Debug)]
pub(crate) struct WireError(Box<WireKind>);

#[derive(Debug)]
enum WireKind {
    Postcard(postcard::Error),
    Custom(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            WireKind::Postcard(e) => e.fmt(f),
            WireKind::Custom(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for WireError {}

impl From<postcard::Error> for WireError {
    #[cold]
    fn from(e: postcard::Error) -> Self {
        WireError(Box::new(WireKind::Postcard(e)))
    }
}

impl serde::ser::Error for WireError {
    fn custom<T: std::fmt::Display>(text: T) -> Self {
        WireError(Box::new(WireKind::Custom(text.to_string())))
    }
}

impl serde::de::Error for WireError {
    fn custom<T: std::fmt::Display>(text: T) -> Self {
        WireError(Box::new(WireKind::Custom(text.to_string())))
    }
}

impl CodecError {
    /// For a value of another type than the receiver's: the type that was
    /// sent and the type it was received as, e.g. `("(usize, String)",
    /// "String")`.
    pub fn wrong_type(&self) -> Option<(&str, &str)> {
        match &self.0 {
            Kind::WrongType { sent, expected } => Some((sent, expected)),
            _ => None,
        }
    }
}

/// Encodes `value` into bytes: the header naming its type, then the value.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_after(value, Vec::new())
}

/// [`encode`], appended to `out` (which may hold bytes of its own before).
pub(crate) fn encode_after<T: Serialize + ?Sized>(
    value: &T,
    out: Vec<u8>,
) -> Result<Vec<u8>, CodecError> {
    encode_with(value, out, None)
}

/// [`encode_after`], with sequences out of band where `oob` takes them.
fn encode_with<T: Serialize + ?Sized>(
    value: &T,
    mut out: Vec<u8>,
    oob: Option<bulk::OobOut<'_>>,
) -> Result<Vec<u8>, CodecError> {
    let tag = typename::tag_of::<T>();
    let name = truncated(&tag.name);
    out.reserve(FIXED + name.len() + 16);
    out.push(MARK);
    out.extend_from_slice(&tag.fingerprint.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    Ok(ser::to_extend(value, out, oob)?)
}

/// `value` alone, in postcard's format without the header, appended to
/// `out`: for a caller that checks the type itself (with
/// [`fingerprint_of`]), where the header would cost more than the value.
pub(crate) fn encode_bare_after<T: Serialize + ?Sized>(
    value: &T,
    out: Vec<u8>,
) -> Result<Vec<u8>, CodecError> {
    Ok(ser::to_extend(value, out, None)?)
}

/// Decodes a value written by [`encode_bare_after`]: all of `bytes`, or
/// an error (bytes left over included).
pub(crate) fn decode_bare<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    whole(bytes, None)
}

/// The fingerprint of `T`'s serde shape, which the header carries: equal
/// for two types exactly when [`decode`] takes one for the other.
pub(crate) fn fingerprint_of<T: ?Sized>() -> u64 {
    typename::tag_of::<T>().fingerprint
}

/// `T`'s readable name, as the header carries it.
pub(crate) fn type_name_of<T: ?Sized>() -> &'static str {
    &typename::tag_of::<T>().name
}

/// At most `u16::MAX` bytes of `name`, cut at a character boundary.
fn truncated(name: &str) -> &str {
    let mut n = name.len().min(usize::from(u16::MAX));
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    &name[..n]
}

/// Decodes a value from bytes written by [`encode`]: an error, never a
/// wrong value, when they hold another type or more than one value.
///
/// Also decodes a value sent with out-of-band pieces (`oob.rs`) whose
/// pieces follow its inline bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match oob::Table::of(bytes) {
        None => decode_body(bytes, None),
        Some(table) => oob::decode_joined(bytes, &table?),
    }
}

/// [`decode`] of a value without a table, its pieces (if any) from `oob`.
fn decode_body<T: DeserializeOwned>(
    bytes: &[u8],
    oob: Option<&mut bulk::OobIn<'_>>,
) -> Result<T, CodecError> {
    let tag = typename::tag_of::<T>();
    let not_ours = || CodecError(Kind::NotAnObject { len: bytes.len() });
    if bytes.len() < FIXED || bytes[0] != MARK {
        return Err(not_ours());
    }
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&bytes[1..9]);
    let name_len = usize::from(u16::from_le_bytes([bytes[9], bytes[10]]));
    let body = bytes.get(FIXED + name_len..).ok_or_else(not_ours)?;
    if u64::from_le_bytes(fp) != tag.fingerprint {
        let sent = String::from_utf8_lossy(&bytes[FIXED..FIXED + name_len]).into_owned();
        return Err(CodecError(Kind::WrongType {
            sent,
            expected: tag.name.to_string(),
        }));
    }
    whole(body, oob)
}

/// The value that `body` holds, all of it: bytes left over are an error.
fn whole<T: DeserializeOwned>(
    body: &[u8],
    oob: Option<&mut bulk::OobIn<'_>>,
) -> Result<T, CodecError> {
    let (value, rest) = de::take_from_bytes(body, oob)?;
    if !rest.is_empty() {
        return Err(CodecError(Kind::Trailing {
            extra: rest.len(),
            expected: typename::tag_of::<T>().name.to_string(),
        }));
    }
    Ok(value)
}

/// How to send a `Vec<R>` of map results between ranks: present when `R`
/// implements serde's traits.
#[doc(hidden)]
pub struct ResultCodec<R> {
    pub(crate) encode: fn(&[R]) -> Result<Vec<u8>, CodecError>,
    pub(crate) decode: fn(&[u8]) -> Result<Vec<R>, CodecError>,
}

impl<R> Clone for ResultCodec<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for ResultCodec<R> {}

/// Compile-time probe, resolved at the macro's call site by method lookup:
/// `(&&Probe::<R>::new()).result_codec()` is `Some` when `R` is serde-able.
#[doc(hidden)]
pub struct Probe<R>(PhantomData<fn() -> R>);

impl<R> Probe<R> {
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<R> Default for Probe<R> {
    fn default() -> Self {
        Self::new()
    }
}

#[doc(hidden)]
pub trait ViaSerde<R> {
    fn result_codec(&self) -> Option<ResultCodec<R>>;
    /// The codec for `reduce`'s value type `V`, which is `R` itself but
    /// generic where the probe runs (see `bounds::ReduceValue`).
    fn reduce_codec<V: crate::bounds::ReduceValue<R>>(&self) -> Option<ResultCodec<V>>;
}

impl<R: Serialize + DeserializeOwned> ViaSerde<R> for &Probe<R> {
    fn result_codec(&self) -> Option<ResultCodec<R>> {
        Some(ResultCodec {
            encode: |v| encode(v),
            decode: |b| decode(b),
        })
    }
    fn reduce_codec<V: crate::bounds::ReduceValue<R>>(&self) -> Option<ResultCodec<V>> {
        Some(ResultCodec {
            encode: |v| encode(&v.iter().cloned().map(V::into_result).collect::<Vec<R>>()),
            decode: |b| {
                Ok(decode::<Vec<R>>(b)?
                    .into_iter()
                    .map(V::from_result)
                    .collect())
            },
        })
    }
}

#[doc(hidden)]
pub trait WithoutSerde<R> {
    fn result_codec(&self) -> Option<ResultCodec<R>>;
    fn reduce_codec<V: crate::bounds::ReduceValue<R>>(&self) -> Option<ResultCodec<V>>;
}

impl<R> WithoutSerde<R> for Probe<R> {
    fn result_codec(&self) -> Option<ResultCodec<R>> {
        None
    }
    fn reduce_codec<V: crate::bounds::ReduceValue<R>>(&self) -> Option<ResultCodec<V>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_borrow)]
    fn probe_finds_serde() {
        #[allow(unused_imports)]
        use super::{ViaSerde, WithoutSerde};
        struct Opaque;
        assert!((&&Probe::<Vec<f64>>::new()).result_codec().is_some());
        assert!((&&Probe::<Opaque>::new()).result_codec().is_none());
        let c = (&&Probe::<(u32, String)>::new())
            .result_codec()
            .map(|c| c.encode);
        let bytes = c.map(|e| e(&[(7, "x".to_string())]));
        assert!(matches!(bytes, Some(Ok(ref b)) if !b.is_empty()));
    }

    #[test]
    fn a_value_of_another_type_is_refused_naming_both() {
        let e = decode::<String>(&encode(&(2usize, "r3".to_string())).unwrap()).unwrap_err();
        assert_eq!(e.wrong_type(), Some(("(usize, String)", "String")));
        assert_eq!(
            e.to_string(),
            "the message holds a `(usize, String)`, but is received as `String`"
        );
        assert!(decode::<u8>(&encode(&vec![3u64]).unwrap()).is_err());
        assert!(decode::<u64>(&encode(&0.5f64).unwrap()).is_err());
    }

    #[test]
    fn serde_compatible_pairs_decode() {
        assert_eq!(decode::<String>(&encode("hi").unwrap()).unwrap(), "hi");
        assert_eq!(decode::<String>(&encode(&&"hi").unwrap()).unwrap(), "hi");
        let v: Vec<u16> = decode(&encode(&[1u16, 2][..]).unwrap()).unwrap();
        assert_eq!(v, [1, 2]);
        let b: Box<u8> = decode(&encode(&&7u8).unwrap()).unwrap();
        assert_eq!(*b, 7);
        let r: Vec<(u8, String)> = decode(&encode(&vec![(1u8, "a")]).unwrap()).unwrap();
        assert_eq!(r, [(1, "a".to_string())]);
    }

    #[test]
    fn trailing_bytes_and_foreign_bytes_are_refused() {
        let mut b = encode(&5u32).unwrap();
        b.push(0);
        let e = decode::<u32>(&b).unwrap_err().to_string();
        assert!(e.contains("1 bytes are left after the `u32`"), "{e}");
        let e = decode::<u32>(&[5]).unwrap_err().to_string();
        assert!(e.contains("not a value encoded by parallel-runtime"), "{e}");
        assert!(decode::<u32>(&b[..5]).is_err());
    }

    /// A value's own `Serialize` or `Deserialize` that fails with
    /// `Error::custom` reaches the user with its text.
    #[test]
    fn a_custom_error_keeps_its_text() {
        use serde::{Deserialize, Deserializer, Serializer};
        #[derive(Debug)]
        struct Odd(u8);
        impl Serialize for Odd {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if self.0.is_multiple_of(2) {
                    return Err(serde::ser::Error::custom(format!("{} is even", self.0)));
                }
                s.serialize_u8(self.0)
            }
        }
        impl<'de> Deserialize<'de> for Odd {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match u8::deserialize(d)? {
                    9 => Err(serde::de::Error::custom("nine is refused")),
                    x => Ok(Odd(x)),
                }
            }
        }
        let e = encode(&vec![Odd(1), Odd(4)]).unwrap_err().to_string();
        assert_eq!(e, "serialization failed: 4 is even");
        assert_eq!(decode::<Odd>(&encode(&Odd(3)).unwrap()).unwrap().0, 3);
        let e = decode::<Vec<Odd>>(&encode(&vec![Odd(1), Odd(9)]).unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "serialization failed: nine is refused");
        // postcard's own checks keep their text.
        let e = decode::<bool>(&encode(&2u8).unwrap()[..]).unwrap_err();
        assert!(e.wrong_type().is_some(), "{e}");
        let e = decode_bare::<bool>(&[2]).unwrap_err().to_string();
        assert!(e.contains("bool"), "{e}");
    }
}
