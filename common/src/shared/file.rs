//! The sealed memory file behind a process pool's [`Shared`](crate::Shared), and the one
//! `unsafe` it needs: a read-only mapping read as `&[u8]`.
//!
//! Why a memfd: it has no name, so no directory holds it and nothing can leak it. It lives
//! while a descriptor or a mapping of it lives, in whichever process: when the pool's
//! process dies, even by `SIGKILL`, the kernel closes its descriptors, and the workers die
//! with it (`PR_SET_PDEATHSIG`), so the memory goes back. Nothing in `/dev/shm`, nothing to
//! unlink.
//!
//! Why seals: a worker reads the file's bytes as a `&[u8]`, which Rust promises nobody
//! changes while the borrow lives. `F_SEAL_WRITE` makes every later write fail (the kernel
//! refuses it even to the creator), `F_SEAL_SHRINK` keeps the pages from vanishing under the
//! mapping (which would be a `SIGBUS`), `F_SEAL_GROW` keeps the length what the reference
//! says, and `F_SEAL_SEAL` keeps anyone from undoing them (seals can only be added). A file
//! is mapped only after those seals are checked on it, so [`Sealed::open`] is sound whatever
//! reference it is given: at worst it refuses.
//!
//! How a worker reaches it: through `/proc/<pid>/fd/<n>` of the process that holds it, which
//! opens the same file afresh. The kernel allows it to a process of the same user that may
//! read the holder's memory (`PTRACE_MODE_READ`: the pool's own children); no descriptor
//! passing, and the pool's socket protocol is unchanged.

use rustix::fs::{self, MemfdFlags, Mode, OFlags, SealFlags};
use rustix::mm::{self, MapFlags, ProtFlags};
use serde::{Deserialize, Serialize};
use std::io::{BufWriter, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Every seal a shared file carries, and that [`Sealed::open`] checks before mapping it.
fn all_seals() -> SealFlags {
    SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL
}

/// How long [`Sealed::create`] goes on asking for seals the kernel calls busy.
const SEAL_PATIENCE: Duration = Duration::from_secs(2);

/// Calls `add` (adding the seals) until it succeeds, fails for another reason than `EBUSY`,
/// or `patience` has passed; the bound can overrun by one call, in which the kernel itself
/// waits at most about 150 ms.
///
/// Why busy happens: the kernel refuses `F_SEAL_WRITE` while a page of the file holds a
/// reference it cannot account for. Nothing here maps the file writable, so such a reference
/// is the kernel's own and short-lived: reclaim or DAMON's `pageout` holding the page, which
/// once outlasted the kernel's wait in CI on a loaded 2-core VM.
fn seal_patiently(
    mut add: impl FnMut() -> rustix::io::Result<()>,
    patience: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match add() {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::BUSY) if start.elapsed() < patience => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(rustix::io::Errno::BUSY) => {
                return Err(format!("sealing: the kernel said busy for {patience:?}"))
            }
            Err(e) => return Err(format!("sealing: {e}")),
        }
    }
}

/// What crosses a worker's socket in place of a shared value: where to open its file, and
/// which file it must be. 28 bytes of fields; about 60 encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reference {
    /// The process holding the file open, and its descriptor there.
    pub(crate) pid: u32,
    pub(crate) fd: i32,
    /// The file's identity: a descriptor number may be reused for another file once the
    /// holder closes it, an inode is not reused while someone has the file open.
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// The encoding's length in bytes.
    pub(crate) len: u64,
}

/// A sealed memory file, open in this process.
#[derive(Debug)]
pub(crate) struct Sealed {
    fd: OwnedFd,
    dev: u64,
    ino: u64,
    len: u64,
}

