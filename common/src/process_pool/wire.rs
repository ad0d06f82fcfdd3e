//! What travels from a pool to its workers: batches, as raw byte frames.
//!
//! A frame is built once, on the caller's thread, and sent from a borrowed slice: a 64 MiB
//! argument is not copied again for the trip, nor for a retry. Several frames can travel
//! back to back (see [`records`]); the process pool's own line (`link.rs`) reads them one at a
//! time from its socket.

use super::streamed::Streamed;
use serde::{Deserialize, Serialize};

/// A function to call, as distances from an anchor (see `call`), and the build they belong to.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Call {
    /// The fingerprint of the build that computed the distances (see `call/build_id.rs`): a
    /// worker of another build calls nothing.
    pub build: u64,
    pub trampoline: i64,
    pub func: i64,
}

impl Call {
    /// Appends the call as a frame's body begins: build, trampoline, function, little-endian
    /// ([`CALL_LEN`] bytes).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.build.to_le_bytes());
        out.extend_from_slice(&self.trampoline.to_le_bytes());
        out.extend_from_slice(&self.func.to_le_bytes());
    }
}

/// Builds a batch's frame: its length (4 bytes), the call (with its build), then one record per item (see
/// [`crate::codec`]). The length comes first so that several frames can travel in one message
/// (see [`records`]) while a single frame is already a whole message, sent without a copy.
///
/// An item whose `Serialize` panics or fails becomes a failure record carrying its error: the
/// worker answers it with that error, and its batch-mates run as usual.
pub(crate) fn frame<A: serde::Serialize>(call: Call, items: &[A]) -> Result<Vec<u8>, String> {
    // The header, then about 16 bytes per small item; a large item grows the buffer once.
    let mut frame = Vec::with_capacity(4 + CALL_LEN + 16 * items.len());
    frame.extend_from_slice(&[0; 4]);
    call.write_to(&mut frame);
    for item in items {
        super::call::push_item(&mut frame, item, "an argument");
    }
    let len = u32::try_from(frame.len() - 4).map_err(|_| "a batch of 4 GiB or more".to_string())?;
    frame[..4].copy_from_slice(&len.to_le_bytes());
    Ok(frame)
}

/// As [`frame`], for items the caller gives up: a batch of one item that encodes large keeps
/// the item itself, to be encoded straight onto the line when sent (see `streamed.rs`). The
/// frame then holds only its length and the call, and the item follows it.
pub(crate) fn frame_owned<A: Serialize + Send + 'static>(
    call: Call,
    mut items: Vec<A>,
) -> Result<(Vec<u8>, Option<Streamed>), String> {
    if items.len() == 1 {
        if let Some(item) = items.pop() {
            match Streamed::try_new(item) {
                Ok(tail) => {
                    let len = u32::try_from(CALL_LEN + tail.len())
                        .map_err(|_| "a batch of 4 GiB or more".to_string())?;
                    let mut head = Vec::with_capacity(4 + CALL_LEN);
                    head.extend_from_slice(&len.to_le_bytes());
                    call.write_to(&mut head);
                    return Ok((head, Some(tail)));
                }
                Err(item) => items.push(item),
            }
        }
    }
    frame(call, &items).map(|frame| (frame, None))
}

/// Splits a message into its frames' bodies (after each length); `None` if it is malformed.
pub(crate) fn records(mut message: &[u8]) -> Option<Vec<&[u8]>> {
    let mut bodies = Vec::new();
    while !message.is_empty() {
        let (len, rest) = message.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (body, rest) = rest.split_at(len);
        bodies.push(body);
        message = rest;
    }
    Some(bodies)
}

/// The bytes a call takes at the start of a frame's body: the build's fingerprint and two
/// distances, 8 bytes each.
pub(crate) const CALL_LEN: usize = 24;

/// Splits a frame's body into its call and its encoded items; `None` if too short for a call.
pub(crate) fn unframe(body: &[u8]) -> Option<(Call, &[u8])> {
    let (build, rest) = body.split_first_chunk::<8>()?;
    let (trampoline, rest) = rest.split_first_chunk::<8>()?;
    let (func, input) = rest.split_first_chunk::<8>()?;
    Some((
        Call {
            build: u64::from_le_bytes(*build),
            trampoline: i64::from_le_bytes(*trampoline),
            func: i64::from_le_bytes(*func),
        },
        input,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_back_into_calls_and_items() {
        let (a, b) = (
            Call {
                build: 0x1a2b_3c4d_5e6f_7a8b,
                trampoline: -5,
                func: 1 << 40,
            },
            Call {
                build: 1,
                trampoline: 3,
                func: 4,
            },
        );
        let one = frame(a, &[7u32, 8]).unwrap();
        let two = frame(b, &["x".to_string()]).unwrap();
        let message = [one.clone(), two].concat();
        let bodies = records(&message).unwrap();
        assert_eq!(bodies.len(), 2);
        let (call, input) = unframe(bodies[0]).unwrap();
        assert_eq!(
            (call.build, call.trampoline, call.func),
            (0x1a2b_3c4d_5e6f_7a8b, -5, 1 << 40)
        );
        assert_eq!(items::<u32>(input), vec![7, 8]);
        assert_eq!(items::<String>(unframe(bodies[1]).unwrap().1), vec!["x"]);
        assert_eq!(
            records(&one).unwrap().len(),
            1,
            "a single frame is a whole message"
        );
        assert!(
            records(&message[..message.len() - 1]).is_none(),
            "a cut message is refused"
        );
        assert!(unframe(&bodies[0][..CALL_LEN - 1]).is_none());
    }

    /// The items of a frame's body, decoded (each is a record, see `crate::codec`).
    fn items<T: serde::de::DeserializeOwned>(input: &[u8]) -> Vec<T> {
        let records = crate::codec::Records::new(input);
        let decode = |r| match r {
            Ok(crate::codec::Record::Value(bytes)) => crate::codec::decode(bytes).unwrap(),
            other => panic!("not a value record: {other:?}"),
        };
        records.map(decode).collect()
    }
}
