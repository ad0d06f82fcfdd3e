//! How a [`ProcessPool`](crate::ProcessPool) turns arguments and results into bytes: MessagePack,
//! one length-prefixed record per item.
//!
//! # Why MessagePack
//!
//! A thread worker receives the value itself; a process worker receives its encoding. For the
//! same code to give the same results on both pools, the encoding must bring back every value
//! that serde can round-trip through some format, and serde's richer features only round-trip
//! through a *self-describing* one: untagged, internally and adjacently tagged enums,
//! `#[serde(flatten)]` and `serde_json::Value` all call `deserialize_any`, and
//! `skip_serializing_if` leaves fields out, which only a format with field names notices.
//! postcard (what this pool used before) is not self-describing and fails on all of them.
//!
//! MessagePack (the `rmp-serde` crate) is: each value carries its type, structs travel as maps
//! with their field names (`with_struct_map`), and a `serde_bytes` buffer travels as one binary
//! blob, copied with `memcpy`. The encoder also claims to be *human-readable*
//! (`with_human_readable`), as serde_json is: types that encode differently for people and
//! machines (`SocketAddr`, `IpAddr`, ...) take the path JSON takes, which is the one serde's
//! untagged enums can decode. CBOR (ciborium) is the other self-describing candidate; it was not
//! tried, as MessagePack passed every case.
//!
//! The parity is checked case by case in `common/tests/serde_parity.rs`. Beyond JSON, NaN and
//! the infinities travel exactly (MessagePack has IEEE floats; serde_json refuses them);
//! `u128`/`i128` travel as 16 bytes.
//!
//! # What it costs
//!
//! `cargo bench -p common --bench codec`: encode + decode of one batch, medians of 11 runs, two
//! runs on 2 busy cores (load average 8-9, so take ±20 %):
//!
//! | batch                                   | ours         | postcard     | ours/postcard |
//! |-----------------------------------------|--------------|--------------|---------------|
//! | 10^4 `u64`                              | 142-176 µs   | 82.4 µs      | 1.7-2.1x      |
//! | 10^4 small structs (u64, 2 f64, String) | 1.15-1.17 ms | 529-533 µs   | 2.2x          |
//! | one 64 MiB `ByteBuf`                    | 165-224 ms   | 226-267 ms   | 0.7-0.8x      |
//! | one 1 MiB plain `Vec<u8>`               | 14.8-18.1 ms | 1.49 ms      | 10-12x        |
//!
//! Small items cost about twice postcard's time, and 2.6x (u64) or 1.8x (structs) its bytes:
//! each value carries its type and each struct its field names, which is exactly what makes
//! tagged enums and `skip_serializing_if` work, and each item is a record of its own. For 10^4
//! items that is under a millisecond per `map`. A `serde_bytes` buffer is one `memcpy` either
//! way. A plain `Vec<u8>` (without `serde_bytes`) is a sequence of numbers in serde's data
//! model, in every format, here 10x slower than postcard's: mark byte buffers
//! `#[serde(with = "serde_bytes")]` or use `ByteBuf`. (rmp-serde can write such a `Vec` as
//! binary, `BytesMode::ForceIterables`, but then it no longer decodes inside an untagged enum
//! or a `serde_json::Value`: parity first.)
//!
//! # Records
//!
//! A batch is a run of records, one per item, so that each item is encoded and decoded on its
//! own: an item whose `Serialize` or `Deserialize` panics or fails becomes an error for that
//! item alone, and the rest of its batch goes on. A record is a tag byte, a 4-byte
//! little-endian length, and that many bytes:
//!
//! - tag [`VALUE`]: the MessagePack encoding of the item;
//! - tag [`FAILURE`]: the MessagePack encoding of the [`Error`](crate::Error) that replaced it
//!   (its argument could not be encoded, so the worker skips it; or it failed in the worker).
//!
//! # Where the process boundary differs
//!
//! What serde itself does not carry, a process worker does not get; `tests/serde_parity.rs`
//! shows each case:
//!
//! - A `#[serde(skip)]` field is not encoded, so in a process worker (and in a result that
//!   comes back from one) it holds its `Default`; a thread worker sees the value itself.
//! - `Some(None)` of an `Option<Option<T>>` and `Some(())` of an `Option<()>` are encoded as
//!   `None` is, and arrive as `None` (as with JSON: such values do not round-trip through it).
//! - A `Serialize` or `Deserialize` that panics or fails makes that item an
//!   [`Error::Panicked`](crate::Error::Panicked) or [`Error::Serde`](crate::Error::Serde) on a
//!   process pool; on a thread pool nothing is encoded, so the same item succeeds.

