//! [`Array`]: a vector of plain numbers that crosses a process boundary as its raw bytes.
//!
//! Why. serde encodes a `Vec<f64>` one element at a time: each number a record with its type,
//! so a 64 MiB `Vec<u8>` took 2.69 s there and back through a [`ProcessPool`](crate::ProcessPool),
//! 9.8x the same bytes as a `serde_bytes::ByteBuf` (issue 21). `ByteBuf` fixes it for bytes;
//! a student's data is a `Vec<f64>`. Python pickles a numpy array's buffer as raw bytes
//! (protocol 5); this is the same idea: the vector's memory goes as one byte string, and is
//! copied back into a vector of its type on the other side (one `memcpy`, for alignment: a
//! byte buffer is not aligned for `f64`). A [`ThreadPool`](crate::ThreadPool) moves it as it is.
//!
//! The element type is any [`bytemuck::Pod`] type (the integers and floats, and arrays of
//! them): every bit pattern is a value and there is no padding, so the bytes are the value,
//! and no `unsafe` is needed here (bytemuck checks the casts). The bytes are in this machine's
//! order: both ends of a pool run the same build on the same kind of machine (the build
//! fingerprint of every frame makes sure of the build).

use bytemuck::Pod;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;

/// A vector of plain numbers that a [`ProcessPool`](crate::ProcessPool) sends as raw bytes: a
/// 64 MiB `Vec<f64>` travels as fast as a `ByteBuf` of 64 MiB, not number by number.
///
/// ```
/// use common::{Array, Pool, ThreadPool};
///
/// fn total(values: Array<f64>) -> f64 {
///     values.iter().sum() // an `Array` is a `Vec` to read (and `into_inner` gives it back)
/// }
///
/// let pool = ThreadPool::new(2).unwrap();
/// let chunks = vec![Array::from(vec![0.5, 1.5]), Array::from(vec![2.0; 4])];
/// assert_eq!(pool.map(total, chunks), Ok(vec![2.0, 8.0]));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Array<T>(pub Vec<T>);

impl<T> Array<T> {
    /// The vector.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T> From<Vec<T>> for Array<T> {
    fn from(values: Vec<T>) -> Self {
        Array(values)
    }
}

impl<T> std::ops::Deref for Array<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Array<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> FromIterator<T> for Array<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Array(items.into_iter().collect())
    }
}

impl<T: Pod> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytemuck::cast_slice(&self.0))
    }
}

impl<'de, T: Pod> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(Raw(PhantomData))
    }
}

/// Reads an [`Array`] back from its bytes (or, from a format that has no byte strings, from a
/// sequence of numbers).
struct Raw<T>(PhantomData<T>);

impl<'de, T: Pod> Visitor<'de> for Raw<T> {
    type Value = Array<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the bytes of an array of {} ({} bytes each)",
            std::any::type_name::<T>(),
            std::mem::size_of::<T>()
        )
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Array<T>, E> {
        let size = std::mem::size_of::<T>();
        if size == 0 || !bytes.len().is_multiple_of(size) {
            return Err(E::invalid_length(bytes.len(), &self));
        }
        // One copy into memory aligned for `T`: a byte buffer is not.
        Ok(Array(bytemuck::pod_collect_to_vec(bytes)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Array<T>, A::Error> {
        // A format that turned the bytes into a list of numbers (JSON does): one byte each.
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        self.visit_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Pod + std::fmt::Debug + PartialEq>(values: Vec<T>) {
        let mut bytes = Vec::new();
        crate::codec::push(&mut bytes, &Array(values.clone())).unwrap();
        let record = crate::codec::Records::new(&bytes).next().unwrap().unwrap();
        let crate::codec::Record::Value(body) = record else {
            panic!("a value record");
        };
        let back: Array<T> = crate::codec::decode(body).unwrap();
        assert_eq!(back.0, values);
    }

    #[test]
    fn numbers_travel_as_their_bytes_and_come_back_exact() {
        round_trip(vec![0.5f64, -0.0, f64::INFINITY, f64::MIN_POSITIVE, 1e300]);
        round_trip(Vec::<u64>::new());
        round_trip((0..1001u32).collect());
        round_trip(vec![[1u8, 2, 3]; 7]); // odd sizes, no alignment to speak of
        let nan = f64::from_bits(0x7ff8_dead_beef_0001);
        let mut bytes = Vec::new();
        crate::codec::push(&mut bytes, &Array(vec![nan])).unwrap();
        // The payload is the value's 8 bytes, as they are in memory.
        assert!(bytes.windows(8).any(|w| w == nan.to_ne_bytes()));
    }

    #[test]
    fn a_length_that_is_not_whole_elements_is_refused() {
        let refused: Result<Array<u64>, _> = serde_json::from_str("[1, 2, 3]");
        assert!(refused.is_err(), "3 bytes are not a u64");
        let read: Array<u16> = serde_json::from_str("[1, 0, 2, 0]").unwrap();
        assert_eq!(
            read.0,
            vec![u16::from_ne_bytes([1, 0]), u16::from_ne_bytes([2, 0])]
        );
    }
}
