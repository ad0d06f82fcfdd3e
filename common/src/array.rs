//! [`Array`]: a vector of plain numbers that crosses a process boundary as its raw bytes.
//!
//! Why. serde encodes a `Vec<f64>` one element at a time: each number a record with its type,
//! so a 64 MiB `Vec<u8>` took 2.69 s there and back through a [`ProcessPool`](crate::ProcessPool),
//! 9.8x the same bytes as a `serde_bytes::ByteBuf` (issue 21). `ByteBuf` fixes it for bytes;
//! a student's data is a `Vec<f64>`. Python pickles a numpy array's buffer as raw bytes
//! (protocol 5); this is the same idea: the vector's memory goes as one byte string. On the
//! other side a large one is read in place from the buffer it was received into (a block of
//! the allocator's, aligned for any number type), and a small one, read from inside a batch's
//! buffer, is copied into a vector of its type. A [`ThreadPool`](crate::ThreadPool) moves it
//! as it is.
//!
//! A large `Array` of eight-byte items that a process pool sends is also kept, as words, to
//! receive its task's answer into (the kept arena, `process_pool/kept.rs`; `words.rs` says how
//! the memory is taken apart and handed back). Measured, 64 MiB of `f64` there and back: 2.2-4.8x
//! a `ByteBuf` when each side copied into a fresh vector, 1.35x read in place (with one slow run
//! in five, the pool's fresh buffer faulting in the VM's host), 0.99x kept.
//!
//! The element type is any [`bytemuck::Pod`] type (the integers and floats, and arrays of
//! them): every bit pattern is a value and there is no padding, so the bytes are the value,
//! and no `unsafe` is needed here (bytemuck checks the casts). The bytes are in this machine's
//! order: both ends of a pool run the same build on the same kind of machine (the build
//! fingerprint of every frame makes sure of the build).

pub(crate) mod words;

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
///     values.iter().sum() // an `Array` is a slice to read and write (`into_inner`: a `Vec`)
/// }
///
/// let pool = ThreadPool::new(2).unwrap();
/// let chunks = vec![Array::from(vec![0.5, 1.5]), Array::from(vec![2.0; 4])];
/// assert_eq!(pool.map(total, chunks), Ok(vec![2.0, 8.0]));
/// ```
pub struct Array<T> {
    items: Items<T>,
}

/// Where an [`Array`]'s items lie.
enum Items<T> {
    /// A vector made here.
    Vec(Vec<T>),
    /// The byte buffer the array was received into, read in place: its length is whole items
    /// and its address is aligned for `T` (both checked when it was received), so no copy.
    Received(Vec<u8>),
}

impl<T: Pod> Array<T> {
    /// The vector (a copy, only for an array received as bytes whose memory was allocated for
    /// bytes: the vector's allocation must be one made for `T`).
    pub fn into_inner(self) -> Vec<T> {
        match self.items {
            Items::Vec(values) => values,
            Items::Received(bytes) => bytemuck::allocation::try_cast_vec(bytes)
                .unwrap_or_else(|(_, bytes)| bytemuck::pod_collect_to_vec(&bytes)),
        }
    }

    /// An array read in place from `bytes`, if they are whole items aligned for `T`.
    fn received(bytes: Vec<u8>) -> Result<Self, Vec<u8>> {
        match bytemuck::try_cast_slice::<u8, T>(&bytes) {
            Ok(_) if std::mem::size_of::<T>() > 0 => Ok(Array {
                items: Items::Received(bytes),
            }),
            _ => Err(bytes),
        }
    }
}

impl<T> From<Vec<T>> for Array<T> {
    fn from(values: Vec<T>) -> Self {
        Array {
            items: Items::Vec(values),
        }
    }
}

impl<T: Pod> std::ops::Deref for Array<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.items {
            Items::Vec(values) => values,
            // Cannot fail: `received` made it only after this same cast succeeded, and the
            // buffer never changes length or place since.
            Items::Received(bytes) => bytemuck::cast_slice(bytes),
        }
    }
}

impl<T: Pod> std::ops::DerefMut for Array<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.items {
            Items::Vec(values) => values,
            Items::Received(bytes) => bytemuck::cast_slice_mut(bytes),
        }
    }
}

impl<T> FromIterator<T> for Array<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Array::from(items.into_iter().collect::<Vec<T>>())
    }
}

impl<T: Pod> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array::from(self.to_vec())
    }
}

