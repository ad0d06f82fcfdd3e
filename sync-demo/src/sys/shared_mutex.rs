//! A process-shared pthread mutex (raw_sync) in a shared-memory segment; not robust.

use std::io;
use std::time::Duration;

/// A process-shared pthread mutex (raw_sync) at the start of a shared-memory segment.
#[must_use = "dropping it unmaps the segment (and removes it, for its owner)"]
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
        // ftruncate promised the page; reserve it, so a full /dev/shm is this error, not a
        // SIGBUS when the mutex is first written.
        let path = format!("/dev/shm/{}", os_id.trim_start_matches('/'));
        let file = std::fs::File::options().read(true).write(true).open(path)?;
        common::demo::machine::reserve(&file, 4096, &format!("segment {os_id}"))?;
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
