//! The few Linux calls std does not offer, each behind a small safe function.
//!
//! Every `unsafe` block of `common` lives in one of five places, so a reader can audit them in
//! one sitting: here (system calls, with `loader.rs`), `src/process_pool/call.rs` and
//! `call/plain.rs` (code addresses), `big_buffer.rs` (memory advice),
//! `src/thread_pool/in_place.rs` with `in_place/place.rs` (the in-place map), and
//! `src/demo/segment/` (typed views of a shared segment); `.ci/unsafe-count --files` lists them.
//!
//! Where rustix offers a call (signals, `waitid`, `prctl`, `ppoll`, socket options and
//! credentials), this module uses it: rustix checks the arguments and the memory, so no
//! `unsafe` is left here but `_exit` (`exit_now`) and the loader's walk (`loader.rs`), which
//! neither std nor rustix's stable API offers.

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, WaitOptions};
use std::io;
use std::process::ExitStatus;

mod loader;
mod socket;

pub use loader::executable_code;
pub use socket::{
    pass_credentials, peer_credentials, recv_with_credentials, stdin_from_null, wait_readable,
};

/// `pid` as rustix's `Pid`: `ESRCH` for 0 and for numbers past `i32::MAX`, which name no
/// process (and 0 would mean "my own group" to `kill`).
fn to_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))
}

/// Asks the kernel to send `SIGKILL` to this process when its parent thread exits.
///
/// This is how a worker never outlives its pool, even when the pool's process is SIGKILLed and
/// runs no cleanup at all. Note the word *thread*: the signal fires when the thread that spawned
/// the child ends, so a child must be spawned by a thread that lives as long as the child does.
///
/// # Errors
/// The `prctl` error, if any (none is expected on Linux).
pub fn die_with_parent() -> io::Result<()> {
    Ok(rustix::process::set_parent_process_death_signal(Some(
        Signal::KILL,
    ))?)
}

/// Marks this process as not dumpable, so that a deliberate crash (`abort`) leaves no core file.
///
/// # Errors
/// The `prctl` error, if any (none is expected on Linux).
pub fn no_core_dump() -> io::Result<()> {
    use rustix::process::DumpableBehavior::NotDumpable;
    Ok(rustix::process::set_dumpable_behavior(NotDumpable)?)
}

/// The process id of this process's parent (0 if it has none, as for a namespace's init).
pub fn parent_pid() -> u32 {
    rustix::process::getppid().map_or(0, |ppid| ppid.as_raw_nonzero().get() as u32)
}

/// Sends `signal` to process `pid`; signal 0 only checks that the process exists.
///
/// # Errors
/// `ESRCH` if there is no such process (it may have been reaped already), `EPERM` if it is not
/// ours, `EINVAL` for a number that is not a named signal (`SIGKILL`, `SIGINT`, ...).
pub fn send_signal(pid: u32, signal: i32) -> io::Result<()> {
    let pid = to_pid(pid)?;
    if signal == 0 {
        return Ok(rustix::process::test_kill_process(pid)?);
    }
    let signal =
        Signal::from_named_raw(signal).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(rustix::process::kill_process(pid, signal)?)
}

/// Sends `SIGKILL` to every process in the process group `pgid` (a pool worker leads its own
/// group, so this reaches any copy a task forked from it).
///
/// # Errors
/// `ESRCH` if the group has no process left.
pub fn kill_group(pgid: u32) -> io::Result<()> {
    let pgid = to_pid(pgid)?;
    if pgid.is_init() {
        // kill(-1) means "everyone": never what a caller wants (and 0 was refused above).
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(rustix::process::kill_process_group(pgid, Signal::KILL)?)
}

/// Whether child `pid` has ended, *without* reaping it: while it stays a zombie its pid (and
/// so its process group id) cannot be reused, which makes killing its group afterwards safe.
///
/// # Errors
/// The `waitid` error (`ECHILD` if `pid` is not an unreaped child of ours).
pub fn has_exited(pid: u32) -> io::Result<bool> {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    Ok(rustix::process::waitid(WaitId::Pid(to_pid(pid)?), options)?.is_some())
}

/// Waits until child `pid` has ended, *without* reaping it (see [`has_exited`]).
///
/// # Errors
/// The `waitid` error (`ECHILD` if `pid` is not an unreaped child of ours); an interrupted
/// wait is retried.
pub fn wait_exited(pid: u32) -> io::Result<()> {
    let pid = to_pid(pid)?;
    loop {
        match rustix::process::waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Err(rustix::io::Errno::INTR) => {}
            outcome => return outcome.map(drop).map_err(io::Error::from),
        }
    }
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
    let Ok(pid) = to_pid(pid) else {
        return true;
    };
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            // Reaped now; or an error: not our child, or already reaped. Either way it is gone.
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) => {}
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
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The time from monotonic reading `earlier` to `later` (zero if `later` is earlier).
pub fn nanos_between(earlier: u64, later: u64) -> std::time::Duration {
    std::time::Duration::from_nanos(later.saturating_sub(earlier))
}