impl<T: Pod> Default for Array<T> {
    fn default() -> Self {
        Array::from(Vec::new())
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Array").field(&&**self).finish()
    }
}

impl<T: Pod + PartialEq> PartialEq for Array<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// The name an [`Array`] travels under: a newtype around its bytes, which MessagePack and JSON
/// write as the bytes alone, and which lets a pool's decoder recognise an `Array`'s visitor
/// (see `words.rs`).
pub(crate) const NEWTYPE: &str = "common::Array";

impl<T: Pod> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        words::note_reclaim::<T>();
        serializer
            .serialize_newtype_struct(NEWTYPE, serde_bytes::Bytes::new(bytemuck::cast_slice(self)))
    }
}

impl<'de, T: Pod> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(NEWTYPE, Raw(PhantomData))
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
        // One copy into memory aligned for `T`: borrowed bytes may not be.
        Ok(Array::from(bytemuck::pod_collect_to_vec(bytes)))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<Array<T>, D::Error> {
        // Kept words a pool's decoder handed over (`words.rs`), else the bytes as they come.
        match words::take_words() {
            Some(words) => {
                let len = words.len() * 8;
                words::array_from_words(words).ok_or_else(|| de::Error::invalid_length(len, &self))
            }
            None => inner.deserialize_byte_buf(self),
        }
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Array<T>, E> {
        // A buffer of its own (a large lone argument or result, see
        // `process_pool/owned_bytes.rs`) is read in place when it is aligned for `T`, as the
        // allocator's large blocks are; else copied.
        Array::received(bytes).or_else(|bytes| self.visit_bytes(&bytes))
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
        crate::codec::push(&mut bytes, &Array::from(values.clone())).unwrap();
        let record = crate::codec::Records::new(&bytes).next().unwrap().unwrap();
        let crate::codec::Record::Value(body) = record else {
            panic!("a value record");
        };
        let back: Array<T> = crate::codec::decode(body).unwrap();
        assert_eq!(back.into_inner(), values);
    }

    #[test]
    fn numbers_travel_as_their_bytes_and_come_back_exact() {
        round_trip(vec![0.5f64, -0.0, f64::INFINITY, f64::MIN_POSITIVE, 1e300]);
        round_trip(Vec::<u64>::new());
        round_trip((0..1001u32).collect());
        round_trip(vec![[1u8, 2, 3]; 7]); // odd sizes, no alignment to speak of
        let nan = f64::from_bits(0x7ff8_dead_beef_0001);
        let mut bytes = Vec::new();
        crate::codec::push(&mut bytes, &Array::from(vec![nan])).unwrap();
        // The payload is the value's 8 bytes, as they are in memory.
        assert!(bytes.windows(8).any(|w| w == nan.to_ne_bytes()));
    }

    #[test]
    fn an_aligned_buffer_of_its_own_is_read_in_place() {
        let bytes: Vec<u8> = (0..4096u32)
            .flat_map(|i| f64::from(i).to_ne_bytes())
            .collect();
        let at = bytes.as_ptr();
        let aligned = (at as usize).is_multiple_of(std::mem::align_of::<f64>());
        let mut array = Raw::<f64>(PhantomData)
            .visit_byte_buf::<serde::de::value::Error>(bytes)
            .unwrap();
        assert_eq!(array.len(), 4096);
        assert_eq!(array[4095], 4095.0);
        // In place exactly when the allocator's block was aligned for `f64` (it is, on glibc).
        assert_eq!(array.as_ptr().cast::<u8>() == at, aligned);
        array[0] = -1.0;
        assert_eq!(array.clone().into_inner()[..2], [-1.0, 1.0]);
        let odd = Raw::<f64>(PhantomData).visit_byte_buf::<serde::de::value::Error>(vec![0; 12]);
        assert!(odd.is_err(), "12 bytes are not whole f64s");
    }

    #[test]
    fn a_length_that_is_not_whole_elements_is_refused() {
        let refused: Result<Array<u64>, _> = serde_json::from_str("[1, 2, 3]");
        assert!(refused.is_err(), "3 bytes are not a u64");
        let read: Array<u16> = serde_json::from_str("[1, 0, 2, 0]").unwrap();
        assert_eq!(
            read.into_inner(),
            vec![u16::from_ne_bytes([1, 0]), u16::from_ne_bytes([2, 0])]
        );
    }
}
