//! The OS primitives std lacks, each behind a small safe type: every `unsafe` block of the crate.
//!
//! - [`NamedSemaphore`]: a POSIX named semaphore (`sem_open`), which unrelated processes open by
//!   name. glibc keeps it as the file `/dev/shm/sem.<name>`, so it outlives every process until
//!   `sem_unlink` removes the name (processes that opened it keep using it).
//! - [`lock_range`] / [`unlock_range`]: `fcntl` record locks on byte ranges of a file. The kernel
//!   checks `F_SETLKW` waits between processes for cycles and refuses to close one (`EDEADLK`).
//! - [`SharedMutex`]: a pthread mutex (raw_sync) placed in a shared-memory segment, so that
//!   several processes lock the same one. It is not robust: if its holder dies, it stays locked.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// A POSIX named semaphore, closed on drop and unlinked on drop if this process created it and
/// has not unlinked it yet.
#[derive(Debug)]
pub struct NamedSemaphore {
    sem: *mut libc::sem_t,
    name: CString,
    linked: bool,
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

impl NamedSemaphore {
    /// Creates the semaphore `name` (it must start with `/` and not exist yet) with `value`
    /// permits.
    ///
    /// # Errors
    /// `sem_open`'s error, e.g. `EEXIST` if the name is taken.
    pub fn create(name: &str, value: u32) -> io::Result<NamedSemaphore> {
        let name = c_name(name)?;
        let mode: libc::c_uint = 0o600;
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call; with O_CREAT,
        // sem_open reads exactly two more arguments, a mode and an unsigned value, passed here
        // with the promoted C types it expects.
        let sem =
            unsafe { libc::sem_open(name.as_ptr(), libc::O_CREAT | libc::O_EXCL, mode, value) };
        if sem == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(NamedSemaphore {
            sem,
            name,
            linked: true,
        })
    }

    /// Opens the existing semaphore `name`, created by another process.
    ///
    /// # Errors
    /// `sem_open`'s error, e.g. `ENOENT` if there is no such name (any more).
    pub fn open(name: &str) -> io::Result<NamedSemaphore> {
        let name = c_name(name)?;
        // SAFETY: `name` is a valid NUL-terminated string; without O_CREAT, sem_open reads no
        // further arguments.
        let sem = unsafe { libc::sem_open(name.as_ptr(), 0) };
        if sem == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        // Only the creator removes the name.
        Ok(NamedSemaphore {
            sem,
            name,
            linked: false,
        })
    }

