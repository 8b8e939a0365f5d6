//! The codec's deserializer: postcard's wire format with postcard's checks
//! and errors, and the bulk path of `bulk.rs` for `Vec`s of numbers.

use postcard::Error as P;

use super::WireError as Error;
use serde::de::{DeserializeSeed, IntoDeserializer, Visitor};
use serde::Deserialize;

use super::bulk::{take_varint, try_read_seq, OobIn};

/// Decodes one `T` from the front of `bytes`, its out-of-band vectors from
/// `oob` (see `oob.rs`); the bytes after it.
pub(super) fn take_from_bytes<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    oob: Option<&mut OobIn<'_>>,
) -> Result<(T, &'de [u8]), Error> {
    let mut de = De { input: bytes, oob };
    let value = T::deserialize(&mut de)?;
    Ok((value, de.input))
}

/// Reads from the front of a slice.
struct De<'de, 'o, 's> {
    input: &'de [u8],
    oob: Option<&'o mut OobIn<'s>>,
}

impl<'de> De<'de, '_, '_> {
    #[inline]
    fn byte(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self
            .input
            .split_first()
            .ok_or(P::DeserializeUnexpectedEnd)?;
        self.input = rest;
        Ok(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'de [u8], Error> {
        if self.input.len() < n {
            return Err(P::DeserializeUnexpectedEnd.into());
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    #[inline]
    fn varint(&mut self, bits: u32) -> Result<u64, Error> {
        Ok(take_varint(&mut self.input, bits)?)
    }

    #[inline]
    fn len(&mut self) -> Result<usize, Error> {
        self.varint(usize::BITS).map(|n| n as usize)
    }

    fn varint128(&mut self) -> Result<u128, Error> {
        let mut out = 0u128;
        for i in 0..19 {
            let b = self.byte()?;
            out |= u128::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                if i == 18 && b > 0x03 {
                    return Err(P::DeserializeBadVarint.into());
                }
                return Ok(out);
            }
        }
        Err(P::DeserializeBadVarint.into())
    }

    fn str(&mut self) -> Result<&'de str, Error> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| Error::from(P::DeserializeBadUtf8))
    }
}

impl<'de> serde::Deserializer<'de> for &mut De<'de, '_, '_> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }
    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(P::WontImplement.into())
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.byte()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            _ => Err(P::DeserializeBadBool.into()),
        }
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i8(self.byte()? as i8)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.varint(16)? as u16;
        visitor.visit_i16(((n >> 1) as i16) ^ -((n & 1) as i16))
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.varint(32)? as u32;
        visitor.visit_i32(((n >> 1) as i32) ^ -((n & 1) as i32))
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.varint(64)?;
        visitor.visit_i64(((n >> 1) as i64) ^ -((n & 1) as i64))
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.varint128()?;
        visitor.visit_i128(((n >> 1) as i128) ^ -((n & 1) as i128))
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u8(self.byte()?)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u16(self.varint(16)? as u16)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u32(self.varint(32)? as u32)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(self.varint(64)?)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u128(self.varint128()?)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f32(f32::from_le_bytes(self.array()?))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(f64::from_le_bytes(self.array()?))
    }
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.len()?;
        if n > 4 {
            return Err(P::DeserializeBadChar.into());
        }
        let s =
            std::str::from_utf8(self.take(n)?).map_err(|_| Error::from(P::DeserializeBadChar))?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(P::DeserializeBadChar.into()),
        }
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.str()?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.str()?)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.len()?;
        visitor.visit_borrowed_bytes(self.take(n)?)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.len()?;
        visitor.visit_bytes(self.take(n)?)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.byte()? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(self),
            _ => Err(P::DeserializeBadOption.into()),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }
    /// The bulk path for serde's `Vec` of a number; any other sequence
    /// element by element.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let len = self.len()?;
        if let Some(v) = try_read_seq::<V>(&mut self.input, len, self.oob.as_deref_mut())? {
            return Ok(v);
        }
        visitor.visit_seq(Elements { de: self, len })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Elements { de: self, len })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let len = self.len()?;
        visitor.visit_map(Elements { de: self, len })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(fields.len(), visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(P::WontImplement.into())
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(P::WontImplement.into())
    }
}

/// The elements of a sequence, tuple or struct, or the entries of a map.
struct Elements<'a, 'de, 'o, 's> {
    de: &'a mut De<'de, 'o, 's>,
    len: usize,
}

impl<'de> serde::de::SeqAccess<'de> for Elements<'_, 'de, '_, '_> {
    type Error = Error;
    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.len == 0 {
            return Ok(None);
        }
        self.len -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.len)
    }
}

impl<'de> serde::de::MapAccess<'de> for Elements<'_, 'de, '_, '_> {
    type Error = Error;
    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        serde::de::SeqAccess::next_element_seed(self, seed)
    }
    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.len)
    }
}

impl<'de> serde::de::EnumAccess<'de> for &mut De<'de, '_, '_> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let index = self.varint(32)? as u32;
        let v = seed.deserialize(IntoDeserializer::<Error>::into_deserializer(index))?;
        Ok((v, self))
    }
}

impl<'de> serde::de::VariantAccess<'de> for &mut De<'de, '_, '_> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        serde::Deserializer::deserialize_tuple(self, len, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        serde::Deserializer::deserialize_tuple(self, fields.len(), visitor)
    }
}
