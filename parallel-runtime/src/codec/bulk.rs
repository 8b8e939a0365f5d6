//! The bulk path of the codec: a sequence of numbers (`Vec<f64>`,
//! `&[u8]`, a `Vec<f32>` field deep inside a struct) written and read in
//! one piece instead of one serde call per element, in the same bytes as
//! the element-by-element path (postcard's): the length as a varint, then
//! `u8`/`i8`/`f32`/`f64` as raw little-endian bytes (one `memcpy` on a
//! little-endian machine) and wider integers as varints, in one loop.
//!
//! Like pickle protocol 5 for NumPy arrays, the receiver gets a vector
//! filled by one copy. The types are recognised by their `TypeId`
//! ([`typeid::of`] also works for the borrowed `&'a Vec<f64>` that serde
//! hands a serializer): on the way out, the iterator serde's `Vec<E>` and
//! `[E]` pass to `collect_seq`; on the way in, the visitor serde's
//! `Vec<E>` passes to `deserialize_seq`, whose value is then built here.
//! Any other container (a `VecDeque<f64>`) takes the element-by-element
//! path, to the same bytes.

use std::any::TypeId;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use postcard::Error;

/// A number with a bulk path.
pub(super) trait Bulk: Copy + Sized + 'static {
    /// Whether its postcard bytes are its little-endian bytes (so that a
    /// sequence of them can travel out of band, see `oob.rs`).
    const RAW: bool;
    /// Appends the elements as the element-by-element path would.
    fn write(s: &[Self], out: &mut Vec<u8>);
    /// Reads `n` elements from the front of `input`.
    fn read(input: &mut &[u8], n: usize) -> Result<Vec<Self>, Error>;
    /// The type of the visitor serde's `Vec<Self>` deserializes with.
    fn vec_visitor() -> TypeId;
}

// ----- out-of-band pieces (`oob.rs`) ------------------------------------

/// Where the serializer hands the sequences that go out of band.
pub(super) struct OobOut<'s> {
    pub(super) min: usize,
    pub(super) piece: &'s mut dyn FnMut(&[u8]),
}

impl OobOut<'_> {
    /// Whether a sequence of `bytes` bytes of raw numbers goes out of band.
    pub(super) fn takes(&self, bytes: usize) -> bool {
        bytes >= self.min
    }

    /// Hands over one piece, lent for this call only.
    pub(super) fn piece(&mut self, bytes: &[u8]) {
        (self.piece)(bytes);
    }
}

/// Where the deserializer gets the pieces: the table's lengths, in order,
/// and what writes the next one into a vector's memory. That memory is
/// not initialised before (zeroing a 1 MiB vector first cost about a tenth
/// of its transfer), so `fill` must return `true` only when it wrote every
/// byte of it: the vector's length is set after it, from that answer.
pub(super) struct OobIn<'s> {
    pub(super) min: usize,
    pub(super) lens: &'s [usize],
    pub(super) taken: usize,
    pub(super) fill: &'s mut dyn FnMut(&mut [MaybeUninit<u8>]) -> bool,
}

impl OobIn<'_> {
    /// Whether a vector of `bytes` bytes of raw numbers came out of band.
    pub(super) fn takes(&self, bytes: usize) -> bool {
        bytes >= self.min
    }

    /// The length of the next piece, which must be `bytes`.
    pub(super) fn next_len(&self, bytes: usize) -> Result<usize, Error> {
        match self.lens.get(self.taken) {
            Some(&len) if len == bytes => Ok(len),
            _ => Err(Error::DeserializeBadEncoding),
        }
    }

    /// Writes the next piece into `dst` (of the length [`OobIn::next_len`]
    /// said); `Ok` only when every byte of it was written.
    pub(super) fn fill(&mut self, dst: &mut [MaybeUninit<u8>]) -> Result<(), Error> {
        self.taken += 1;
        if (self.fill)(dst) {
            Ok(())
        } else {
            Err(Error::DeserializeUnexpectedEnd)
        }
    }
}

// ----- varints --------------------------------------------------------------

/// Appends `v` as a LEB128 varint (postcard's integers and lengths).
#[inline]
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Takes a LEB128 varint of an integer of `bits` bits from the front of
/// `input`, refusing one longer than the type or with bits beyond it.
#[inline]
pub(super) fn take_varint(input: &mut &[u8], bits: u32) -> Result<u64, Error> {
    let max = bits.div_ceil(7) as usize;
    let last_max = (1u64 << (bits - 7 * (max as u32 - 1))) - 1;
    let mut out = 0u64;
    for i in 0..max {
        let (&b, rest) = input.split_first().ok_or(Error::DeserializeUnexpectedEnd)?;
        *input = rest;
        out |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if i == max - 1 && u64::from(b) > last_max {
                return Err(Error::DeserializeBadVarint);
            }
            return Ok(out);
        }
    }
    Err(Error::DeserializeBadVarint)
}