use crate::process_pool::big_buffer::Growing;
use serde::{de::DeserializeOwned, Serialize};

/// The tag of a record holding an encoded value.
pub(crate) const VALUE: u8 = 0;
/// The tag of a record holding an encoded error in place of a value.
pub(crate) const FAILURE: u8 = 1;

/// Appends a [`VALUE`] record: `value`'s MessagePack encoding, with its tag and length.
///
/// # Errors
/// The encoder's error (a `Serialize` that refused, a value of 4 GiB or more); `out` is then
/// as it was. If `Serialize` panics, the panic goes on, and `out` is also as it was.
pub(crate) fn push<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
    push_record(out, VALUE, value)
}

/// Appends a [`FAILURE`] record carrying `error`.
pub(crate) fn push_failure<E: Serialize>(out: &mut Vec<u8>, error: &E) {
    // Encoding our own error enum into a Vec cannot fail; should it ever, an empty failure
    // record still marks the item as failed (its decoding then reports that it was unreadable).
    if push_record(out, FAILURE, error).is_err() {
        out.push(FAILURE);
        out.extend_from_slice(&0u32.to_le_bytes());
    }
}

fn push_record<T: Serialize + ?Sized>(out: &mut Vec<u8>, tag: u8, value: &T) -> Result<(), String> {
    // Restores `out` on an error and on a panic alike: a half-written record would make the
    // rest of the batch unreadable.
    let mut guard = Rollback {
        start: out.len(),
        out,
    };
    guard.out.push(tag);
    guard.out.extend_from_slice(&[0; 4]); // the length, filled in below
                                          // Through `Growing`, so that a large value's room is asked for in huge pages.
    encode_value(Growing(&mut *guard.out), value)?;
    let len = guard.out.len() - guard.start - RECORD_HEAD;
    let len = u32::try_from(len).map_err(|_| format!("a value of {len} bytes (4 GiB or more)"))?;
    guard.out[guard.start + 1..guard.start + RECORD_HEAD].copy_from_slice(&len.to_le_bytes());
    guard.start = usize::MAX; // done: keep it
    Ok(())
}

/// The bytes before a record's value: its tag and its 4-byte length.
pub(crate) const RECORD_HEAD: usize = 5;

/// Writes `value`'s MessagePack encoding, as records hold it, to `out`.
///
/// # Errors
/// The encoder's error (a `Serialize` that refused, a failed write).
pub(crate) fn encode_value<T: Serialize + ?Sized>(
    out: impl std::io::Write,
    value: &T,
) -> Result<(), String> {
    let mut encoder = rmp_serde::Serializer::new(out)
        .with_struct_map()
        .with_human_readable();
    value.serialize(&mut encoder).map_err(|e| e.to_string())
}

/// Writes the head of a [`VALUE`] record whose value is `len` bytes long.
///
/// # Errors
/// The write's error, or a `len` of 4 GiB or more.
pub(crate) fn write_record_head(out: &mut impl std::io::Write, len: usize) -> std::io::Result<()> {
    let len = u32::try_from(len).map_err(|_| std::io::Error::other("a value of 4 GiB or more"))?;
    out.write_all(&[VALUE])?;
    out.write_all(&len.to_le_bytes())
}

