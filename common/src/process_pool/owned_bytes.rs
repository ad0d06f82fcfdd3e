//! A large byte string decoded without a copy: the received buffer becomes the value.
//!
//! Why this exists, measured on the 2-core development machine (load about 9): a 64 MiB
//! `ByteBuf` result decoded the ordinary way is copied out of the receive buffer into a fresh
//! allocation, and filling those fresh 16,384 pages cost 37-59 ms, more than the whole raw
//! socket transfer it rides on (34-87 ms there and back). For a result that is one byte string
//! and nothing else (a task returning `ByteBuf`), the receive buffer already holds exactly the
//! bytes: moving its few header bytes out of the way (one `memmove` in memory already touched)
//! and handing the buffer over costs a fraction of that, and the pool never holds the payload
//! twice.
//!
//! Only `deserialize_bytes` and `deserialize_byte_buf` take the buffer; every other request
//! goes to the ordinary MessagePack decoder over the same bytes, so any type decodes exactly as
//! it would have (see the parity test below).

use serde::de::{DeserializeOwned, Deserializer, Visitor};

/// Below this, the ordinary decode is as fast; above, the copy it saves starts to count.
const WORTH_IT: usize = 64 * 1024;

/// If `value` (one MessagePack value) is a single byte string filling it exactly and large
/// enough to be worth taking, the length of its header (marker and length).
fn byte_string_header(value: &[u8]) -> Option<usize> {
    let (&marker, rest) = value.split_first()?;
    let (len, header) = match marker {
        0xc5 => (usize::from(u16::from_be_bytes(*rest.first_chunk()?)), 3),
        0xc6 => (
            usize::try_from(u32::from_be_bytes(*rest.first_chunk()?)).ok()?,
            5,
        ),
        _ => return None, // bin 8 (0xc4) holds at most 255 bytes: never worth it
    };
    (len >= WORTH_IT && header + len == value.len()).then_some(header)
}

/// Decodes the value in `buf[at..]` (which runs to the end of `buf`), taking `buf` itself as
/// the value when it is one large byte string that the type asks for as bytes. `None` when it
/// is not such a string: the caller decodes the ordinary way.
pub(crate) fn decode<T: DeserializeOwned>(
    buf: &mut Vec<u8>,
    at: usize,
) -> Option<Result<T, String>> {
    let header = byte_string_header(buf.get(at..)?)?;
    let value = T::deserialize(Owned {
        buf,
        start: at,
        payload: at + header,
    });
    Some(value.map_err(|e| e.to_string()))
}

/// A deserializer over one MessagePack byte string that owns the buffer holding it.
struct Owned<'a> {
    buf: &'a mut Vec<u8>,
    /// Where the value (its marker) starts in `buf`.
    start: usize,
    /// Where the string's bytes start in `buf` (they run to its end).
    payload: usize,
}

/// Every request but bytes goes to rmp-serde's decoder, reading the same value from `buf`.
macro_rules! ordinary {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            let mut ordinary =
                rmp_serde::Deserializer::new(&self.buf[self.start..]).with_human_readable();
            (&mut ordinary).$method($($arg,)* visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for Owned<'_> {
    type Error = rmp_serde::decode::Error;

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // The header goes (a `memmove` of the payload, in memory already touched); the
        // buffer, exactly the string's bytes now, becomes the value.
        self.buf.drain(..self.payload);
        visitor.visit_byte_buf(std::mem::take(self.buf))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_byte_buf(visitor)
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
        deserialize_newtype_struct(name: &'static str);
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

    fn encoded<T: serde::Serialize>(value: &T) -> Vec<u8> {
        let mut out = vec![0xee; 7]; // something before the value, as a record header would be
        let mut encoder = rmp_serde::Serializer::new(&mut out).with_human_readable();
        value.serialize(&mut encoder).unwrap();
        out
    }

    #[test]
    fn a_large_byte_string_becomes_the_buffer_itself() {
        let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut buf = encoded(&ByteBuf::from(payload.clone()));
        let value: ByteBuf = decode(&mut buf, 7).unwrap().unwrap();
        assert_eq!(value.into_vec(), payload);
    }

    /// Every other type decodes as the ordinary decoder would decode it: same value, or error.
    #[test]
    fn other_types_decode_as_they_always_did() {
        let bytes = ByteBuf::from(vec![b'a'; 70_000]);
        let ordinary = |buf: &[u8]| {
            let mut d = rmp_serde::Deserializer::from_read_ref(&buf[7..]).with_human_readable();
            (
                <Vec<u8> as serde::Deserialize>::deserialize(&mut d).map_err(|e| e.to_string()),
                <String as serde::Deserialize>::deserialize(
                    &mut rmp_serde::Deserializer::from_read_ref(&buf[7..]).with_human_readable(),
                )
                .map_err(|e| e.to_string()),
            )
        };
        let buf = encoded(&bytes);
        let (as_vec, as_string) = ordinary(&buf);
        assert_eq!(decode::<Vec<u8>>(&mut buf.clone(), 7).unwrap(), as_vec);
        assert_eq!(decode::<String>(&mut buf.clone(), 7).unwrap(), as_string);
        let option: Option<ByteBuf> = decode(&mut buf.clone(), 7).unwrap().unwrap();
        assert_eq!(option, Some(bytes));
    }

    #[test]
    fn small_or_composite_values_are_left_to_the_ordinary_decoder() {
        assert!(decode::<ByteBuf>(&mut encoded(&ByteBuf::from(vec![1; 100])), 7).is_none());
        let pair = (ByteBuf::from(vec![1; 100_000]), 5u8);
        assert!(decode::<(ByteBuf, u8)>(&mut encoded(&pair), 7).is_none());
    }
}