/// The `n * size` bytes at the front of `input`, taken.
fn take<'a>(input: &mut &'a [u8], n: usize, size: usize) -> Result<&'a [u8], Error> {
    let len = n.checked_mul(size).ok_or(Error::DeserializeUnexpectedEnd)?;
    if input.len() < len {
        return Err(Error::DeserializeUnexpectedEnd);
    }
    let (head, rest) = input.split_at(len);
    *input = rest;
    Ok(head)
}

/// The [`TypeId`] of the visitor that `T::deserialize` passes to
/// `deserialize_seq`, found by asking it once.
fn seq_visitor_of<T: serde::de::DeserializeOwned>() -> TypeId {
    use serde::de::value::Error as E;
    use std::cell::Cell;
    struct Spy<'a>(&'a Cell<Option<TypeId>>);
    impl<'de> serde::Deserializer<'de> for Spy<'_> {
        type Error = E;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            Err(serde::de::Error::custom("a probe"))
        }
        fn deserialize_seq<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            self.0.set(Some(typeid::of::<V>()));
            Err(serde::de::Error::custom("a probe"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }
    let seen = Cell::new(None);
    let _ = T::deserialize(Spy(&seen));
    // A type that never asks for a sequence gets an id no visitor has.
    seen.get().unwrap_or(TypeId::of::<Spy<'static>>())
}

/// The bytes of a slice of numbers, in memory order.
fn bytes_of<E: Bulk>(s: &[E]) -> &[u8] {
    // SAFETY: every `Bulk` type is a primitive number (no padding, every
    // byte initialised), so the slice's memory is `size_of_val(s)`
    // initialised bytes, borrowed as long as `s`.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

/// The first `n` elements of `v`'s spare capacity (at least `n`), as
/// bytes to be written.
fn spare_bytes<E: Bulk>(v: &mut Vec<E>, n: usize) -> &mut [MaybeUninit<u8>] {
    let spare = &mut v.spare_capacity_mut()[..n];
    // SAFETY: the same memory, viewed as its bytes, which are just as
    // uninitialised; `MaybeUninit<u8>` has no alignment or validity
    // requirement, and the borrow is exclusive.
    unsafe {
        std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast(), std::mem::size_of_val(spare))
    }
}

/// Numbers whose postcard bytes are their little-endian bytes.
macro_rules! raw {
    ($($t:ty),*) => {$(
        impl Bulk for $t {
            const RAW: bool = true;
            fn write(s: &[Self], out: &mut Vec<u8>) {
                if cfg!(target_endian = "little") {
                    out.extend_from_slice(bytes_of(s));
                } else {
                    out.reserve(std::mem::size_of_val(s));
                    for x in s {
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }
            fn read(input: &mut &[u8], n: usize) -> Result<Vec<Self>, Error> {
                const SIZE: usize = std::mem::size_of::<$t>();
                let bytes = take(input, n, SIZE)?;
                if cfg!(target_endian = "little") {
                    let mut v = Vec::<$t>::with_capacity(n);
                    // SAFETY: `bytes` holds `n * SIZE` bytes and `v` room for
                    // `n` elements that any bit pattern is valid for; the
                    // two do not overlap; `set_len` follows the copy.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr().cast::<u8>(), n * SIZE);
                        v.set_len(n);
                    }
                    Ok(v)
                } else {
                    Ok(bytes
                        .chunks_exact(SIZE)
                        .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or_else(|_| unreachable!())))
                        .collect())
                }
            }
            fn vec_visitor() -> TypeId {
                static ID: OnceLock<TypeId> = OnceLock::new();
                *ID.get_or_init(seq_visitor_of::<Vec<$t>>)
            }
        }
    )*};
}
raw!(u8, i8, f32, f64);

/// Integers that postcard writes as varints (signed ones zigzagged).
macro_rules! varint {
    ($($t:ty => $u:ty, $zig:expr, $unzig:expr);* $(;)?) => {$(
        impl Bulk for $t {
            const RAW: bool = false;
            fn write(s: &[Self], out: &mut Vec<u8>) {
                out.reserve(s.len());
                let zig: fn($t) -> $u = $zig;
                for &x in s {
                    put_varint(out, zig(x) as u64);
                }
            }
            fn read(input: &mut &[u8], n: usize) -> Result<Vec<Self>, Error> {
                let unzig: fn($u) -> $t = $unzig;
                // At least one byte an element: no allocation beyond the input.
                let mut v = Vec::with_capacity(n.min(input.len()));
                for _ in 0..n {
                    v.push(unzig(take_varint(input, <$u>::BITS)? as $u));
                }
                Ok(v)
            }
            fn vec_visitor() -> TypeId {
                static ID: OnceLock<TypeId> = OnceLock::new();
                *ID.get_or_init(seq_visitor_of::<Vec<$t>>)
            }
        }
    )*};
}
varint! {
    u16 => u16, |x| x, |x| x;
    u32 => u32, |x| x, |x| x;
    u64 => u64, |x| x, |x| x;
    usize => u64, |x| x as u64, |x| x as usize;
    i16 => u16, |x| ((x << 1) ^ (x >> 15)) as u16, |n| ((n >> 1) as i16) ^ -((n & 1) as i16);
    i32 => u32, |x| ((x << 1) ^ (x >> 31)) as u32, |n| ((n >> 1) as i32) ^ -((n & 1) as i32);
    i64 => u64, |x| ((x << 1) ^ (x >> 63)) as u64, |n| ((n >> 1) as i64) ^ -((n & 1) as i64);
    isize => u64, |x| ((x << 1) ^ (x >> 63)) as u64, |n| (((n >> 1) as i64) ^ -((n & 1) as i64)) as isize;
}