/// Truncates `out` back to `start` when dropped, unless `start` was set to `usize::MAX`.
struct Rollback<'a> {
    start: usize,
    out: &'a mut Vec<u8>,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if self.start != usize::MAX {
            self.out.truncate(self.start);
        }
    }
}

/// Decodes one value from a [`VALUE`] record's bytes (or an error from a [`FAILURE`] record's).
///
/// # Errors
/// The decoder's error, or a `Deserialize` that refused. A panic in `Deserialize` goes on.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut decoder = rmp_serde::Deserializer::from_read_ref(bytes).with_human_readable();
    T::deserialize(&mut decoder).map_err(|e| e.to_string())
}

/// One record of a batch, borrowed from the batch's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    Value(&'a [u8]),
    Failure(&'a [u8]),
}

/// The records of a batch, in order. A malformed record yields `Err` and ends the iteration.
#[derive(Clone)]
pub(crate) struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    pub(crate) fn new(batch: &'a [u8]) -> Records<'a> {
        Records { rest: batch }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&tag, rest) = self.rest.split_first()?;
        let body = rest.split_first_chunk::<4>().and_then(|(len, rest)| {
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            (len <= rest.len()).then(|| rest.split_at(len))
        });
        let Some((body, rest)) = body else {
            self.rest = &[];
            return Some(Err("a record cut short".into()));
        };
        self.rest = rest;
        Some(match tag {
            VALUE => Ok(Record::Value(body)),
            FAILURE => Ok(Record::Failure(body)),
            _ => {
                self.rest = &[];
                Err(format!("a record with an unknown tag {tag}"))
            }
        })
    }
}

/// A `Write` that appends to a vector but refuses to grow it by more than `room` bytes, setting
/// `large` when it refuses: how a value is encoded into a kept buffer only while it is small
/// (a lent task's frame, a worker's answer), and left to be streamed when it is not.
pub(crate) struct Bounded<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) room: usize,
    pub(crate) large: &'a mut bool,
}

impl std::io::Write for Bounded<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if bytes.len() > self.room {
            *self.large = true;
            return Err(std::io::Error::other("large: to be streamed"));
        }
        self.room -= bytes.len();
        self.out.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_failed_push_leaves_nothing() {
        let mut out = Vec::new();
        push(&mut out, &7u64).unwrap();
        push_failure(&mut out, &"boom");
        push(&mut out, &vec!["a", "b"]).unwrap();
        let before = out.clone();
        assert_eq!(push(&mut out, &Refuses), Err("no".to_string()));
        assert_eq!(out, before, "a refused value leaves no bytes behind");
        let records: Vec<_> = Records::new(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 3);
        let Record::Value(seven) = records[0] else {
            panic!("first is a value")
        };
        assert_eq!(decode::<u64>(seven), Ok(7));
        let Record::Failure(boom) = records[1] else {
            panic!("second is a failure")
        };
        assert_eq!(decode::<String>(boom).as_deref(), Ok("boom"));
        assert!(Records::new(&out[..out.len() - 1]).any(|r| r.is_err()));
    }

    /// Starts a sequence, writes one element, then refuses: to check the rollback.
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::{Error, SerializeSeq};
            let mut seq = s.serialize_seq(Some(2))?;
            seq.serialize_element(&1)?;
            Err(S::Error::custom("no"))
        }
    }

    #[test]
    fn a_panicking_serialize_leaves_nothing() {
        struct Bomb;
        impl Serialize for Bomb {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let _ = s.serialize_str("partial");
                panic!("bomb")
            }
        }
        let mut out = Vec::new();
        push(&mut out, &1u8).unwrap();
        let before = out.clone();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = push(&mut out, &Bomb);
        }));
        assert!(caught.is_err());
        assert_eq!(out, before);
    }
}
