//! The one system call this crate needs that std lacks, behind a safe function.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Puts the file behind `fd` in non-blocking mode: a read with nothing to read returns
/// `WouldBlock` at once instead of putting the thread to sleep.
///
/// # Errors
/// The `fcntl` error.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: `fd` comes from a `BorrowedFd`, so it is an open descriptor for the duration of
    // the call; F_GETFL takes no pointer argument and only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; F_SETFL takes a plain integer of flags.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
