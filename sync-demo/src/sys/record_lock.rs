//! `fcntl` record locks on byte ranges of a file, which the kernel checks for deadlocks.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Locks bytes `start..start + len` of `file` for writing: `wait` uses `F_SETLKW` (sleep until
/// free), otherwise `F_SETLK` (fail at once with `EAGAIN`/`EACCES`).
///
/// # Errors
/// `EDEADLK` if waiting would close a cycle of processes waiting for each other; other `fcntl`
/// errors.
pub fn lock_range(file: &File, start: i64, len: i64, wait: bool) -> io::Result<()> {
    set_range(
        file,
        libc::F_WRLCK,
        start,
        len,
        if wait { libc::F_SETLKW } else { libc::F_SETLK },
    )
}

/// Unlocks bytes `start..start + len` of `file`.
///
/// # Errors
/// The `fcntl` error.
pub fn unlock_range(file: &File, start: i64, len: i64) -> io::Result<()> {
    set_range(file, libc::F_UNLCK, start, len, libc::F_SETLK)
}

fn set_range(
    file: &File,
    kind: libc::c_int,
    start: i64,
    len: i64,
    cmd: libc::c_int,
) -> io::Result<()> {
    let range = libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: start,
        l_len: len,
        l_pid: 0,
    };
    loop {
        // SAFETY: the descriptor is open for the life of `file`; F_SETLK(W) reads one valid
        // `struct flock`, which `range` is, and keeps no pointer to it.
        if unsafe { libc::fcntl(file.as_raw_fd(), cmd, &range) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}