impl Sealed {
    /// A new memory file holding what `write` writes, sealed.
    ///
    /// # Errors
    /// The system call's error (no memory, too many open files), or `write`'s.
    pub(crate) fn create(
        write: impl FnOnce(&mut dyn Write) -> Result<(), String>,
    ) -> Result<Sealed, String> {
        // Close-on-exec: a worker opens it through /proc; no child inherits it.
        let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        let fd = fs::memfd_create("common-shared", flags).map_err(|e| format!("memfd: {e}"))?;
        let mut file = std::fs::File::from(fd);
        {
            let mut out = BufWriter::with_capacity(1 << 20, &mut file);
            write(&mut out)?;
            out.flush().map_err(|e| format!("writing the memfd: {e}"))?;
        }
        let fd = OwnedFd::from(file);
        seal_patiently(|| fs::fcntl_add_seals(&fd, all_seals()), SEAL_PATIENCE)?;
        let stat = fs::fstat(&fd).map_err(|e| format!("fstat: {e}"))?;
        Ok(Sealed {
            dev: stat.st_dev,
            ino: stat.st_ino,
            len: stat.st_size as u64,
            fd,
        })
    }

    /// How another process of this user finds this file.
    pub(crate) fn reference(&self) -> Reference {
        Reference {
            pid: std::process::id(),
            fd: self.fd.as_raw_fd(),
            dev: self.dev,
            ino: self.ino,
            len: self.len,
        }
    }

    /// Opens the file that `at` names, read-only, checking that it is that very file, of that
    /// length, with every seal.
    ///
    /// # Errors
    /// The holder closed it (or its process is gone), its descriptor now names another
    /// file, or the file is not a sealed memory file of that length.
    pub(crate) fn open(at: &Reference) -> Result<Sealed, String> {
        let gone = || {
            format!(
                "the shared value is gone (pid {} closed it, or ended)",
                at.pid
            )
        };
        let path = format!("/proc/{}/fd/{}", at.pid, at.fd);
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        let fd = fs::open(&path, flags, Mode::empty()).map_err(|e| match e {
            rustix::io::Errno::NOENT | rustix::io::Errno::SRCH => gone(),
            e => format!("opening {path}: {e}"),
        })?;
        let stat = fs::fstat(&fd).map_err(|e| format!("fstat: {e}"))?;
        if (stat.st_dev, stat.st_ino) != (at.dev, at.ino) {
            return Err(gone());
        }
        let seals = fs::fcntl_get_seals(&fd).map_err(|e| format!("{path} is not a memfd: {e}"))?;
        if !seals.contains(all_seals()) {
            return Err(format!("{path} is not sealed against changes"));
        }
        if stat.st_size as u64 != at.len {
            return Err(format!(
                "{path} holds {} bytes, not {}",
                stat.st_size, at.len
            ));
        }
        Ok(Sealed {
            fd,
            dev: at.dev,
            ino: at.ino,
            len: at.len,
        })
    }

    /// Its bytes, mapped read-only for as long as the mapping lives.
    ///
    /// # Errors
    /// The system call's error (no address space left).
    pub(crate) fn map(&self) -> Result<Mapping, String> {
        let len = usize::try_from(self.len).map_err(|_| "too large to map".to_string())?;
        if len == 0 {
            // mmap refuses a length of 0; there is nothing to read anyway.
            return Ok(Mapping { at: None, len: 0 });
        }
        // SAFETY: (1) a null address lets the kernel choose a fresh range: no existing mapping
        // of this process is replaced. (2) The descriptor is open and readable (`open` opened
        // it read-only, `create` made it), and `len` is the file's size.
        let at = unsafe {
            mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                self.fd.as_fd(),
                0,
            )
        }
        .map_err(|e| format!("mmap: {e}"))?;
        Ok(Mapping { at: Some(at), len })
    }
}

/// A sealed file opened from a reference and mapped for good: plain data read in place by
/// every handle of a worker (`cache::resolve_slice`).
pub(crate) struct Mapped {
    mapping: Mapping,
    sealed: Sealed,
}

