//! A worker's answer, encoded into a buffer the worker keeps from task to task, behind room for
//! the message's head, and sent in one `write`.
//!
//! Measured reason. Clock reads in the worker, 596 round trips after 10 ms idle on the 2-core
//! machine (load 1.5-2), `cargo bench -p common --bench compare -- --only transport`: from the
//! frame read to the answer written took 11.9 µs (1.6 µs hot). Of it, 3.0 µs went to encoding
//! a `u64` result into a fresh vector (its first allocation after idling), 0.8 µs to counting
//! that result's size first (is it large enough to stream?), and 1.75 µs to building the
//! message (two more fresh vectors, the head and the whole message, and a copy of the results
//! into it); the `write` itself took 3.2 µs. The echo peer that the round trip is measured
//! against reads and writes into a buffer it keeps, and allocates nothing. Now the results are
//! encoded once, into this kept buffer, right after room for the head, which is filled in
//! afterwards: no allocation, no count and no copy for a small answer, and one `write`
//! whatever its size (a large one went out in two before, to spare the copy).
//!
//! Measured with this built, the same probe alternating with the build before (597 rounds
//! each): 8.8 µs from the frame read to the answer written (before 11.9 µs): the encoding
//! 1.9 µs, the head 0.3 µs, the write 3.1 µs. Hot: 1.4 µs (before 1.6 µs). The bench
//! (`--only transport`, 28 runs alternating with the build before, load 0.2-3): after 10 ms
//! idle 1.47x the ping-pong, median of the 28 (before 1.54x), lower in 22 of the 28 pairs;
//! after 1 ms idle 1.27x (before 1.38x, 22 of 28); hot and 10^4 submits within the noise; the
//! worker's peak memory for 64 MiB there and back stays 1.00x the payload.
//!
//! A lone result is encoded with a bound ([`push_small`]): one that reaches the size worth
//! streaming (`streamed.rs`) stops there and takes the streamed path, as before.
//!
//! Memory stays bounded: a buffer that grew past [`KEEP`] for a large batch is kept while
//! batches keep coming (fresh memory is what large payloads pay for, see `kept.rs`) and freed
//! after `kept::IDLE` without one, so an idle worker does not sit on the memory of its largest
//! batch.

use super::message::{done_head, DONE_HEAD};
use super::streamed::WORTH_IT;
use crate::codec::{self, Bounded, RECORD_HEAD, VALUE};
use crate::{panics, Error};
use serde::Serialize;
use std::io::{self, Write};

/// A kept buffer (the answer's, or the worker's receive buffer) larger than this is freed once
/// the worker is idle: together an idle worker keeps at most twice this.
pub(super) const KEEP: usize = 8 << 20;

/// The room a small answer starts with; it grows once if a batch's results need more.
const FIRST_ROOM: usize = 4096;

/// The buffer a worker encodes each answer into.
pub(super) struct Answer(Vec<u8>);

impl Answer {
    pub(super) fn new() -> Answer {
        Answer(Vec::with_capacity(FIRST_ROOM))
    }

    /// Starts the next answer: the buffer, emptied but for room for the head, for the results
    /// to be appended to.
    pub(super) fn records(&mut self) -> &mut Vec<u8> {
        self.0.clear();
        self.0.extend_from_slice(&[0; DONE_HEAD]);
        &mut self.0
    }

    /// Fills in the head of a `Done` message in front of the results appended since
    /// [`Self::records`], and sends the whole message in one `write`.
    ///
    /// # Errors
    /// The write's error, or results of 4 GiB or more.
    pub(super) fn send_done(
        &mut self,
        out: &mut impl Write,
        start: u64,
        end: u64,
    ) -> io::Result<()> {
        let head = done_head(start, end, self.0.len() - DONE_HEAD)?;
        self.0[..DONE_HEAD].copy_from_slice(&head);
        out.write_all(&self.0)
    }

    /// Whether the buffer grew past [`KEEP`] (to be freed once the worker is idle).
    pub(super) fn is_large(&self) -> bool {
        is_large(&self.0)
    }

    /// Frees the buffer if it grew past [`KEEP`].
    pub(super) fn trim(&mut self) {
        trim(&mut self.0);
    }
}

/// Whether `buf` grew past [`KEEP`].
pub(super) fn is_large(buf: &Vec<u8>) -> bool {
    buf.capacity() > KEEP
}

