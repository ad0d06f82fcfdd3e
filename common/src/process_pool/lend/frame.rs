//! A lent task's frame, encoded into its line's own buffer: no allocation before the write.
//!
//! Measured reason. Timed inside, after 10 ms idle on the 2-core machine (load 1-2), the caller
//! spent 7.7 µs encoding a `u64` task before the write: 3.2 µs for the first allocation after
//! idling (the `vec![arg]` the queued path needs), 1.6 µs counting the encoded size (is it
//! large enough to stream?), 2.7 µs allocating the frame and encoding into it. Everything the
//! caller does before the write adds to the round trip; what it does after overlaps the
//! worker's wake-up. So a lent task is encoded once, straight into a buffer that stays with the
//! line, bounded so that a large value stops early: the first allocation of the round moves
//! after the write (the task's slot), where it overlaps the worker's wake-up.
//!
//! Measured with this built: timed inside, the caller's work before the write fell from
//! 9.0 µs to 5.7 µs after 10 ms idle (the lock and the scan for an idle line are 2.9 µs of
//! it, the encoding 2.8 µs). `cargo bench -p common --bench compare -- --only transport`,
//! ten runs alternating with the build before (load 0.2-0.7): after 10 ms idle 1.525x the
//! ping-pong, median of the ten (before 1.575x), lower in 9 of the 10 pairs; hot and after
//! 1 ms idle unchanged within the noise.
//!
//! A value that encodes to [`WORTH_IT`] bytes or more, whose `Serialize` fails or panics, or
//! that holds a [`Shared`](crate::Shared) with a file, is not lent: it takes the queued path, which streams a large value from a supervisor and
//! turns an encoding failure into that task's error, as before.

use super::super::call;
use super::super::owned_bytes::WORTH_IT;
use crate::codec::{self, Bounded, RECORD_HEAD, VALUE};
use crate::pool::Task;

/// Encodes the frame of the one-item batch `f(arg)` into `buf` (cleared first), as
/// [`wire::frame`](super::super::wire::frame) would; `false` if `arg` must take the queued
/// path instead (see the module comment), and then `buf` holds nothing of use.
pub(super) fn encode_into<A: Task, R: Task>(buf: &mut Vec<u8>, f: fn(A) -> R, arg: &A) -> bool {
    let call = call::encode(f);
    buf.clear();
    buf.extend_from_slice(&[0; 4]); // the frame's length, filled in below
    call.write_to(buf); // with the build's fingerprint, which the worker checks first
    let record = buf.len();
    buf.push(VALUE);
    buf.extend_from_slice(&[0; 4]); // the value's length
    let mut large = false;
    let bounded = Bounded {
        out: &mut *buf,
        room: WORTH_IT - 1,
        large: &mut large,
    };
    // A shared value is written as a reference, as on the queued path; but a lent task has
    // no job to hold its handle until the worker has read it, so it takes the queued path.
    let (encoded, pins) = crate::shared::for_local_workers(|| {
        crate::panics::catch(|| codec::encode_value(bounded, arg))
    });
    if !matches!(encoded, Ok(Ok(()))) || !pins.is_empty() {
        return false;
    }
    // Both fit in a u32: the value is under `WORTH_IT` bytes.
    let value = (buf.len() - record - RECORD_HEAD) as u32;
    let frame = (buf.len() - 4) as u32;
    buf[record + 1..record + RECORD_HEAD].copy_from_slice(&value.to_le_bytes());
    buf[..4].copy_from_slice(&frame.to_le_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process_pool::wire;

    fn twice(x: String) -> String {
        x.repeat(2)
    }

    #[test]
    fn a_small_value_encodes_as_the_queued_path_would() {
        let mut buf = vec![9; 3];
        for arg in [
            "".to_string(),
            "lent".to_string(),
            "x".repeat(WORTH_IT - 10),
        ] {
            assert!(encode_into(&mut buf, twice, &arg));
            let queued = wire::frame(call::encode(twice), &[arg]).unwrap();
            assert_eq!(buf, queued);
        }
    }

    #[test]
    fn a_large_value_stops_early_and_is_not_lent() {
        let mut buf = Vec::new();
        assert!(!encode_into(&mut buf, twice, &"x".repeat(WORTH_IT)));
        assert!(
            buf.len() < WORTH_IT + 64,
            "stopped at the bound: {}",
            buf.len()
        );
    }

    #[test]
    fn a_value_that_fails_or_panics_to_encode_is_not_lent() {
        #[derive(serde::Deserialize)]
        struct Bad(bool);
        impl serde::Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                assert!(!self.0, "cannot encode");
                Err(serde::ser::Error::custom("refusing to encode"))
            }
        }
        fn id(b: Bad) -> Bad {
            b
        }
        let mut buf = Vec::new();
        assert!(!encode_into(&mut buf, id, &Bad(false)));
        assert!(!encode_into(&mut buf, id, &Bad(true)));
    }
}