impl Mapped {
    /// Opens and maps the file `at` names.
    ///
    /// # Errors
    /// As [`Sealed::open`] and [`Sealed::map`].
    pub(crate) fn open(at: &Reference) -> Result<Mapped, String> {
        let sealed = Sealed::open(at)?;
        Ok(Mapped {
            mapping: sealed.map()?,
            sealed,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.mapping.bytes()
    }

    pub(crate) fn sealed(&self) -> &Sealed {
        &self.sealed
    }
}

/// Whether the process at `at.pid` still holds the file `at` names at that descriptor (see
/// `cache.rs`: a worker's copy goes once its pool's last handle is dropped).
pub(crate) fn still_held(at: &Reference) -> bool {
    let path = format!("/proc/{}/fd/{}", at.pid, at.fd);
    fs::stat(&path).is_ok_and(|stat| (stat.st_dev, stat.st_ino) == (at.dev, at.ino))
}

/// A read-only mapping of a whole sealed file (see [`Sealed::map`]).
pub(crate) struct Mapping {
    at: Option<*mut std::ffi::c_void>,
    len: usize,
}

impl Mapping {
    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self.at {
            // SAFETY: (1) `at` is the start of a readable mapping of `len` bytes (`Sealed::map`),
            // unmapped only by `drop`, which cannot run while this borrow of `self` lives.
            // (2) Nobody can change those bytes: the file carries `F_SEAL_WRITE` (checked by
            // `Sealed::open`, set by `Sealed::create` before any reference to it exists), and
            // `F_SEAL_SHRINK` keeps every page there (no `SIGBUS`); `F_SEAL_SEAL` keeps both.
            Some(at) => unsafe { std::slice::from_raw_parts(at.cast::<u8>(), self.len) },
            None => &[],
        }
    }
}

// SAFETY: a `Mapping` is a read-only view of bytes nobody can change (the seals, see
// `bytes`), unmapped only by its `Drop`, which needs it by value: moving it to another
// thread moves only the right to unmap it.
unsafe impl Send for Mapping {}
// SAFETY: shared between threads it only hands out `&[u8]` of those unchanging bytes.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(at) = self.at {
            // SAFETY: `at` and `len` are exactly what `mmap` returned and was given, unmapped
            // once, here; no borrow of the bytes outlives `self` (`bytes` borrows it).
            let _ = unsafe { mm::munmap(at, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    #[test]
    fn a_busy_seal_is_asked_for_again() {
        let mut answers = [Err(Errno::BUSY), Err(Errno::BUSY), Ok(())].into_iter();
        let mut calls = 0;
        let sealed = seal_patiently(
            || {
                calls += 1;
                answers.next().expect("asked past success")
            },
            Duration::from_secs(5),
        );
        assert_eq!(sealed, Ok(()));
        assert_eq!(calls, 3);
    }

    #[test]
    fn a_seal_busy_for_good_fails_once_patience_runs_out() {
        let start = Instant::now();
        let sealed = seal_patiently(|| Err(Errno::BUSY), Duration::from_millis(100));
        let waited = start.elapsed();
        assert_eq!(
            sealed,
            Err("sealing: the kernel said busy for 100ms".to_string())
        );
        assert!(
            waited >= Duration::from_millis(100),
            "gave up after {waited:?}"
        );
        assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    }

    #[test]
    fn another_failure_is_not_asked_again() {
        let mut calls = 0;
        let sealed = seal_patiently(
            || {
                calls += 1;
                Err(Errno::PERM)
            },
            Duration::from_secs(5),
        );
        assert!(sealed.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_created_file_opens_sealed_with_its_bytes() {
        let sealed = Sealed::create(|out: &mut dyn Write| {
            out.write_all(b"shared once").map_err(|e| e.to_string())
        })
        .expect("a sealed file");
        let opened = Sealed::open(&sealed.reference()).expect("opens through /proc");
        assert_eq!(opened.map().expect("maps").bytes(), b"shared once");
    }
}
