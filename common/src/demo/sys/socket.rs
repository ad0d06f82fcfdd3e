//! The Unix-socket calls std lacks: whose socket is this, who sent this message, and is there
//! something to read.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// The process id and user id of the process that created the other end of a connected Unix
/// socket (`SO_PEERCRED`). For a socket pair that is the process that called `socketpair`.
///
/// # Errors
/// The `getsockopt` error (`ENOTSOCK` if `fd` is not a socket).
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid and writable, and `len` holds `cred`'s size, which is
    // what SO_PEERCRED writes; `fd` is a descriptor borrowed for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((cred.pid as u32, cred.uid))
}

/// Asks the kernel to attach the sender's credentials to what this socket receives
/// (`SO_PASSCRED`), for [`recv_with_credentials`].
///
/// # Errors
/// The `setsockopt` error.
pub fn pass_credentials(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let value: libc::c_int = on.into();
    // SAFETY: SO_PASSCRED reads one int from the pointer, which points at `value`.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives into `buf` from a Unix socket with `SO_PASSCRED` set, returning the byte count and
/// the sender's (pid, uid) as the kernel vouches for them (`SCM_CREDENTIALS`), if attached.
///
/// # Errors
/// The `recvmsg` error (`WouldBlock` or `TimedOut` when a receive timeout passes).
pub fn recv_with_credentials(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Option<(u32, u32)>)> {
    // Room for exactly one SCM_CREDENTIALS message, aligned as cmsghdr requires.
    #[repr(C)]
    struct Space {
        _align: libc::cmsghdr,
        _data: [u8; 64],
    }
    let mut space = std::mem::MaybeUninit::<Space>::zeroed();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid (null name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of::<Space>() as _;
    // SAFETY: `msg` points at one iovec covering `buf` and at `space` for control data, all
    // alive and writable for the call; the kernel writes at most their stated lengths.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut creds = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, within
    // `msg_controllen`; a credentials message carries a `ucred` (read unaligned to be safe).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
            {
                let cred = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::ucred>());
                creds = Some((cred.pid as u32, cred.uid));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, creds))
}

/// Waits until `fd` has something to read (data, end of file, or an error to report) or `limit`
/// has passed, reading nothing; whether it has.
///
/// Timed by `ppoll(2)` with a nanosecond deadline, so a short limit ends within the kernel's
/// timer slack (50 µs by default) of its end, never before it. A socket read timeout
/// (`SO_RCVTIMEO`) counts in timer ticks instead: a 1 ms limit could last up to a tick more
/// (4 ms with `HZ=250`). An interrupted wait goes on for what is left of `limit`.
///
/// # Errors
/// The `ppoll` error (`ENOMEM`, say); an interrupted one is retried.
pub fn wait_readable(fd: BorrowedFd<'_>, limit: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = libc::timespec {
            // Saturates at about 292 years: as good as forever, and still a bound.
            tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
            // Under 10^9: fits a `c_long` of any width.
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        let mut watched = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `watched` is one valid, writable pollfd (the count says 1) and `timeout` a
        // valid timespec, both alive for the call; a null signal mask leaves the mask as it is.
        // The descriptor is borrowed for the call, so it stays open.
        let rc = unsafe { libc::ppoll(&mut watched, 1, &timeout, std::ptr::null()) };
        match rc {
            // POLLIN, or POLLHUP / POLLERR: a read would not block either way.
            1.. => return Ok(true),
            0 => return Ok(false),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Points this process's standard input at `/dev/null`.
///
/// A pool worker receives its socket as standard input; once it has moved the socket to a
/// close-on-exec descriptor of its own, this makes sure no task, and no process a task starts,
/// can read from or inherit the pool's channel through descriptor 0.
///
/// # Errors
/// Opening `/dev/null`, or the `dup2` error.
pub fn stdin_from_null() -> io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: dup2 takes two descriptors: `null` is open for the call, and 0 is the standard
    // input slot, which it atomically replaces; no memory is involved.
    let rc = unsafe { libc::dup2(null.as_raw_fd(), 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_quiet_socket_is_waited_for_until_the_limit_and_not_before() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        for limit in [
            Duration::ZERO,
            Duration::from_micros(300),
            Duration::from_millis(3),
        ] {
            let started = Instant::now();
            assert!(!wait_readable(ours.as_fd(), limit).unwrap());
            let waited = started.elapsed();
            assert!(
                waited >= limit,
                "returned after {waited:?}, before {limit:?}"
            );
        }
    }

    #[test]
    fn data_or_a_closed_peer_ends_the_wait_at_once() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(b"x").unwrap();
        assert!(wait_readable(ours.as_fd(), Duration::from_secs(10)).unwrap());
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(theirs);
        assert!(wait_readable(ours.as_fd(), Duration::from_secs(10)).unwrap());
    }
}
