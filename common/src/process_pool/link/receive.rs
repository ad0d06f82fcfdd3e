//! Reading a worker's answer in steps that can stop at a deadline and be resumed by someone
//! else.
//!
//! Why. A caller's `wait_timeout(d)` on a lent task reads the answer itself (see `lend.rs`).
//! An answer can stall half-way: its `Serialize` sleeps after 64 KiB, or the worker is stopped
//! (`SIGSTOP`). A reader that had to finish every message it began would then block far past
//! `d` (it did: 1.05 s for a 50 ms wait, and for ever under `SIGSTOP`). So a read keeps its
//! progress in a [`Partial`] on the line itself; at the deadline it leaves it there and
//! returns, and whoever reads the line next (the caller again, or the supervisor) goes on from
//! that byte. The line moves from reader to reader with its [`Link`], so the progress does too.
//!
//! A message is `[length: u32][kind: u8]` and then, for `Done`, two clock readings and the
//! output (see `message.rs`); a large output that is one byte string is received apart from
//! its record's head, into the buffer that becomes the value (see `owned_bytes.rs`). Each
//! stage below is one of those pieces.

use super::super::kept::Buf;
use super::super::message::{FromWorker, DONE};
use super::super::owned_bytes::{opens_lone_byte_string, Received, LONE_HEAD, WORTH_IT};
use super::{is_timeout, Link, WATCH};
use crate::sys;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::time::Instant;

/// How far a message has been read.
pub(crate) enum Partial {
    /// Its length and kind.
    Head { head: [u8; 5], filled: usize },
    /// A message other than `Done`: its kind byte and body so far, `len` bytes in all.
    Other { body: Vec<u8>, len: usize },
    /// A `Done`'s start and end clock readings; `output_len` bytes of output follow.
    Times {
        output_len: usize,
        times: [u8; 16],
        filled: usize,
    },
    /// The first bytes of a large output: they say whether it is one lone byte string.
    LoneHead {
        start: u64,
        end: u64,
        output_len: usize,
        head: [u8; LONE_HEAD],
        filled: usize,
    },
    /// A lone byte string's bytes, read into kept words (see `kept.rs`), `filled` of them so far.
    Words {
        start: u64,
        end: u64,
        words: Vec<u64>,
        filled: usize,
    },
    /// The output itself, `len` bytes in all.
    Output {
        start: u64,
        end: u64,
        body: Vec<u8>,
        len: usize,
        byte_string: bool,
    },
}

/// What one step of reading did.
enum Step {
    /// Its piece is complete; go on with the next.
    Next(Partial),
    /// The whole message is in.
    Done(FromWorker),
    /// The deadline came first; the progress stays in the `Partial`.
    Later,
}

