//! How a [`Shared`] travels: the three forms of `shared`'s module doc (the value, a file's
//! reference, a key), under one serde name, so that any form decodes wherever a `Shared` is
//! expected.

use super::{cache, file, keyed, pins::pin, Shared};
use bytemuck::Pod;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::{ByteBuf, Bytes};

/// The three forms on the wire (`shared`'s module doc); one name, so any decodes as the others.
/// (A new form goes last: a variant travels as its index.)
#[derive(Serialize)]
#[serde(rename = "Shared")]
pub(super) enum Written<'a, T: ?Sized> {
    Inline(&'a T),
    Reference(file::Reference),
    Keyed(u64),
}

#[derive(Deserialize)]
#[serde(rename = "Shared")]
enum Read<T> {
    Inline(T),
    Reference(file::Reference),
    Keyed(u64),
}

impl<T: Serialize + Send + Sync + 'static> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.inner.file(), self.inner.key()) {
            (Some(file), _) if pin(self) => Written::<T>::Reference(file.reference()),
            (_, Some(key)) if keyed::pin(self, key.pool) => Written::Keyed(key.id),
            _ => Written::Inline(self.inner.value()),
        }
        .serialize(serializer)
    }
}

impl<'de, T: DeserializeOwned + Send + Sync + 'static> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Read::<T>::deserialize(deserializer)? {
            Read::Inline(value) => Ok(Shared::in_memory(value)),
            Read::Reference(at) => cache::resolve(&at).map_err(serde::de::Error::custom),
            Read::Keyed(id) => keyed::resolve(id, |bytes| {
                crate::codec::decode::<T>(bytes).map(Shared::in_memory)
            })
            .map_err(serde::de::Error::custom),
        }
    }
}

/// Plain data travels inline as one byte string, as [`Array`](crate::Array) does.
impl<P: Pod + Send + Sync> Serialize for Shared<[P]> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.inner.file(), self.inner.key()) {
            (Some(file), _) if pin(self) => Written::<Bytes>::Reference(file.reference()),
            (_, Some(key)) if keyed::pin(self, key.pool) => Written::Keyed(key.id),
            _ => Written::Inline(Bytes::new(bytemuck::cast_slice(self.inner.value()))),
        }
        .serialize(serializer)
    }
}

impl<'de, P: Pod + Send + Sync> Deserialize<'de> for Shared<[P]> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        // Zero-sized items have no bytes to count them by: refused, never divided by.
        let size = std::mem::size_of::<P>();
        match Read::<ByteBuf>::deserialize(deserializer)? {
            Read::Inline(bytes) if size > 0 && bytes.len() % size == 0 => Ok(
                Shared::slice_in_memory(bytemuck::pod_collect_to_vec::<u8, P>(&bytes)),
            ),
            Read::Inline(bytes) => Err(D::Error::custom(format!(
                "{} bytes are not a whole number of {}-byte items",
                bytes.len(),
                std::mem::size_of::<P>()
            ))),
            Read::Reference(_) | Read::Keyed(_) if size == 0 => {
                Err(D::Error::custom("zero-sized items"))
            }
            Read::Reference(at) => cache::resolve_slice(&at).map_err(D::Error::custom),
            Read::Keyed(id) => keyed::resolve(id, |bytes| match bytes.len() % size {
                0 => Ok(Shared::slice_in_memory(
                    bytemuck::pod_collect_to_vec::<u8, P>(bytes),
                )),
                _ => Err(format!(
                    "{} shared bytes are not a whole number of {size}-byte items",
                    bytes.len()
                )),
            })
            .map_err(D::Error::custom),
        }
    }
}
