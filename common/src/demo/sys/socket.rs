//! The Unix-socket calls std lacks: whose socket is this, who sent this message, and is there
//! something to read.

use rustix::event::{Nsecs, PollFd, PollFlags, Secs, Timespec};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// The process id and user id of the process that created the other end of a connected Unix
/// socket (`SO_PEERCRED`). For a socket pair that is the process that called `socketpair`.
///
/// # Errors
/// The `getsockopt` error (`ENOTSOCK` if `fd` is not a socket).
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let cred = rustix::net::sockopt::socket_peercred(fd)?;
    Ok((cred.pid.as_raw_nonzero().get() as u32, cred.uid.as_raw()))
}

/// Asks the kernel to attach the sender's credentials to what this socket receives
/// (`SO_PASSCRED`), for [`recv_with_credentials`].
///
/// # Errors
/// The `setsockopt` error.
pub fn pass_credentials(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_passcred(fd, on)?)
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
    // Room for exactly one SCM_CREDENTIALS message; rustix aligns it as cmsghdr requires.
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        fd,
        &mut [io::IoSliceMut::new(buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut creds = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmCredentials(cred) = message {
            creds = Some((cred.pid.as_raw_nonzero().get() as u32, cred.uid.as_raw()));
        }
    }
    Ok((received.bytes, creds))
}

/// Waits until `fd` has something to read (data, end of file, or an error to report) or `limit`
/// has passed, reading nothing; whether it has.
///
/// Timed by `ppoll(2)` (rustix's `poll` on Linux) with a nanosecond deadline, so a short limit
/// ends within the kernel's timer slack (50 µs by default) of its end, never before it. A socket
/// read timeout (`SO_RCVTIMEO`) counts in timer ticks instead: a 1 ms limit could last up to a
/// tick more (4 ms with `HZ=250`). An interrupted wait goes on for what is left of `limit`.
///
/// # Errors
/// The `ppoll` error (`ENOMEM`, say); an interrupted one is retried.
pub fn wait_readable(fd: BorrowedFd<'_>, limit: Duration) -> io::Result<bool> {
    // No deadline past the end of `Instant` (`Duration::MAX`, say): then "as good as forever".
    let deadline = Instant::now().checked_add(limit);
    loop {
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => limit,
        };
        let timeout = Timespec {
            // Saturates at about 292 years: as good as forever, and still a bound.
            tv_sec: Secs::try_from(left.as_secs()).unwrap_or(Secs::MAX),
            // Under 10^9: fits a `tv_nsec` of any width.
            tv_nsec: left.subsec_nanos() as Nsecs,
        };
        let mut watched = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
        match rustix::event::poll(&mut watched, Some(&timeout)) {
            // POLLIN, or POLLHUP / POLLERR: a read would not block either way.
            Ok(1..) => return Ok(true),
            Ok(0) => return Ok(false),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
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
    Ok(rustix::stdio::dup2_stdin(&null)?)
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

    #[test]
    fn credentials_name_this_process() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let me = (std::process::id(), crate::sys::user_id());
        // socketpair was called here, so the peer's creator is this process.
        assert_eq!(peer_credentials(ours.as_fd()).unwrap(), me);
        pass_credentials(ours.as_fd(), true).unwrap();
        theirs.write_all(b"hi").unwrap();
        let mut buf = [0u8; 8];
        let (n, sender) = recv_with_credentials(ours.as_fd(), &mut buf).unwrap();
        assert_eq!((&buf[..n], sender), (&b"hi"[..], Some(me)));
        // Without SO_PASSCRED the kernel attaches nothing.
        pass_credentials(ours.as_fd(), false).unwrap();
        theirs.write_all(b"x").unwrap();
        assert_eq!(
            recv_with_credentials(ours.as_fd(), &mut buf).unwrap(),
            (1, None)
        );
    }

    #[test]
    fn a_limit_past_the_end_of_time_is_still_a_wait() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(b"x").unwrap();
        assert!(wait_readable(ours.as_fd(), Duration::MAX).unwrap());
    }
}
