//! When the machine, not the command line, stops a demo: a read-only or full temporary folder,
//! a full `/dev/shm`, too few descriptors or processes. One exit status says so,
//! [`MACHINE_STATUS`] (71), with one line that names the resource and what to change.
//!
//! A student's machine is not ours: a container gives `/dev/shm` 64 MiB, a shared server sets
//! `ulimit -n 64`, a school account has a read-only `TMPDIR`. None of that is a bug of the
//! demo or bad input from its user, and a panic or a `Bus error` teaches nothing. So:
//!
//! - A demo checks what it can before it starts: [`writable_tmpdir`] for the folder where
//!   ipc-channel and the file locks live.
//! - Shared memory is reserved, not promised: [`reserve`] asks the file system for every page of
//!   a segment up front (`fallocate`), so a full `/dev/shm` is an error at creation instead of a
//!   `SIGBUS` at the first write to a page that has no room.
//! - Whatever fails later with a resource's error (`EMFILE`, `EAGAIN` from `fork`, `ENOSPC`,
//!   `EROFS`, ...) is recognised in the error's chain by [`lack`], which says which resource
//!   ran out and what to change; `main` exits with [`MACHINE_STATUS`]
//!   ([`crate::demo::cli::exit_status`] does it).
//!
//! ```
//! use common::demo::machine::{lack, MachineError};
//! let e = std::io::Error::from_raw_os_error(libc::EMFILE);
//! let why = lack(&e).expect("a lack of descriptors");
//! assert!(why.contains("ulimit -n"), "{why}");
//! assert!(lack(&std::io::Error::other("a wrong answer")).is_none());
//! let said = MachineError("/dev/shm is full: free some of it".into());
//! assert_eq!(lack(&said).as_deref(), Some("/dev/shm is full: free some of it"));
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// The exit status of a run that this machine cannot give what it needs: `EX_OSERR` of
/// `sysexits.h` ("an operating system error: cannot fork, cannot create a pipe").
pub const MACHINE_STATUS: u8 = 71;

/// A resource the run needs and this machine lacks. Its message names the resource and what to
/// change ("TMPDIR=/x is read-only: set TMPDIR to a writable folder").
#[derive(Debug)]
pub struct MachineError(pub String);

impl std::fmt::Display for MachineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MachineError {}

/// What `err` says this machine lacks, if anything: the message of a [`MachineError`] in its
/// chain, or for an operating-system error of a resource (found as an `io::Error` in the chain,
/// or as the `(os error N)` that std writes into a message that crossed a process), a sentence
/// that names the resource and what to change. `None` for any other error.
pub fn lack(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    let mut errno = None;
    while let Some(e) = next {
        if let Some(m) = e.downcast_ref::<MachineError>() {
            return Some(m.0.clone());
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(m) = io.get_ref().and_then(|i| i.downcast_ref::<MachineError>()) {
                return Some(m.0.clone());
            }
            errno = errno.or(io.raw_os_error().filter(|&n| advice(n).is_some()));
        }
        errno = errno.or(os_error_in(&e.to_string()).filter(|&n| advice(n).is_some()));
        next = e.source();
    }
    errno.and_then(advice)
}

/// The `N` of the last `(os error N)` in `message`: how std's `io::Error` shows an errno.
fn os_error_in(message: &str) -> Option<i32> {
    let (_, after) = message.rsplit_once("(os error ")?;
    after.split(')').next()?.parse().ok()
}