/// Calls `$m!(E)` for every type with a bulk path, in a block that
/// returns from the first match.
macro_rules! each_bulk {
    ($m:ident) => {
        $m!(f64);
        $m!(f32);
        $m!(u8);
        $m!(i8);
        $m!(u16);
        $m!(u32);
        $m!(u64);
        $m!(usize);
        $m!(i16);
        $m!(i32);
        $m!(i64);
        $m!(isize);
    };
}

/// Writes the sequence `iter` (its length, then its elements) when it is
/// a `&Vec<E>` or `&[E]` of a number with a bulk path; `false` otherwise.
/// With `oob`, a sequence of raw numbers of at least `oob`'s minimum of
/// bytes goes out of band: its length here, its bytes to `oob`.
#[inline]
pub(super) fn try_write_seq<I>(iter: &I, out: &mut Vec<u8>, oob: Option<&mut OobOut<'_>>) -> bool {
    let id = typeid::of::<I>();
    macro_rules! arm {
        ($e:ty) => {
            if id == TypeId::of::<&'static Vec<$e>>() || id == TypeId::of::<&'static [$e]>() {
                let s: &[$e] = if id == TypeId::of::<&'static Vec<$e>>() {
                    // SAFETY: `I` is `&Vec<$e>` (the same type up to the
                    // lifetime, which does not change the layout): the
                    // reference is copied out and used only while `iter`
                    // is borrowed, inside this call.
                    unsafe { *std::ptr::from_ref(iter).cast::<&Vec<$e>>() }
                } else {
                    // SAFETY: as above, `I` is `&[$e]`.
                    unsafe { *std::ptr::from_ref(iter).cast::<&[$e]>() }
                };
                put_varint(out, s.len() as u64);
                match oob {
                    Some(o) if <$e as Bulk>::RAW && o.takes(std::mem::size_of_val(s)) => {
                        o.piece(bytes_of(s))
                    }
                    _ => <$e as Bulk>::write(s, out),
                }
                return true;
            }
        };
    }
    each_bulk!(arm);
    false
}

/// Reads a sequence of `n` elements (its length already taken) for the
/// visitor `V` when it is serde's visitor of a `Vec<E>` of a number with a
/// bulk path: `Ok(None)` for any other visitor. With `oob`, a vector of
/// raw numbers of at least `oob`'s minimum of bytes is filled from its
/// next piece, straight into the vector's memory.
#[inline]
pub(super) fn try_read_seq<'de, V: serde::de::Visitor<'de>>(
    input: &mut &[u8],
    n: usize,
    oob: Option<&mut OobIn<'_>>,
) -> Result<Option<V::Value>, Error> {
    let id = typeid::of::<V>();
    macro_rules! arm {
        ($e:ty) => {
            if typeid::of::<V::Value>() == TypeId::of::<Vec<$e>>()
                && id == <$e as Bulk>::vec_visitor()
            {
                let size = std::mem::size_of::<$e>();
                let v = match oob {
                    Some(o) if <$e as Bulk>::RAW && o.takes(n.saturating_mul(size)) => {
                        let len = o.next_len(n.saturating_mul(size))?;
                        let mut v: Vec<$e> = Vec::with_capacity(len / size);
                        o.fill(spare_bytes(&mut v, len / size))?;
                        // SAFETY: `fill` returned `Ok`, so it wrote all
                        // `len` bytes of the first `len / size` elements
                        // of the capacity, and any bytes make valid
                        // numbers of these types.
                        unsafe { v.set_len(len / size) };
                        v
                    }
                    _ => <$e as Bulk>::read(input, n)?,
                };
                let v = std::mem::ManuallyDrop::new(v);
                // SAFETY: `V::Value` is `Vec<$e>` (checked just above), so
                // this moves the vector into its own type; `ManuallyDrop`
                // keeps the original from being dropped as well.
                return Ok(Some(unsafe {
                    std::mem::transmute_copy::<Vec<$e>, V::Value>(&*v)
                }));
            }
        };
    }
    each_bulk!(arm);
    Ok(None)
}
