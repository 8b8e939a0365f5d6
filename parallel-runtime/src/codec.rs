//! The serde codec for values that cross ranks (the object path of MPI and
//! the `mpi` backend of `#[parallel_map]`).

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("serialization failed: {0}")]
pub struct CodecError(#[from] postcard::Error);

/// Encodes `value` into bytes.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(postcard::to_stdvec(value)?)
}

/// Decodes a value from bytes written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(bytes)?)
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
    /// generic where the probe runs (see `__private::ReduceValue`).
    fn reduce_codec<V: crate::__private::ReduceValue<R>>(&self) -> Option<ResultCodec<V>>;
}

impl<R: Serialize + DeserializeOwned> ViaSerde<R> for &Probe<R> {
    fn result_codec(&self) -> Option<ResultCodec<R>> {
        Some(ResultCodec {
            encode: |v| encode(v),
            decode: |b| decode(b),
        })
    }
    fn reduce_codec<V: crate::__private::ReduceValue<R>>(&self) -> Option<ResultCodec<V>> {
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
    fn reduce_codec<V: crate::__private::ReduceValue<R>>(&self) -> Option<ResultCodec<V>>;
}

impl<R> WithoutSerde<R> for Probe<R> {
    fn result_codec(&self) -> Option<ResultCodec<R>> {
        None
    }
    fn reduce_codec<V: crate::__private::ReduceValue<R>>(&self) -> Option<ResultCodec<V>> {
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
}