/// The resource behind `errno` and what to change, for the errors a missing resource causes.
/// It follows the error's own words ("Too many open files (os error 24)"), so it does not
/// repeat them.
fn advice(errno: i32) -> Option<String> {
    let tmp = std::env::temp_dir();
    let tmp = tmp.display();
    let words = match errno {
        libc::EMFILE => format!(
            "`ulimit -n` is {}: raise it (`ulimit -n 1024`) or use fewer --workers",
            limit(rustix::process::Resource::Nofile)
        ),
        libc::ENFILE => "the system's table of open files is full: close some programs or use \
                         fewer --workers"
            .to_string(),
        libc::EAGAIN => format!(
            "processes and threads are limited: `ulimit -u` is {}{}; raise the limit or use \
             fewer --workers",
            limit(rustix::process::Resource::Nproc),
            pids_max().map_or(String::new(), |n| format!(", this cgroup allows {n}"))
        ),
        libc::ENOSPC | libc::EDQUOT => format!(
            "/dev/shm has {} free, TMPDIR={tmp} has {}: free some space, or use smaller sizes",
            free_words(Path::new("/dev/shm")),
            free_words(&std::env::temp_dir())
        ),
        libc::ENOMEM => "out of memory: use fewer --workers or smaller sizes".to_string(),
        libc::EROFS => format!(
            "TMPDIR={tmp} is read-only: set TMPDIR to a writable folder, or unset it for /tmp"
        ),
        libc::EACCES => {
            format!("TMPDIR={tmp}: set TMPDIR to a folder you may write, or unset it for /tmp")
        }
        _ => return None,
    };
    Some(words)
}

/// The `pids.max` of this process's pids cgroup (v1 or v2), if it has a limit: a container's
/// limit of processes and threads, which `ulimit -u` does not show.
fn pids_max() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let base = match controllers {
            c if c.split(',').any(|c| c == "pids") => "/sys/fs/cgroup/pids",
            "" => "/sys/fs/cgroup",
            _ => return None,
        };
        let max = std::fs::read_to_string(format!("{base}{path}/pids.max")).ok()?;
        max.trim().parse().ok()
    })
}

/// A soft limit in words: the number, or "unlimited".
fn limit(resource: rustix::process::Resource) -> String {
    match rustix::process::getrlimit(resource).current {
        Some(n) => n.to_string(),
        None => "unlimited".to_string(),
    }
}

/// Bytes an unprivileged process may still write to the file system of `path` (`statvfs`).
///
/// # Errors
/// If `path` cannot be examined (it does not exist, for instance).
pub fn free_space(path: &Path) -> io::Result<u64> {
    let stats = rustix::fs::statvfs(path)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Checks that `needed` bytes fit in the free space of the file system of `dir` (`/dev/shm`
/// before a segment is made: writing past the free space would kill the writer with `SIGBUS`).
///
/// ```
/// use common::demo::machine::{self, MachineError};
/// machine::check_room(std::path::Path::new("/dev/shm"), 4096, "a page").expect("room");
/// let e = machine::check_room(std::path::Path::new("/dev/shm"), u64::MAX, "a huge image");
/// let e = e.unwrap_err();
/// assert!(common::demo::cli::find_in_chain::<MachineError>(&e), "{e}");
/// assert!(e.to_string().starts_with("a huge image needs "), "{e}");
/// ```
///
/// # Errors
/// A [`MachineError`] (inside an `io::Error`) that starts with `what` (the scenario and its
/// object), says what is needed and free, and what to do; or the `statvfs` error.
pub fn check_room(dir: &Path, needed: u64, what: &str) -> io::Result<()> {
    let free = free_space(dir)?;
    if needed <= free {
        return Ok(());
    }
    let words = format!(
        "{what} needs {} in {}, which has {} free: free some of it, or ask for less",
        size(needed),
        dir.display(),
        size(free)
    );
    Err(io::Error::new(
        io::ErrorKind::StorageFull,
        MachineError(words),
    ))
}

/// [`free_space`] in words: "1.5 MiB", or "an unknown amount".
fn free_words(path: &Path) -> String {
    match free_space(path) {
        Ok(bytes) => size(bytes),
        Err(_) => "an unknown amount".to_string(),
    }
}

/// Bytes in words, with a unit that fits: "0 bytes", "4.0 KiB", "1.2 MiB", "3.5 GiB".
fn size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", b / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", b / 1_048_576.0),
        _ => format!("{:.1} GiB", b / 1_073_741_824.0),
    }
}

