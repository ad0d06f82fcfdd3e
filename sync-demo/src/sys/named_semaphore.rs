//! A POSIX named semaphore (`sem_open`), which unrelated processes open by name.

use std::ffi::CString;
use std::io;
use std::time::Duration;

/// A POSIX named semaphore, closed on drop and unlinked on drop if this process created it and
/// has not unlinked it yet.
#[derive(Debug)]
#[must_use = "dropping it closes the semaphore (and unlinks it, for its creator)"]
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
