//! A large lone result (or argument), encoded straight onto the line instead of into a buffer.
//!
//! Why this exists, measured on the 2-core development machine (load 5-10): a task returning a
//! 64 MiB `ByteBuf` had its result copied into a fresh 64 MiB output buffer before it was sent,
//! so the worker held the payload twice (peak memory 2.00x the payload, against a target of
//! 1.5x) and paid for one more copy into fresh pages. Encoded onto the socket as it is sent,
//! the result's bytes go from the value itself to the kernel: the worker holds them once.
//!
//! The message's length comes first on the line, so the value is encoded twice: once into a
//! counter (no bytes are kept: for a byte string that is a few writes of a length), then onto
//! the line. Only a batch of one item whose result encodes to [`WORTH_IT`] bytes or more takes
//! this path; anything smaller is buffered as before, where one `write` beats several.
//!
//! The pool does the same for a batch of one large argument (see `wire::frame_owned`): its
//! frame held a fresh 64 MiB copy of the argument until sent; now the argument itself waits in
//! the queue and is encoded onto the worker's socket by the supervisor.
//!
//! A `Serialize` that writes a different number of bytes the second time (it reads a clock, a
//! counter...) would leave the line out of step: the worker then stops at once, and the pool
//! reports the batch as [`Error::WorkerDied`](crate::Error::WorkerDied), as for any worker that
//! dies mid-answer. The same goes for a second encoding that fails or panics. On the pool's
//! side such an argument fails its batch with [`Error::Serde`](crate::Error::Serde) and the
//! worker, whose line is out of step, is replaced.

use super::kept::Buf;
use crate::array::words::Reclaim;
use crate::codec;
use crate::panics::DropsCaught;
use serde::Serialize;
use serde_bytes::ByteBuf;
use std::any::Any;
use std::io::{self, Write};

/// Results of at least this many encoded bytes are streamed.
pub(crate) const WORTH_IT: usize = 64 * 1024;

/// One result, kept as a value until it is written onto the line.
pub(crate) struct Streamed {
    /// The length of its record (tag, length, value), known from the counting pass.
    len: usize,
    /// The value, which writes its record and can be written again (a batch whose line broke
    /// before it was delivered is sent again, to another worker). Its supervisor drops it
    /// (once sent, or with a batch that never ran): its `Drop` is user code that must not end
    /// that thread, hence `DropsCaught`.
    value: DropsCaught<Box<dyn Record>>,
}

/// A value that writes its record onto a line.
trait Record: Send {
    /// Writes the record, returning how many bytes it wrote.
    fn write(&self, out: &mut dyn Write) -> io::Result<usize>;

    /// The value's own memory if it is a `ByteBuf` or an `Array`, to be kept for the next
    /// large message on the line (see `kept.rs`); any other value is dropped (its `Drop`
    /// caught).
    fn into_buf(self: Box<Self>) -> Option<Buf>;
}

/// A value of type `R`, written as it was counted.
struct Value<R> {
    value: R,
    /// Its record's length, from the counting pass.
    len: usize,
    /// Whether it was counted while a pool encoded for its own workers (shared values then
    /// write a reference, see `crate::shared`): it is written in the same form, later, on a
    /// supervisor's thread, while the batch's job holds the handles themselves.
    local: bool,
    /// How to take it apart, if it is an `Array` (noted as it was counted: `array/words.rs`).
    reclaim: Option<Reclaim>,
}

impl<R: Serialize + Send + 'static> Record for Value<R> {
    fn write(&self, out: &mut dyn Write) -> io::Result<usize> {
        let mut counted = Counter(0);
        let mut tee = Tee {
            out,
            count: &mut counted,
        };
        codec::write_record_head(&mut tee, self.len - codec::RECORD_HEAD)?;
        let mut encode = || codec::encode_value(&mut tee, &self.value).map_err(io::Error::other);
        if self.local {
            crate::shared::for_local_workers(encode).0?;
        } else {
            encode()?;
        }
        Ok(counted.0)
    }

    fn into_buf(self: Box<Self>) -> Option<Buf> {
        let value: Box<dyn Any> = Box::new(self.value);
        let other = match value.downcast::<ByteBuf>() {
            Ok(bytes) => return Some(Buf::Bytes(bytes.into_vec())),
            Err(other) => other,
        };
        let other = match self.reclaim {
            Some(reclaim) => match reclaim(other) {
                Ok(memory) => return memory,
                Err(other) => other,
            },
            None => other,
        };
        crate::panics::catch_drop(|| drop(other));
        None
    }
}

