//! The line between a pool and one worker process: a Unix socket pair made for that worker alone.
//!
//! Why a socket pair, and not a named socket that the worker connects to? A named socket is a
//! file: another local user can watch the directory, race for the name, or a temp cleaner can
//! delete it mid-handshake; its path must fit in 108 bytes, so a long `TMPDIR` breaks it. A socket
//! pair has no name at all. The pool keeps one end (close-on-exec, so no other child inherits it)
//! and hands the other to exactly one child as its standard input. Nobody else can reach it, and
//! both sides still check who is on the other end (see `worker.rs` and `Link::hello`).
//!
//! On the wire, in both directions, every message is a little-endian `u32` length followed by that
//! many bytes. Pool to worker, a message is a batch frame (see [`super::wire::frame`]). Worker to
//! pool, its first byte says what it is ([`FromWorker`]).

use super::message::DONE;
#[cfg(test)]
use super::message::GLUE_LIMIT;
pub(crate) use super::message::{FromWorker, ENV_INIT, ENV_WORKER};
use super::owned_bytes::{opens_lone_byte_string, Received, LONE_HEAD, WORTH_IT};
use crate::sys;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long a blocked read or write on the pool's side waits before it checks that the worker
/// still lives. End-of-file alone cannot tell: a task that forks (without exec) leaves a copy of
/// the worker holding the worker's end open after the worker itself has died.
pub(crate) const WATCH: Duration = Duration::from_millis(100);

/// The pool's end of one worker's line.
pub(crate) struct Link {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Link {
    /// A new socket pair: the pool's end, and the end to hand to the child as its stdin.
    ///
    /// Both ends are close-on-exec (std creates them so); the child receives its end through
    /// `Stdio`, which places it on descriptor 0 in that one child only.
    pub(crate) fn pair() -> io::Result<(Link, UnixStream)> {
        let (ours, theirs) = UnixStream::pair()?;
        // The hello carries the worker's credentials, vouched for by the kernel (see `hello`).
        sys::pass_credentials(ours.as_fd(), true)?;
        ours.set_read_timeout(Some(WATCH))?;
        ours.set_write_timeout(Some(WATCH))?;
        let writer = ours.try_clone()?;
        Ok((
            Link {
                reader: BufReader::with_capacity(64 * 1024, ours),
                writer,
            },
            theirs,
        ))
    }