/// The temporary folder (`TMPDIR`, else `/tmp`), checked to be a folder this process may create
/// files in: ipc-channel puts its sockets there, and the file-lock scenarios their files.
///
/// ```
/// let tmp = common::demo::machine::writable_tmpdir().expect("a writable TMPDIR here");
/// assert!(tmp.is_dir());
/// ```
///
/// # Errors
/// A [`MachineError`] naming the folder and what to do: it does not exist, is not a folder, or
/// is read-only (for this user, or mounted so).
pub fn writable_tmpdir() -> Result<PathBuf, MachineError> {
    let tmp = std::env::temp_dir();
    let fix = "set TMPDIR to a writable folder, or unset it for /tmp";
    if !tmp.is_dir() {
        let what = if tmp.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(MachineError(format!(
            "TMPDIR={} {what}: {fix}",
            tmp.display()
        )));
    }
    let access = rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK;
    if let Err(e) = rustix::fs::access(&tmp, access) {
        let why = if e == rustix::io::Errno::ROFS {
            "is on a read-only file system"
        } else {
            "is not writable"
        };
        return Err(MachineError(format!(
            "TMPDIR={} {why}: {fix}",
            tmp.display()
        )));
    }
    Ok(tmp)
}

/// Reserves `len` bytes of `file` (a new segment in `/dev/shm`) with `fallocate`, so that every
/// page has room before anyone maps it: on a full `tmpfs`, a page past the free space can be
/// mapped but not written, and the write ends the program with `SIGBUS`. The new bytes are
/// zeros, and the file is at least `len` long afterwards (as `set_len` would make it).
///
/// # Errors
/// A [`MachineError`] (inside an `io::Error` of the same kind) when there is no room, naming
/// the bytes needed and the free space of `/dev/shm`; the `fallocate` error otherwise.
pub fn reserve(file: &std::fs::File, len: u64, what: &str) -> io::Result<()> {
    let flags = rustix::fs::FallocateFlags::empty();
    match rustix::fs::fallocate(file, flags, 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::NOSPC => {
            let words = format!(
                "{what} needs {} in /dev/shm, which has {} free: free some of it, or ask for less",
                size(len),
                free_words(Path::new("/dev/shm"))
            );
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                MachineError(words),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_in_a_message_is_found() {
        assert_eq!(
            os_error_in("spawn: Too many open files (os error 24)"),
            Some(24)
        );
        assert_eq!(os_error_in("no errno here"), None);
    }

    #[test]
    fn a_resource_error_deep_in_a_chain_is_a_lack() {
        let inner = io::Error::from_raw_os_error(libc::ENOSPC);
        let outer = io::Error::other(format!("a segment: {inner}"));
        let why = lack(&outer).expect("ENOSPC is a lack of space");
        assert!(why.contains("/dev/shm has"), "{why}");
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(4096), "4.0 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
        let eagain = io::Error::from_raw_os_error(libc::EAGAIN);
        assert!(lack(&eagain).expect("a lack").contains("ulimit -u"));
    }

    #[test]
    fn other_errors_are_not_a_lack() {
        assert!(lack(&io::Error::from_raw_os_error(libc::EINVAL)).is_none());
        assert!(lack(&io::Error::other("result 3, expected 4")).is_none());
    }

    #[test]
    fn a_reserved_file_has_its_length_in_zeros() {
        let path = std::env::temp_dir().join(format!("machine-reserve-{}", std::process::id()));
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .expect("a scratch file");
        let _ = std::fs::remove_file(&path); // the open file stays usable, nothing is left
        reserve(&file, 3 * 4096, "a test file").expect("room for 12 KiB");
        assert_eq!(file.metadata().expect("its size").len(), 3 * 4096);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut bytes).expect("readable");
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
