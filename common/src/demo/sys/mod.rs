//! The few Linux calls std does not offer, each behind a small safe function.
//!
//! Every `unsafe` block of `common` lives in one of four small wrappers, so a reader can audit
//! them in one sitting: here (system calls), `src/process_pool/call.rs` (code addresses) and
//! `big_buffer.rs` (memory advice), `src/thread_pool/in_place.rs` (the in-place map), and
//! `src/demo/segment/` (typed views of a shared segment).

use std::io;
use std::process::ExitStatus;

mod loader;
mod socket;

pub use loader::executable_code;
pub use socket::{
    pass_credentials, peer_credentials, recv_with_credentials, stdin_from_null, wait_readable,
};

/// Asks the kernel to send `SIGKILL` to this process when its parent thread exits.
///
/// This is how a worker never outlives its pool, even when the pool's process is SIGKILLed and
/// runs no cleanup at all. Note the word *thread*: the signal fires when the thread that spawned
/// the child ends, so a child must be spawned by a thread that lives as long as the child does.
///
/// # Errors
/// The `prctl` error, if any (none is expected on Linux).
pub fn die_with_parent() -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes one integer argument (the signal) and touches no memory of
    // ours; the remaining variadic arguments are ignored for this option.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Marks this process as not dumpable, so that a deliberate crash (`abort`) leaves no core file.
///
/// # Errors
/// The `prctl` error, if any (none is expected on Linux).
pub fn no_core_dump() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory of ours; the
    // remaining variadic arguments are ignored for this option.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The process id of this process's parent.
pub fn parent_pid() -> u32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    let ppid = unsafe { libc::getppid() };
    ppid as u32
}

/// Sends `signal` to process `pid`.
///
/// # Errors
/// `ESRCH` if there is no such process (it may have been reaped already), `EPERM` if it is not ours.
pub fn send_signal(pid: u32, signal: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: kill only sends a signal; a wrong pid yields an error, never memory unsafety.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `SIGKILL` to every process in the process group `pgid` (a pool worker leads its own
/// group, so this reaches any copy a task forked from it).
///
/// # Errors
/// `ESRCH` if the group has no process left.
pub fn kill_group(pgid: u32) -> io::Result<()> {
    let pgid =
        libc::pid_t::try_from(pgid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    if pgid <= 1 {
        // kill(0) and kill(-1) mean "my own group" and "everyone": never what a caller wants.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill only sends a signal; a negative pid names a process group.
    let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether child `pid` has ended, *without* reaping it: while it stays a zombie its pid (and
/// so its process group id) cannot be reused, which makes killing its group afterwards safe.
///
/// # Errors
/// The `waitid` error (`ECHILD` if `pid` is not an unreaped child of ours).
pub fn has_exited(pid: u32) -> io::Result<bool> {
    let id = libc::id_t::from(pid);
    // SAFETY: an all-zero siginfo_t is a valid value to pass for the kernel to fill.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid and writable; WNOWAIT leaves the child waitable.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            id,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info` (or left it zeroed when nothing has exited, with si_pid 0).
    Ok(unsafe { info.si_pid() } != 0)
}

/// Whether process `pid` exists and has not ended (a zombie has ended: it only waits to be
/// reaped). Read from `/proc`, so it works for any process, not only our children.
pub fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The name field may hold spaces and parentheses; the state letter follows the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z' | 'X'))
}

/// The conventional name of a signal number, e.g. `SIGKILL` for 9.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => "an unnamed signal",
    }
}

/// Says in words how a process ended: `exited with code 3`, `killed by signal 6 (SIGABRT)`.
pub fn describe_exit(status: ExitStatus) -> String {
    crate::Exit::from(status).to_string()
}

/// Reaps `pid` (a child of ours) if it has ended, polling until `deadline`; `false` if it is still
/// running then. Used only by the interrupt handler, which owns no `std::process::Child`.
pub fn reap_until(pid: u32, deadline: std::time::Instant) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid, writable int for the duration of the call.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        // rc == pid: reaped now; rc < 0: not our child or already reaped. Either way it is gone.
        if rc != 0 {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Ends the process at once with `code`, like `_exit(2)`: no atexit handlers, no stdout flush.
///
/// For the interrupt handler, which has done its own cleanup: `std::process::exit` would first
/// flush stdout, and if another thread holds stdout's lock (a demo writing through
/// `stdout().lock()`), it would wait for that thread forever.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes a plain integer and never returns; it is async-signal-safe and needs
    // no state of ours. Skipping destructors is the point: the caller cleaned up already.
    unsafe { libc::_exit(code) }
}

/// Nanoseconds on the system-wide monotonic clock. Unlike `Instant`, a reading is a plain number
/// that another process can send us, and both processes read the same clock.
pub fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The time from monotonic reading `earlier` to `later` (zero if `later` is earlier).
pub fn nanos_between(earlier: u64, later: u64) -> std::time::Duration {
    std::time::Duration::from_nanos(later.saturating_sub(earlier))
}

/// Whether the calling thread is the process's main thread (its thread id is the process id).
pub fn is_main_thread() -> bool {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    tid as u32 == std::process::id()
}

/// Names this process in `ps` and `top` (the kernel keeps the first 15 bytes).
///
/// A child started from `/proc/self/exe` is otherwise listed as `exe`, so `pgrep <program>`
/// would miss it.
pub fn set_process_name(name: &str) {
    let mut bytes: Vec<u8> = name.bytes().filter(|&b| b != 0).take(15).collect();
    bytes.push(0);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from the pointer,
    // and `bytes` is exactly that, alive for the duration of the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, bytes.as_ptr() as libc::c_ulong) };
}

/// This process's real user id.
pub fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_read_as_words() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            describe_exit(ExitStatus::from_raw(3 << 8)),
            "exited with code 3"
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(6)),
            "killed by signal 6 (SIGABRT)"
        );
    }

    #[test]
    fn signalling_a_missing_process_is_an_error() {
        // Pid numbers are at most 2^22 on Linux, so this one cannot exist.
        assert!(send_signal(i32::MAX as u32, 0).is_err());
    }
}
