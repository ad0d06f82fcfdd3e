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

use super::kept::{Buf, Kept};
#[cfg(test)]
use super::message::GLUE_LIMIT;
pub(crate) use super::message::{FromWorker, ENV_ANNOUNCE, ENV_INIT, ENV_WORKER, INIT_FRAME};
#[cfg(test)]
use super::owned_bytes::{Received, WORTH_IT};
use crate::sys;
use std::io::{self, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a blocked read or write on the pool's side waits before it checks that the worker
/// still lives. End-of-file alone cannot tell: a task that forks (without exec) leaves a copy of
/// the worker holding the worker's end open after the worker itself has died.
pub(crate) const WATCH: Duration = Duration::from_millis(100);

/// The pool's end of one worker's line.
pub(crate) struct Link {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// A message read in part by a reader whose deadline came first (see `receive.rs`).
    partial: Option<receive::Partial>,
    /// The pool's count of bytes written to its workers (`ProcessPool::bytes_sent`).
    sent: Arc<AtomicU64>,
    /// The running batch's frame, for its answer to be received into (see `kept.rs`).
    kept: Kept,
}

impl Link {
    /// A new socket pair: the pool's end, and the end to hand to the child as its stdin.
    ///
    /// Both ends are close-on-exec (std creates them so); the child receives its end through
    /// `Stdio`, which places it on descriptor 0 in that one child only.
    pub(crate) fn pair(sent: Arc<AtomicU64>) -> io::Result<(Link, UnixStream)> {
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
                partial: None,
                sent,
                kept: Kept::default(),
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

    /// Reads the worker's next message, waiting as long as `alive` says the worker lives. A
    /// message begun by an earlier [`Link::receive_until`] is resumed where it stopped.
    pub(crate) fn receive(
        &mut self,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<FromWorker> {
        let message = self.resume(None, alive)?;
        Ok(message.expect("a read with no deadline ends only with a message or an error"))
    }

    /// Reads the worker's next message (or the rest of one begun before) until `deadline`:
    /// `None` if it is not all in by then. What was read is kept, and the next `receive` or
    /// `receive_until` on this line, by whichever thread, resumes it (see `receive.rs`).
    pub(crate) fn receive_until(
        &mut self,
        deadline: Instant,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Option<FromWorker>> {
        // Non-blocking while a deadline holds: a read returns what is there at once, and the
        // wait for more is a `ppoll` with a nanosecond deadline, not the socket's read
        // timeout (counted in timer ticks, and 100 ms long).
        self.reader.get_ref().set_nonblocking(true)?;
        let message = self.resume(Some(deadline), alive);
        let restored = self.reader.get_ref().set_nonblocking(false);
        let message = message?;
        restored?;
        Ok(message)
    }

    fn read_body(
        &mut self,
        len: usize,
        alive: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Vec<u8>> {
        let mut body = receive::reserve(len)?;
        if self.fill_vec(&mut body, len, None, alive)? {
            Ok(body)
        } else {
            unreachable!("a read with no deadline ends only when filled or failed")
        }
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
                    Ok(n) => {
                        sent += n;
                        self.sent.fetch_add(n as u64, Relaxed);
                    }
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
    /// Whether a message was read in part (by a reader whose deadline came first): the
    /// worker has begun an answer, so its task is done.
    pub(crate) fn has_partial(&self) -> bool {
        // A read that stopped before the first byte keeps an empty head: nothing has begun.
        !matches!(
            self.partial,
            None | Some(receive::Partial::Head { filled: 0, .. })
        )
    }

    /// Keeps `buf` (the running batch's frame, or its argument's bytes), to receive that
    /// batch's answer into if it is large (see `kept.rs`).
    pub(crate) fn keep(&mut self, buf: Buf) {
        self.kept.keep(buf);
    }

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

mod receive;
#[cfg(test)]
mod tests;
mod watched;
