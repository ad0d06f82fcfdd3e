//! A descriptor handed to a child at a number agreed in advance (`dup2` between fork and exec).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Makes `fd` descriptor number `target` in the child that `cmd` starts (a `dup2` between fork
/// and exec), so the child can use it without knowing the parent's number. Every other
/// descriptor std opens is close-on-exec, so the child inherits only this one (and stdio).
///
/// The caller keeps `fd` open until `cmd` has been spawned.
pub fn pass_fd(cmd: &mut std::process::Command, fd: &impl AsRawFd, target: RawFd) {
    use std::os::unix::process::CommandExt;
    let source = fd.as_raw_fd();
    let hook = move || -> io::Result<()> {
        if source == target {
            // dup2 onto itself keeps close-on-exec set: clear the flag instead.
            // SAFETY: F_SETFD with an integer flag argument on a descriptor number; no memory
            // is involved.
            if unsafe { libc::fcntl(source, libc::F_SETFD, 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
        // SAFETY: dup2 takes two descriptor numbers and touches no memory.
        } else if unsafe { libc::dup2(source, target) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: (1) the hook runs in the forked child before exec, where only async-signal-safe
    // calls are allowed: it calls only fcntl and dup2, which are, and allocates nothing;
    // (2) `source` is open in the parent while `spawn` runs (the caller's promise), so it is
    // open in the child.
    unsafe { cmd.pre_exec(hook) };
}

/// In a child: takes ownership of descriptor `target` handed over with [`pass_fd`].
///
/// # Errors
/// `EBADF` if no such descriptor is open (this process was not started that way).
pub fn take_passed_fd(target: RawFd) -> io::Result<File> {
    // SAFETY: F_GETFD only reads the descriptor's flags; it fails with EBADF if it is not open.
    if unsafe { libc::fcntl(target, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above), was passed to this process for it alone
    // by `pass_fd`, and nothing else in this process owns or closes it, so File may own it.
    Ok(unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(target) })
}