impl Streamed {
    /// `Ok` if `value` encodes to [`WORTH_IT`] bytes or more; else the value comes back, to be
    /// encoded into a buffer as usual (as it does if counting fails or panics: the ordinary
    /// path then records that failure for this item).
    pub(crate) fn try_new<R: Serialize + Send + 'static>(value: R) -> Result<Streamed, R> {
        crate::array::words::take_reclaim(); // a note left by an earlier encoding
        let counted = crate::panics::catch(|| {
            let mut counter = Counter(0);
            codec::encode_value(&mut counter, &value).map(|()| counter.0)
        });
        let reclaim = crate::array::words::take_reclaim();
        let len = match counted {
            // A record's length field holds at most `u32::MAX`: larger fails the ordinary way.
            Ok(Ok(len)) if (WORTH_IT..=u32::MAX as usize).contains(&len) => {
                len + codec::RECORD_HEAD
            }
            _ => return Err(value),
        };
        let value = Value {
            value,
            len,
            local: crate::shared::encoding_for_local_workers(),
            reclaim,
        };
        Ok(Streamed {
            len,
            value: DropsCaught::new(Box::new(value)),
        })
    }

    /// The length of the record it writes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes the record onto `out` (through a buffer, so small pieces do not each cost a
    /// system call; large ones go straight through).
    ///
    /// # Errors
    /// A write error, an encoding error, or a count that differs from [`Self::len`]: the line
    /// is then out of step and must not be used again.
    pub(crate) fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let Streamed { len, value } = self;
        let len = *len;
        let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
        // Caught: a `Serialize` is user code, and this runs on the pool's supervisor thread.
        let wrote = crate::panics::catch(|| value.write(&mut buffered))
            .map_err(|panicked| io::Error::other(panicked.to_string()))??;
        buffered.flush()?;
        if wrote != len {
            return Err(io::Error::other(format!(
                "a result encoded to {wrote} bytes after counting {len}: its Serialize is not \
                 repeatable"
            )));
        }
        Ok(())
    }

    /// The value's own memory if it is a `ByteBuf` or an `Array`, to keep (see `kept.rs`); the
    /// value is dropped either way.
    pub(crate) fn into_buf(self) -> Option<Buf> {
        self.value.into_inner().into_buf()
    }
}

/// Counts bytes and keeps none.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes to `out` and counts what went through.
struct Tee<'a> {
    out: &'a mut dyn Write,
    count: &'a mut Counter,
}

impl Write for Tee<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.out.write(bytes)?;
        self.count.0 += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_bytes::ByteBuf;

    #[test]
    fn a_large_result_streams_the_same_record_a_buffer_would_hold() {
        let value = ByteBuf::from(vec![3u8; 100_000]);
        let mut buffered = Vec::new();
        codec::push(&mut buffered, &value).unwrap();
        let at = value.as_ptr();
        let streamed = Streamed::try_new(value).unwrap_or_else(|_| panic!("large enough"));
        assert_eq!(streamed.len(), buffered.len());
        let mut line = Vec::new();
        streamed.write_to(&mut line).unwrap();
        assert_eq!(line, buffered);
        let Some(Buf::Bytes(bytes)) = streamed.into_buf() else {
            panic!("a ByteBuf gives its bytes back");
        };
        assert_eq!(bytes.as_ptr(), at, "its own memory, not a copy");
    }

    #[test]
    fn other_values_are_dropped_and_give_nothing_back() {
        let streamed = Streamed::try_new(vec![5u32; 100_000]).unwrap_or_else(|_| panic!("large"));
        assert!(streamed.into_buf().is_none());
        // An array inside another value is noted as it is counted, but the value is not an
        // array: nothing is taken apart.
        let inside = (crate::Array::from(vec![1.5f64; 20_000]), 7u8);
        let streamed = Streamed::try_new(inside).unwrap_or_else(|_| panic!("large"));
        assert!(streamed.into_buf().is_none());
    }

    #[test]
    fn an_array_gives_its_memory_back_as_words_or_bytes() {
        let values = vec![0.25f64; 20_000];
        let at = values.as_ptr().cast::<u64>();
        let streamed = Streamed::try_new(crate::Array::from(values)).unwrap_or_else(|_| panic!());
        let Some(Buf::Words(words)) = streamed.into_buf() else {
            panic!("an Array<f64> gives its memory back as words");
        };
        assert_eq!((words.as_ptr(), words.len()), (at, 20_000));
        let narrow = crate::Array::from(vec![1u16; 50_000]);
        let streamed = Streamed::try_new(narrow).unwrap_or_else(|_| panic!());
        assert!(streamed.into_buf().is_none(), "u16 memory is not words");
    }

    #[test]
    fn a_small_result_is_handed_back() {
        assert_eq!(Streamed::try_new(7u64).err(), Some(7));
    }

    #[test]
    fn a_serialize_that_changes_its_length_is_caught() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        struct Growing;
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        impl Serialize for Growing {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let n = WORTH_IT + CALLS.fetch_add(1, Relaxed);
                s.serialize_bytes(&vec![0u8; n])
            }
        }
        let streamed = Streamed::try_new(Growing).unwrap_or_else(|_| panic!("large enough"));
        let err = streamed.write_to(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("not repeatable"), "{err}");
    }
}
