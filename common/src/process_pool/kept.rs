//! The kept arena: a large buffer that has just been sent is kept, warm, to receive the next
//! large message on the same line, instead of freeing it and asking for fresh memory.
//!
//! Why. Fresh memory is where a large payload's time went, and why it swung. Measured on the
//! 2-vCPU development VM (Firecracker, `virtio_balloon` with free page reporting at order 9,
//! and DAMON's `pageout` scheme on): touching a fresh 64 MiB mapping took 7-10 ms in most
//! runs and 55-134 ms in others, with the same 32 huge-page faults counted by the guest
//! (`benches/fresh_pages.c`: map, fill, unmap, twelve rounds; with a 3 s pause between rounds
//! the slow ones became the rule). A freed 2 MiB page is reported to the host,
//! which takes it back; the next touch faults in the host, invisible to the guest's counters,
//! and shows as system time in whatever copied into it (`perf`: `_copy_from_iter` and
//! `clear_page_erms`). A 64 MiB `ByteBuf` there and back passed through two fresh buffers
//! (the worker's, for the argument; the pool's, for the result): 50-55 ms when neither was
//! reclaimed, 150-260 ms when one or both were, against 38 ms for the raw socket, whose
//! buffers are warm. Memory that stays in use is never reported, so a buffer that is kept
//! cannot be taken back.
//!
//! What is kept, on each side of a line:
//!
//! - the pool keeps the frame (or the `ByteBuf` or `Array` argument's own memory) of the batch
//!   its worker is running, once it cannot be sent again (`release_running_frame`: no
//!   `retries`). That batch's answer is received into it, if it fits;
//! - a worker keeps the memory of a `ByteBuf` or `Array` result it has just sent. The next
//!   batch of one large byte string is received into it, if it fits: that memory becomes the
//!   task's argument, and often its result again.
//!
//! An `Array<f64>`'s memory was allocated for eight-byte items, and giving it back to the
//! allocator as bytes would break the allocator's contract; so it is kept as what it is, words
//! ([`Buf::Words`]), and the `Array` that comes back in it takes it as its own vector (see
//! `crate::array`: the decoder hands it over, as no serde visitor can receive a `Vec<u64>`).
//!
//! The size policy (the resident cost):
//!
//! - one buffer per side of a line, and only one of at least [`FROM`] bytes (below that,
//!   fresh memory comes from the allocator's own warm heap);
//! - the pool's buffer serves the next answer on its line or is freed with it: the pool never
//!   holds more than it held before sending (it is the memory the caller gave up), and holds
//!   it at most [`IDLE`] while the task runs;
//! - a worker's buffer is freed when the next batch is not one large byte string, or after
//!   [`IDLE`] without a batch (the same rule frees the worker's other buffers that grew large,
//!   see `answer.rs`);
//! - a kept buffer too small for the next message is freed before a fresh one is asked for, so
//!   the two are never held at once (peak memory stays one payload). If the fresh one cannot be
//!   had, the message's batch fails with an error, as it did before, and the line goes on.

use std::time::{Duration, Instant};

/// A large payload's memory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Buf {
    /// Bytes: a frame, a receive buffer, a `ByteBuf`.
    Bytes(Vec<u8>),
    /// Eight-byte words: the memory of an `Array` of eight-byte items (`f64`, `u64`, ...).
    Words(Vec<u64>),
}

impl Buf {
    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Its bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Buf::Bytes(bytes) => bytes,
            Buf::Words(words) => bytemuck::cast_slice(words),
        }
    }

    fn capacity(&self) -> usize {
        match self {
            Buf::Bytes(bytes) => bytes.capacity(),
            Buf::Words(words) => words.capacity() * 8,
        }
    }
}

/// Buffers smaller than this are not kept.
pub(crate) const FROM: usize = 1 << 20;

/// A kept buffer unused for this long is freed.
pub(crate) const IDLE: Duration = Duration::from_secs(1);

/// At most one kept buffer, and since when it waits.
#[derive(Default)]
pub(crate) struct Kept(Option<(Buf, Instant)>);

impl Kept {
    /// Keeps `buf` for the next large message if it is worth keeping (in place of any other);
    /// a smaller one is dropped, and changes nothing.
    pub(crate) fn keep(&mut self, buf: Buf) {
        if buf.capacity() >= FROM {
            self.0 = Some((buf, Instant::now()));
        }
    }