    /// Reads the worker's first message and checks, with the kernel's credentials for the
    /// sender, that it comes from process `pid` of this same user.
    ///
    /// `alive` is called whenever the wait passes [`WATCH`]; its error ends the wait.
    pub(crate) fn hello(
        &mut self,
        pid: u32,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<FromWorker> {
        let mut head = [0u8; 4];
        let mut filled = 0;
        let mut sender = None;
        while filled < head.len() {
            let fd = self.reader.get_ref().as_fd();
            match sys::recv_with_credentials(fd, &mut head[filled..]) {
                Ok((0, _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok((n, creds)) => {
                    filled += n;
                    sender = sender.or(creds);
                }
                Err(e) if is_timeout(&e) => alive()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let me = sys::user_id();
        match sender {
            Some((p, uid)) if p == pid && uid == me => {}
            Some((p, uid)) => {
                return Err(io::Error::other(format!(
                    "the handshake came from pid {p} (uid {uid}), expected pid {pid} (uid {me})"
                )))
            }
            None => return Err(io::Error::other("the handshake carried no credentials")),
        }
        // Credentials were needed once; later messages need not carry them.
        sys::pass_credentials(self.reader.get_ref().as_fd(), false)?;
        let body = self.read_body(u32::from_le_bytes(head) as usize, alive)?;
        FromWorker::parse(&body).ok_or_else(|| io::Error::other("a malformed handshake"))
    }

    /// Reads the worker's next message, waiting as long as `alive` says the worker lives.
    ///
    /// A result is read straight into a vector of its own size: no zero-filling, no second copy
    /// to strip the header (a 64 MiB result would pay for both).
    pub(crate) fn receive(
        &mut self,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<FromWorker> {
        let mut head = [0u8; 5];
        self.read_exact(&mut head, alive)?;
        let [l0, l1, l2, l3, kind] = head;
        // The length counts the kind byte, already read.
        let len = u32::from_le_bytes([l0, l1, l2, l3]).saturating_sub(1) as usize;
        if kind != DONE {
            let mut body = vec![kind];
            body.extend(self.read_body(len, alive)?);
            return FromWorker::parse(&body).ok_or_else(|| io::Error::other("a malformed message"));
        }
        let mut times = [0u8; 16];
        let output_len = len
            .checked_sub(times.len())
            .ok_or_else(|| io::Error::other("a malformed result"))?;
        self.read_exact(&mut times, alive)?;
        let (start, end) = times.split_at(8);
        let output = self.read_output(output_len, alive)?;
        Ok(FromWorker::Done {
            start: u64::from_le_bytes(start.try_into().expect("8 bytes")),
            end: u64::from_le_bytes(end.try_into().expect("8 bytes")),
            output,
        })
    }

    /// Reads a result's `len` bytes. A lone large byte string (a task returning a `ByteBuf`) is
    /// read apart from its record's head, into a buffer that then becomes the value itself
    /// (`owned_bytes.rs` gives the measured reason).
    fn read_output(
        &mut self,
        len: usize,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Received> {
        if len < LONE_HEAD + WORTH_IT {
            return Ok(Received::Records(self.read_body(len, alive)?));
        }
        let mut head = [0u8; LONE_HEAD];
        self.read_exact(&mut head, alive)?;
        let rest = len - LONE_HEAD;
        if opens_lone_byte_string(&head, len) {
            return Ok(Received::ByteString(self.read_body(rest, alive)?));
        }
        let mut records = Vec::new();
        super::big_buffer::reserve_exact(&mut records, len).map_err(io::Error::other)?;
        records.extend_from_slice(&head);
        self.read_into(&mut records, rest, alive)?;
        Ok(Received::Records(records))
    }

    fn read_body(
        &mut self,
        len: usize,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        // A length that cannot be allocated is an error here, not an abort of the program.
        // Huge pages for a large one: see `big_buffer.rs`.
        super::big_buffer::reserve_exact(&mut body, len).map_err(io::Error::other)?;
        self.read_into(&mut body, len, alive)?;
        Ok(body)
    }

    /// Appends the next `len` bytes to `body`, which has room for them.
    fn read_into(
        &mut self,
        body: &mut Vec<u8>,
        len: usize,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        let end = body.len() + len;
        // `read_to_end` fills the spare capacity as it is, keeping what it read before an error.
        while body.len() < end {
            let want = (end - body.len()) as u64;
            match (&mut self.reader).take(want).read_to_end(body) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => alive()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_exact(
        &mut self,
        buf: &mut [u8],
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if is_timeout(&e) => alive()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits at most `limit` for the worker's next message to begin, reading nothing; whether
    /// it has, or the line closed.
    ///
    /// Who reads a lent line (see `lend.rs`) with a deadline calls this first, so that it never
    /// has to give up half a message. The wait is a `ppoll` with a nanosecond deadline
    /// ([`sys::wait_readable`]), not the socket's read timeout, which the kernel counts in
    /// timer ticks: a `wait_timeout` of 1 ms could last up to a tick (4 ms) longer.
    pub(crate) fn readable(&mut self, limit: Duration) -> io::Result<bool> {
        if !self.reader.buffer().is_empty() {
            return Ok(true);
        }
        sys::wait_readable(self.reader.get_ref().as_fd(), limit)
    }

    /// Sends `parts` as they are (each already a framed message, or several), waiting as long as
    /// `alive` says the worker lives.
    pub(crate) fn send(
        &mut self,
        parts: &[&[u8]],
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        for part in parts {
            let mut sent = 0;
            while sent < part.len() {
                match self.writer.write(&part[sent..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => sent += n,
                    Err(e) if is_timeout(&e) => alive()?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

impl Link {
    /// Tells the worker there is no more work: it reads end of file and exits. Its answers can
    /// still be read until the link is dropped.
    pub(crate) fn hang_up(&self) {
        // Fails only if the socket is already disconnected, which says the same thing.
        let _ = self.writer.shutdown(std::net::Shutdown::Write);
    }
}

/// A socket timeout shows as `WouldBlock` (`EAGAIN`) on Linux; `TimedOut` elsewhere.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests;
mod watched;