/// Whether the calling thread is the process's main thread (its thread id is the process id).
pub fn is_main_thread() -> bool {
    rustix::thread::gettid() == rustix::process::getpid()
}

/// Names this process in `ps` and `top` (the kernel keeps the first 15 bytes).
///
/// A child started from `/proc/self/exe` is otherwise listed as `exe`, so `pgrep <program>`
/// would miss it.
pub fn set_process_name(name: &str) {
    let bytes: Vec<u8> = name.bytes().filter(|&b| b != 0).take(15).collect();
    // The NUL bytes were filtered out just above, so this cannot fail.
    let name = std::ffi::CString::new(bytes).expect("no NUL byte is left");
    // PR_SET_NAME names the calling thread; called from `init`, that is the main thread, whose
    // name is the process's. It fails only for a bad pointer, which CString rules out.
    let _ = rustix::thread::set_name(&name);
}

/// This process's real user id.
pub fn user_id() -> u32 {
    rustix::process::getuid().as_raw()
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

    #[test]
    fn pids_that_name_no_one_or_everyone_are_refused() {
        // kill(0) would signal our own group, kill(-1) everyone: neither may happen.
        assert!(send_signal(0, 0).is_err());
        assert!(kill_group(0).is_err());
        assert!(kill_group(1).is_err());
        assert!(send_signal(u32::MAX, 0).is_err());
        // Signal 0 checks existence only; an unnamed number is refused.
        send_signal(std::process::id(), 0).unwrap();
        assert!(send_signal(std::process::id(), 12345).is_err());
    }

    #[test]
    fn a_reaped_child_is_no_longer_ours_to_wait_for() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        wait_exited(pid).unwrap();
        // Exited and seen, but not reaped: still a zombie of ours.
        assert!(has_exited(pid).unwrap());
        assert!(!is_alive(pid));
        assert!(reap_until(pid, std::time::Instant::now()));
        assert!(has_exited(pid).is_err());
        assert!(
            child.try_wait().is_err(),
            "reaped above, so std cannot reap it again"
        );
    }

    /// The child side of `exit_now_skips_everything`: run only in the copy that test starts.
    #[test]
    fn exit_now_in_a_copy() {
        if std::env::var_os("COMMON_SYS_EXIT_NOW").is_some() {
            // A pending stdout line would be flushed by `process::exit`; `_exit` drops it.
            print!("never flushed");
            exit_now(42);
        }
    }

    #[test]
    fn exit_now_skips_everything() {
        // Under `cargo test` the current executable is this test binary: run one test in a copy.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "demo::sys::tests::exit_now_in_a_copy",
                "--nocapture",
            ])
            .args(["--test-threads", "1", "-q"])
            .env("COMMON_SYS_EXIT_NOW", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(42));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("never flushed"));
    }

    #[test]
    fn the_clock_and_the_ids_read_sensibly() {
        let (a, b) = (monotonic_nanos(), monotonic_nanos());
        assert!(b >= a);
        assert_eq!(
            user_id(),
            std::fs::metadata("/proc/self")
                .map(|m| { std::os::unix::fs::MetadataExt::uid(&m) })
                .unwrap()
        );
        assert_eq!(parent_pid(), std::os::unix::process::parent_id());
        assert!(!std::thread::spawn(is_main_thread).join().unwrap());
    }
}