    /// Takes a permit, waiting at most `limit`; `false` if none came in time.
    ///
    /// # Errors
    /// `sem_timedwait`'s error other than a time-out or an interruption.
    pub fn wait_timeout(&self, limit: Duration) -> io::Result<bool> {
        // sem_timedwait wants an absolute CLOCK_REALTIME deadline.
        let mut deadline = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `deadline` is a valid, writable timespec; CLOCK_REALTIME always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut deadline) };
        let nanos = deadline.tv_nsec as u64 + u64::from(limit.subsec_nanos());
        deadline.tv_sec +=
            limit.as_secs() as libc::time_t + (nanos / 1_000_000_000) as libc::time_t;
        deadline.tv_nsec = (nanos % 1_000_000_000) as libc::c_long;
        loop {
            // SAFETY: `self.sem` came from a successful sem_open and is closed only in Drop, so
            // it is valid here; `deadline` is a valid timespec.
            if unsafe { libc::sem_timedwait(self.sem, &deadline) } == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ETIMEDOUT) => return Ok(false),
                _ => return Err(err),
            }
        }
    }

    /// Gives a permit back.
    ///
    /// # Errors
    /// `sem_post`'s error (`EOVERFLOW` past `SEM_VALUE_MAX`).
    pub fn post(&self) -> io::Result<()> {
        // SAFETY: `self.sem` is valid until Drop (see `wait_timeout`).
        if unsafe { libc::sem_post(self.sem) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Removes the name, so no other process can open it and nothing is left in `/dev/shm`;
    /// processes that already opened the semaphore go on using it.
    ///
    /// # Errors
    /// `sem_unlink`'s error.
    pub fn unlink(&mut self) -> io::Result<()> {
        self.linked = false;
        // SAFETY: `self.name` is a valid NUL-terminated string.
        if unsafe { libc::sem_unlink(self.name.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        if self.linked {
            let _ = self.unlink();
        }
        // SAFETY: `self.sem` came from a successful sem_open and is closed exactly once, here.
        unsafe { libc::sem_close(self.sem) };
    }
}

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

/// A process-shared pthread mutex (raw_sync) at the start of a shared-memory segment.
pub struct SharedMutex {
    // Declared first so it is dropped first: it points into `shmem`.
    lock: Box<dyn raw_sync::locks::LockImpl>,
    shmem: shared_memory::Shmem,
}

fn shm_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl SharedMutex {
    /// Creates segment `os_id` (e.g. `/sync-demo-123-holder`) with an unlocked mutex in it.
    ///
    /// # Errors
    /// The segment or mutex could not be created.
    pub fn create(os_id: &str) -> io::Result<SharedMutex> {
        use raw_sync::locks::{LockInit, Mutex};
        let shmem = shared_memory::ShmemConf::new()
            .size(4096)
            .os_id(os_id)
            .create()
            .map_err(shm_error)?;
        let base = shmem.as_ptr();
        // SAFETY: (1) `base` points to 4096 writable bytes mapped for the life of `shmem`, which
        // outlives `lock` (field order); (2) a pthread mutex plus its data pointer fit in far
        // less than that; (3) nothing else uses the bytes yet, since the segment was just
        // created; (4) we pass the byte after the mutex as its (unused) data pointer.
        let (lock, _) =
            unsafe { Mutex::new(base, base.add(Mutex::size_of(Some(base)))) }.map_err(shm_error)?;
        Ok(SharedMutex { lock, shmem })
    }

    /// Opens segment `os_id` created by another process with [`SharedMutex::create`].
    ///
    /// # Errors
    /// No such segment, or it could not be mapped.
    pub fn open(os_id: &str) -> io::Result<SharedMutex> {
        use raw_sync::locks::{LockInit, Mutex};
        let shmem = shared_memory::ShmemConf::new()
            .os_id(os_id)
            .open()
            .map_err(shm_error)?;
        let base = shmem.as_ptr();
        // SAFETY: as in `create`, and the creator initialized a mutex at `base` before the
        // name reached us (it passes the name on only after `create` returned).
        let (lock, _) = unsafe { Mutex::from_existing(base, base.add(Mutex::size_of(Some(base)))) }
            .map_err(shm_error)?;
        Ok(SharedMutex { lock, shmem })
    }

    /// Locks the mutex and never unlocks it: for a process that is about to be killed.
    ///
    /// # Errors
    /// The `pthread_mutex_lock` error.
    pub fn lock_and_keep(&self) -> io::Result<()> {
        let guard = self.lock.lock().map_err(shm_error)?;
        std::mem::forget(guard);
        Ok(())
    }

    /// Tries to lock for at most `limit`, unlocking again at once; the error (`ETIMEDOUT`) if
    /// the mutex stayed locked.
    ///
    /// # Errors
    /// The `pthread_mutex_timedlock` error, as text.
    pub fn try_lock_for(&self, limit: Duration) -> Result<(), String> {
        let guard = self
            .lock
            .try_lock(raw_sync::Timeout::Val(limit))
            .map_err(|e| e.to_string())?;
        drop(guard);
        Ok(())
    }

    /// Lets the segment's name be removed when this value is dropped (`true`) or not.
    pub fn set_owner(&mut self, owner: bool) {
        self.shmem.set_owner(owner);
    }
}

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
