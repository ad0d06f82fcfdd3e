//! A large byte string received into a buffer of its own, which then becomes the value.
//!
//! Why this exists, measured on the 2-core development machine (load about 9): a 64 MiB
//! `ByteBuf` decoded the ordinary way is copied out of the receive buffer into a fresh
//! allocation, and filling those 16,384 fresh pages cost 37-59 ms, more than the whole raw
//! socket transfer it rides on (34-87 ms there and back). Taking the receive buffer itself as
//! the value, after moving its 10 header bytes out of the way, brought 64 MiB there and back
//! from 162 ms to 79 ms; that move was itself a copy of the whole payload, so the reader now
//! reads the header apart and the payload into a buffer of its own ([`opens_lone_byte_string`]):
//! 47-62 ms in most runs, against 34-43 ms for the raw socket (the transport bench).
//!
//! This applies to a batch of one item that is one byte string and nothing else (a task taking
//! or returning `ByteBuf`). Only `deserialize_bytes` and `deserialize_byte_buf` take the
//! buffer; any other request gets the ordinary MessagePack decoder over the same value, so
//! every type decodes exactly as it always did (see the parity test below).

use super::kept::Buf;
use crate::array::words;
use crate::codec;
use serde::de::{DeserializeOwned, Deserializer, Visitor};

/// What a batch's items, or its results, arrived as.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Records (see [`crate::codec`]), as they travel.
    Records(Vec<u8>),
    /// One record holding one large byte string: only the string's bytes, received apart
    /// (into kept words, for an `Array` that comes back into its own memory: see `kept.rs`).
    ByteString(Buf),
}

/// The bytes in front of a lone byte string's payload: the record's tag and 4-byte length, then
/// MessagePack's `bin 32` marker and 4-byte length.
pub(crate) const LONE_HEAD: usize = 10;

/// Byte strings at least this long are received apart; below, a copy costs next to nothing.
pub(crate) const WORTH_IT: usize = 64 * 1024;

/// MessagePack's marker for a byte string with a 4-byte length (`bin 32`).
const BIN32: u8 = 0xc6;

/// Whether `head`, the first bytes of records `total` bytes long, opens a single value record
/// holding one byte string that fills the rest, long enough to receive apart.
pub(crate) fn opens_lone_byte_string(head: &[u8; LONE_HEAD], total: usize) -> bool {
    let [tag, r0, r1, r2, r3, marker, b0, b1, b2, b3] = *head;
    let record = u32::from_le_bytes([r0, r1, r2, r3]) as usize;
    let string = u32::from_be_bytes([b0, b1, b2, b3]) as usize;
    tag == codec::VALUE
        && marker == BIN32
        && record + 5 == total
        && string + LONE_HEAD == total
        && string >= WORTH_IT
}

/// The record head a lone byte string of `len` bytes travels behind (the inverse of
/// [`opens_lone_byte_string`]).
pub(crate) fn lone_head(len: usize) -> Option<[u8; LONE_HEAD]> {
    let string = u32::try_from(len).ok()?;
    let record = u32::try_from(len + 5).ok()?;
    let mut head = [codec::VALUE, 0, 0, 0, 0, BIN32, 0, 0, 0, 0];
    head[1..5].copy_from_slice(&record.to_le_bytes());
    head[6..].copy_from_slice(&string.to_be_bytes());
    Some(head)
}

/// Decodes a `T` from a lone byte string's bytes, which become the value if `T` asks for bytes;
/// kept words become an `Array`'s own vector (see `kept.rs`, `crate::array`).
pub(crate) fn decode<T: DeserializeOwned>(payload: Buf) -> Result<T, String> {
    T::deserialize(Payload(payload)).map_err(|e| e.to_string())
}

/// A deserializer over one MessagePack byte string that owns the string's memory: bytes, or
/// kept words, which only an `Array`'s visitor takes as they are.
struct Payload(Buf);

impl Payload {
    /// The value as MessagePack encodes it, for the ordinary decoder (a copy: only types that
    /// do not ask for bytes come here).
    fn encoded(self) -> Vec<u8> {
        let bytes = self.0.as_bytes();
        let mut out = Vec::with_capacity(bytes.len() + 5);
        out.push(BIN32);
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
        out
    }