/// Frees `buf` if it grew past [`KEEP`]; a smaller one stays, for the next task.
pub(super) fn trim(buf: &mut Vec<u8>) {
    if is_large(buf) {
        *buf = Vec::new();
    }
}

/// Appends the lone result `value` as one record if its encoding is smaller than the size worth
/// streaming; else leaves `out` as it was and returns `false`, and the caller streams it.
///
/// A `Serialize` that fails or panics makes the record a failure carrying its error, as
/// [`push_item`](super::call::push_item) does.
pub(crate) fn push_small<T: Serialize>(out: &mut Vec<u8>, value: &T) -> bool {
    let start = out.len();
    out.push(VALUE);
    out.extend_from_slice(&[0; 4]); // the length, filled in below
    let mut large = false;
    let bounded = Bounded {
        out: &mut *out,
        room: WORTH_IT - 1,
        large: &mut large,
    };
    let error = match panics::catch(move || codec::encode_value(bounded, value)) {
        _ if large => {
            out.truncate(start);
            return false;
        }
        Ok(Ok(())) => {
            // It fits in a u32: the value is under `WORTH_IT` bytes.
            let len = (out.len() - start - RECORD_HEAD) as u32;
            out[start + 1..start + RECORD_HEAD].copy_from_slice(&len.to_le_bytes());
            return true;
        }
        Ok(Err(refused)) => Error::Serde(format!("encoding a result: {refused}")),
        Err(panicked) => panicked,
    };
    out.truncate(start);
    codec::push_failure(out, &error);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_bytes::ByteBuf;

    #[test]
    fn a_small_result_is_the_record_push_would_make() {
        for value in [
            ByteBuf::from(vec![]),
            ByteBuf::from(vec![1; 100]),
            ByteBuf::from(vec![2; WORTH_IT - 4]), // with its 3-byte bin 16 head: WORTH_IT - 1
        ] {
            let (mut small, mut pushed) = (vec![9], vec![9]);
            assert!(push_small(&mut small, &value));
            codec::push(&mut pushed, &value).unwrap();
            assert_eq!(small, pushed);
        }
    }

    #[test]
    fn a_result_worth_streaming_leaves_the_buffer_as_it_was() {
        let mut out = vec![9];
        assert!(!push_small(&mut out, &ByteBuf::from(vec![2; WORTH_IT - 3])));
        assert!(!push_small(&mut out, &"x".repeat(3 * WORTH_IT)));
        assert_eq!(out, [9]);
    }

    #[test]
    fn a_result_that_fails_or_panics_to_encode_becomes_a_failure_record() {
        struct Bad(bool);
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                assert!(!self.0, "cannot encode");
                Err(serde::ser::Error::custom("refusing to encode"))
            }
        }
        for (bad, says) in [
            (Bad(false), "refusing to encode"),
            (Bad(true), "cannot encode"),
        ] {
            let mut out = vec![9];
            assert!(push_small(&mut out, &bad));
            let mut records = codec::Records::new(&out[1..]);
            let Some(Ok(codec::Record::Failure(bytes))) = records.next() else {
                panic!("a failure record")
            };
            let error: Error = codec::decode(bytes).unwrap();
            assert!(format!("{error:?}").contains(says), "{error:?}");
            assert!(records.next().is_none());
        }
    }

    #[test]
    fn an_answer_is_one_message_and_a_large_buffer_is_kept_until_trimmed() {
        let mut answer = Answer::new();
        let mut kept = None;
        for len in [10, 20, KEEP + 1, 10, 10] {
            answer.records().extend(std::iter::repeat_n(3u8, len));
            let mut line = Vec::new();
            answer.send_done(&mut line, 1, 2).unwrap();
            assert_eq!(line[..DONE_HEAD], done_head(1, 2, len).unwrap());
            assert!(line.len() == DONE_HEAD + len && line[DONE_HEAD..].iter().all(|&b| b == 3));
            if len < KEEP {
                // The answers share one buffer, the large one's once it has grown.
                assert_eq!(*kept.get_or_insert(answer.0.as_ptr()), answer.0.as_ptr());
            } else {
                assert!(answer.is_large(), "kept while batches keep coming");
                kept = Some(answer.0.as_ptr());
            }
            if len == 10 && answer.is_large() {
                answer.trim(); // the worker went idle
                assert_eq!(answer.0.capacity(), 0, "freed");
                kept = None;
            }
        }
    }
}