impl Link {
    /// Reads on from where the last reader stopped (or from a new message), until the
    /// message is in, or `until` passes (`None`: no deadline), or the line fails.
    pub(super) fn resume(
        &mut self,
        until: Option<Instant>,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Option<FromWorker>> {
        let mut partial = self.partial.take().unwrap_or(Partial::Head {
            head: [0; 5],
            filled: 0,
        });
        loop {
            match self.step(&mut partial, until, alive)? {
                Step::Next(next) => partial = next,
                Step::Done(message) => {
                    // The kept frame served this answer, or is freed with it (`kept.rs`).
                    self.kept.free();
                    return Ok(Some(message));
                }
                Step::Later => {
                    self.partial = Some(partial);
                    return Ok(None);
                }
            }
        }
    }

    /// Reads one piece of a message.
    fn step(
        &mut self,
        partial: &mut Partial,
        until: Option<Instant>,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Step> {
        let next = match partial {
            Partial::Head { head, filled } => {
                if !self.fill(head, filled, until, alive)? {
                    return Ok(Step::Later);
                }
                let [l0, l1, l2, l3, kind] = *head;
                // The length counts the kind byte, already read.
                let len = u32::from_le_bytes([l0, l1, l2, l3]).saturating_sub(1) as usize;
                if kind != DONE {
                    let mut body = reserve(1 + len)?;
                    body.push(kind);
                    Partial::Other { body, len: 1 + len }
                } else {
                    let output_len = len
                        .checked_sub(16)
                        .ok_or_else(|| io::Error::other("a malformed result"))?;
                    Partial::Times {
                        output_len,
                        times: [0; 16],
                        filled: 0,
                    }
                }
            }
            Partial::Other { body, len } => {
                if !self.fill_vec(body, *len, until, alive)? {
                    return Ok(Step::Later);
                }
                let message = FromWorker::parse(body);
                return message
                    .map(Step::Done)
                    .ok_or_else(|| io::Error::other("a malformed message"));
            }
            Partial::Times {
                output_len,
                times,
                filled,
            } => {
                if !self.fill(times, filled, until, alive)? {
                    return Ok(Step::Later);
                }
                let (start, end) = times.split_at(8);
                let start = u64::from_le_bytes(start.try_into().expect("8 of 16 bytes"));
                let end = u64::from_le_bytes(end.try_into().expect("8 of 16 bytes"));
                let output_len = *output_len;
                if output_len < LONE_HEAD + WORTH_IT {
                    Partial::Output {
                        start,
                        end,
                        body: reserve(output_len)?,
                        len: output_len,
                        byte_string: false,
                    }
                } else {
                    Partial::LoneHead {
                        start,
                        end,
                        output_len,
                        head: [0; LONE_HEAD],
                        filled: 0,
                    }
                }
            }
            Partial::LoneHead {
                start,
                end,
                output_len,
                head,
                filled,
            } => {
                if !self.fill(head, filled, until, alive)? {
                    return Ok(Step::Later);
                }
                let (start, end, output_len) = (*start, *end, *output_len);
                if opens_lone_byte_string(head, output_len) {
                    let len = output_len - LONE_HEAD;
                    let body = match self.kept.take_lone(len) {
                        Some(Buf::Words(words)) => {
                            return Ok(Step::Next(Partial::Words {
                                start,
                                end,
                                words,
                                filled: 0,
                            }));
                        }
                        Some(Buf::Bytes(body)) => body,
                        None => reserve(len)?,
                    };
                    Partial::Output {
                        start,
                        end,
                        body,
                        len,
                        byte_string: true,
                    }
                } else {
                    let mut body = self.kept_or_fresh(output_len)?;
                    body.extend_from_slice(head);
                    Partial::Output {
                        start,
                        end,
                        body,
                        len: output_len,
                        byte_string: false,
                    }
                }
            }
            Partial::Words {
                start,
                end,
                words,
                filled,
            } => {
                if !self.fill(bytemuck::cast_slice_mut(words), filled, until, alive)? {
                    return Ok(Step::Later);
                }
                return Ok(Step::Done(FromWorker::Done {
                    start: *start,
                    end: *end,
                    output: Received::ByteString(Buf::Words(std::mem::take(words))),
                }));
            }
            Partial::Output {
                start,
                end,
                body,
                len,
                byte_string,
            } => {
                if !self.fill_vec(body, *len, until, alive)? {
                    return Ok(Step::Later);
                }
                let body = std::mem::take(body);
                let output = if *byte_string {
                    Received::ByteString(Buf::Bytes(body))
                } else {
                    Received::Records(body)
                };
                return Ok(Step::Done(FromWorker::Done {
                    start: *start,
                    end: *end,
                    output,
                }));
            }
        };
        Ok(Step::Next(next))
    }

    /// A buffer for a large output of `len` bytes: the kept frame if it has room (warm memory,
    /// see `kept.rs`), else a fresh one.
    fn kept_or_fresh(&mut self, len: usize) -> io::Result<Vec<u8>> {
        self.kept.take_bytes(len).map_or_else(|| reserve(len), Ok)
    }

    /// Fills `buf[*filled..]`; `false` if `until` passed first (what was read is counted).
    fn fill(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        until: Option<Instant>,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<bool> {
        while *filled < buf.len() {
            match self.reader.read(&mut buf[*filled..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => *filled += n,
                Err(e) if is_timeout(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if *filled < buf.len() && !self.more(until, alive)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Appends to `body` until it holds `len` bytes (it has room for them); `false` if `until`
    /// passed first. `read_to_end` fills the spare capacity as it is (no zero-filling, which a
    /// 64 MiB result would pay for), keeping what it read before an error.
    pub(super) fn fill_vec(
        &mut self,
        body: &mut Vec<u8>,
        len: usize,
        until: Option<Instant>,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<bool> {
        while body.len() < len {
            let want = (len - body.len()) as u64;
            match (&mut self.reader).take(want).read_to_end(body) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if body.len() < len && !self.more(until, alive)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Between two reads of an unfinished piece: whether to read again. With no deadline, the
    /// blocking read itself waited [`WATCH`]; check that the worker lives and go on. With one,
    /// wait for bytes (a `ppoll` with a nanosecond deadline), checking the worker every
    /// [`WATCH`]; `false` once the deadline has passed, even while bytes keep coming, so a
    /// long answer cannot hold a reader past it either.
    fn more(
        &mut self,
        until: Option<Instant>,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<bool> {
        // A long task need not hold its kept frame (`kept.rs`).
        self.kept.free_if_idle();
        let Some(deadline) = until else {
            alive()?;
            return Ok(true);
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if !self.reader.buffer().is_empty()
                || sys::wait_readable(self.reader.get_ref().as_fd(), left.min(WATCH))?
            {
                return Ok(true);
            }
            alive()?;
        }
    }
}

/// An empty buffer with room for `len` bytes. A length that cannot be allocated is an error
/// here, not an abort of the program; a large one asks for huge pages (see `big_buffer.rs`).
pub(super) fn reserve(len: usize) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    super::super::big_buffer::reserve_exact(&mut body, len).map_err(io::Error::other)?;
    Ok(body)
}