    /// The string's bytes: its own buffer, or a copy of kept words (for a type that is not an
    /// `Array`).
    fn into_bytes(self) -> Vec<u8> {
        match self.0 {
            Buf::Bytes(bytes) => bytes,
            Buf::Words(words) => bytemuck::cast_slice(&words).to_vec(),
        }
    }
}

/// Every request but bytes (and a newtype's, passed through as rmp-serde passes it) goes to
/// rmp-serde's decoder, over the value's own encoding.
macro_rules! ordinary {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            let encoded = self.encoded();
            let mut ordinary = rmp_serde::Deserializer::new(&encoded[..]).with_human_readable();
            (&mut ordinary).$method($($arg,)* visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for Payload {
    type Error = rmp_serde::decode::Error;

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_byte_buf(self.into_bytes())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_byte_buf(self.into_bytes())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let Payload(Buf::Words(words)) = self else {
            // As rmp-serde does for every name but its extension type's, which a lone byte
            // string is not: the newtype reads the string itself (an `Array` then takes the
            // buffer).
            return visitor.visit_newtype_struct(self);
        };
        if name != crate::array::NEWTYPE {
            return visitor.visit_newtype_struct(Payload(Buf::Words(words)));
        }
        let (value, taken) = words::hand_over(words, || {
            visitor.visit_newtype_struct(Payload(Buf::Bytes(Vec::new())))
        });
        if !taken {
            return Err(serde::de::Error::custom(
                "an array's visitor left its words",
            ));
        }
        value
    }

    fn is_human_readable(&self) -> bool {
        true // as the encoder said (see `crate::codec`)
    }

    ordinary! {
        deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16();
        deserialize_i32(); deserialize_i64(); deserialize_i128(); deserialize_u8();
        deserialize_u16(); deserialize_u32(); deserialize_u64(); deserialize_u128();
        deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str();
        deserialize_string(); deserialize_option(); deserialize_unit(); deserialize_seq();
        deserialize_map(); deserialize_identifier(); deserialize_ignored_any();
        deserialize_unit_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_bytes::ByteBuf;

    /// A value as a batch of one carries it: one record.
    fn record<T: serde::Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        codec::push(&mut out, value).unwrap();
        out
    }

    #[test]
    fn a_large_byte_string_is_recognised_and_becomes_its_own_buffer() {
        let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let out = record(&ByteBuf::from(payload.clone()));
        let head: [u8; LONE_HEAD] = out[..LONE_HEAD].try_into().unwrap();
        assert!(opens_lone_byte_string(&head, out.len()));
        assert_eq!(lone_head(payload.len()), Some(head));
        let value: ByteBuf = decode(Buf::Bytes(out[LONE_HEAD..].to_vec())).unwrap();
        assert_eq!(value.into_vec(), payload);
    }

    #[test]
    fn small_or_composite_values_are_not_taken_apart() {
        let lone = |out: &[u8]| opens_lone_byte_string(out[..10].try_into().unwrap(), out.len());
        assert!(!lone(&record(&ByteBuf::from(vec![1; 1000]))));
        assert!(!lone(&record(&(ByteBuf::from(vec![1; 100_000]), 5u8))));
        let mut two = record(&ByteBuf::from(vec![1; 100_000]));
        two.extend(record(&1u8));
        assert!(!lone(&two), "a second record follows");
    }

    /// Every other type decodes as the ordinary decoder would decode it: same value, or error.
    #[test]
    fn other_types_decode_as_they_always_did() {
        let bytes = ByteBuf::from(vec![b'a'; 70_000]);
        let out = record(&bytes);
        let value = &out[5..];
        let ordinary = |value: &[u8]| {
            let as_vec: Result<Vec<u8>, _> = codec::decode(value);
            let as_string: Result<String, _> = codec::decode(value);
            (as_vec, as_string)
        };
        let (as_vec, as_string) = ordinary(value);
        let payload = Buf::Bytes(out[LONE_HEAD..].to_vec());
        let bytes_again = || Buf::Bytes(out[LONE_HEAD..].to_vec());
        assert_eq!(decode::<Vec<u8>>(bytes_again()), as_vec);
        assert_eq!(decode::<String>(bytes_again()), as_string);
        assert_eq!(decode::<Option<ByteBuf>>(payload), Ok(Some(bytes)));
    }
}