    /// The kept buffer, if it is bytes with room for `len`: emptied, to append to. Otherwise it
    /// is freed (before the caller asks for fresh memory) and `None`.
    pub(crate) fn take_bytes(&mut self, len: usize) -> Option<Vec<u8>> {
        match self.0.take()? {
            (Buf::Bytes(mut bytes), _) if bytes.capacity() >= len => {
                bytes.clear();
                Some(bytes)
            }
            _ => None,
        }
    }

    /// The kept buffer for a lone byte string of `len` bytes, if it has room: bytes emptied (to
    /// append to), or words exactly `len` long (to read into; only for a whole number of
    /// words). Otherwise it is freed and `None`.
    pub(crate) fn take_lone(&mut self, len: usize) -> Option<Buf> {
        match self.0.take()? {
            (Buf::Words(mut words), _) if len.is_multiple_of(8) && words.capacity() * 8 >= len => {
                // Within the capacity: no allocation; only a longer tail is written (zeros).
                words.resize(len / 8, 0);
                Some(Buf::Words(words))
            }
            (Buf::Bytes(mut bytes), _) if bytes.capacity() >= len => {
                bytes.clear();
                Some(Buf::Bytes(bytes))
            }
            _ => None,
        }
    }

    /// Frees the kept buffer if it has waited [`IDLE`] or longer.
    pub(crate) fn free_if_idle(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() >= IDLE)
        {
            self.0 = None;
        }
    }

    /// Frees the kept buffer now.
    pub(crate) fn free(&mut self) {
        self.0 = None;
    }

    /// Whether a buffer is kept.
    pub(crate) fn holds(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(capacity: usize) -> Buf {
        Buf::Bytes(Vec::with_capacity(capacity))
    }

    #[test]
    fn a_kept_buffer_serves_a_message_that_fits_once() {
        let mut kept = Kept::default();
        let mut buf = Vec::with_capacity(2 * FROM);
        buf.extend_from_slice(b"old bytes");
        let at = buf.as_ptr();
        kept.keep(Buf::Bytes(buf));
        let got = kept.take_bytes(2 * FROM).expect("it fits");
        assert_eq!(
            (got.as_ptr(), got.len()),
            (at, 0),
            "the same memory, emptied"
        );
        assert!(kept.take_bytes(1).is_none(), "it serves once");
    }

    #[test]
    fn kept_words_serve_a_lone_string_of_whole_words_only() {
        let mut kept = Kept::default();
        let words = vec![7u64; FROM / 8];
        let at = words.as_ptr();
        kept.keep(Buf::Words(words.clone()));
        assert!(kept.take_bytes(8).is_none(), "words are not a byte buffer");
        kept.keep(Buf::Words(words.clone()));
        assert!(kept.take_lone(12).is_none(), "12 bytes are not whole words");
        kept.keep(Buf::Words(words));
        let Some(Buf::Words(got)) = kept.take_lone(FROM - 16) else {
            panic!("whole words that fit");
        };
        assert_eq!((got.as_ptr(), got.len() * 8), (at, FROM - 16));
        kept.keep(bytes(FROM));
        assert_eq!(kept.take_lone(FROM), Some(Buf::Bytes(Vec::new())));
    }

    #[test]
    fn a_small_or_too_small_buffer_is_not_used() {
        let mut kept = Kept::default();
        kept.keep(bytes(FROM - 1));
        assert!(!kept.holds(), "below the threshold, nothing is kept");
        kept.keep(bytes(FROM));
        kept.keep(bytes(0));
        assert!(kept.holds(), "an empty frame does not replace a kept one");
        assert!(kept.take_lone(FROM + 1).is_none());
        assert!(!kept.holds(), "too small: freed, not kept for later");
    }

    #[test]
    fn an_idle_buffer_is_freed_and_a_fresh_one_is_not() {
        let mut kept = Kept::default();
        kept.keep(bytes(FROM));
        kept.free_if_idle();
        assert!(kept.holds(), "just kept");
        kept.0.as_mut().unwrap().1 -= IDLE;
        kept.free_if_idle();
        assert!(!kept.holds(), "idle for IDLE");
    }
}
