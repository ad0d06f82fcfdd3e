//! The line as a [`Write`], for what is encoded straight onto it (see `streamed.rs`).

use super::{is_timeout, Link};
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

impl Link {
    /// The line as a [`Write`], waiting as long as `alive` says the worker lives; it remembers
    /// whether the line itself failed (as opposed to what was being written).
    pub(crate) fn watched<'a>(
        &'a mut self,
        alive: &'a mut dyn FnMut() -> io::Result<()>,
    ) -> Watched<'a> {
        Watched {
            writer: &mut self.writer,
            sent: &self.sent,
            alive,
            broke: false,
        }
    }
}

/// The line as a [`Write`] (see [`Link::watched`]).
pub(crate) struct Watched<'a> {
    writer: &'a mut UnixStream,
    sent: &'a AtomicU64,
    alive: &'a mut dyn FnMut() -> io::Result<()>,
    broke: bool,
}

impl Watched<'_> {
    /// Whether a write to the line failed (the worker died, or its end closed).
    pub(crate) fn broke(&self) -> bool {
        self.broke
    }
}

impl Write for Watched<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            let outcome = match self.writer.write(bytes) {
                Ok(0) if !bytes.is_empty() => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent.fetch_add(n as u64, Relaxed);
                    return Ok(n);
                }
                Err(e) if is_timeout(&e) => (self.alive)(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                self.broke = true;
                return Err(e);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
