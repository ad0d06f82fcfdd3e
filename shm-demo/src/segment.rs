//! A shared-memory segment that cannot outlive the demo: named, guarded, unlinked early, swept.
//!
//! The shared_memory crate removes a segment only in its owner's `Drop`, and a process that is
//! killed, interrupted or calls `process::exit` runs no `Drop`: the name stays in `/dev/shm`
//! (a file in a RAM file system) until reboot. Four measures close every gap:
//!
//! 1. **A recognisable name** `/shm-demo-<owner pid>-<scenario>-<n>`, so anyone can tell whose
//!    segment it is and whether its owner still lives. No flink files are used (the crate's
//!    optional "file link" would be one more file to leak).
//! 2. **A [`PathGuard`]** for `/dev/shm/<name>`, registered *before* the segment exists: the
//!    Ctrl-C/SIGTERM handler of `common::init` removes it, and so does unwinding from a panic.
//! 3. **Unlink early**: once every child has reported that it mapped the segment, the name is
//!    removed. Mappings stay valid (the kernel frees the memory when the last one goes), so from
//!    here on even SIGKILL cannot leak anything.
//! 4. **Sweep stale names** at start: a segment whose owner pid is no longer alive was leaked by
//!    a SIGKILL between creation and unlink, and is removed ([`remove_stale`]).
//!
//! Before a segment is created, the free space of `/dev/shm` is checked ([`free_space`]): a
//! segment larger than the file system's free space can be created and mapped, but the first
//! write past the free space kills the process with `SIGBUS`, not an error. Right after it is
//! created, every page is reserved (`fallocate`, [`common::demo::machine::reserve`]), so that
//! another program filling `/dev/shm` in between is an error here, never a `SIGBUS` later.
//!
//! # The only `unsafe` of the crate: checked, typed views
//!
//! A mapping is raw memory that other processes change too. The scenarios never see its address;
//! they ask for a typed view, checked for bounds and alignment, that borrows the segment:
//!
//! - [`Segment::atomic_u64`] / [`Segment::atomic_u32`] (`&self`): an atomic at an offset. Any
//!   number of them may live together, and other processes may use the same bytes atomically.
//! - [`Segment::bytes`], [`Segment::bytes_mut`], [`Segment::u32s`], [`Segment::u32s_mut`]
//!   (`&mut self`): plain slices. Borrowing the segment mutably means that no atomic view or
//!   lock of this process can touch the bytes while the slice lives; other processes are outside
//!   the borrow checker's reach, so each scenario's protocol keeps them off those bytes then
//!   (the parent writes before it says "go"; each child writes only its own rows).
//! - [`Segment::create_lock`] / [`Opened::open_lock`]: a process-shared pthread mutex (raw_sync)
//!   at an offset, guarding an atomic `u64` at another; the lock cannot outlive the mapping.
//!
//! `Opened` (a child's mapping) has the same views.
//!
//! Layout: this file holds the two types, their views and the lock, and every `unsafe` block
//! of the crate; `segment/lifecycle.rs` creates, opens and unlinks (and holds the test hooks);
//! `segment/listing.rs` lists this demo's segments and sweeps the stale ones.

use anyhow::{anyhow, bail, Context, Result};
use common::demo::cleanup::PathGuard;
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use raw_sync::Timeout;
use shared_memory::Shmem;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

mod lifecycle;
mod listing;

pub use lifecycle::{dev_shm_path, mib, set_hooks, Hooks};
pub use listing::{list, owner_of, print_list, remove_stale, PREFIX};

/// A segment created by this process. Dropping it unmaps it and removes its name if still there.
#[must_use = "dropping it unmaps the segment and removes its name"]
pub struct Segment {
    // Field order matters: the mapping is dropped before the guard removes the name.
    shmem: Shmem,
    guard: Option<PathGuard>,
    os_id: String,
}

/// A segment opened by a child by its name. Dropping it unmaps it; it never removes the name.
#[must_use = "dropping it unmaps the segment"]
pub struct Opened {
    shmem: Shmem,
}

/// The bytes an unprivileged process may still write to `/dev/shm` (`statvfs`).
///
/// # Errors
/// If `/dev/shm` cannot be examined (it does not exist, for instance).
pub fn free_space() -> Result<u64> {
    // rustix's statvfs is the safe wrapper of the same call (no `unsafe` needed here).
    let stats = rustix::fs::statvfs("/dev/shm")
        .map_err(std::io::Error::from)
        .context("statvfs(/dev/shm)")?;
    Ok(stats.f_bavail * stats.f_frsize)
}

/// The views of a mapping, the same for the creator's [`Segment`] and a child's [`Opened`].
macro_rules! views {
    ($t:ty) => {
        impl $t {
            /// The length of the mapping in bytes.
            pub fn len(&self) -> usize {
                self.shmem.len()
            }

            /// Always false: a segment has at least one byte (shared_memory refuses size 0).
            pub fn is_empty(&self) -> bool {
                self.shmem.len() == 0
            }

            /// The address of `count` values of type `T` from byte `offset`, checked to lie
            /// inside the mapping and to be aligned for `T`.
            fn checked<T>(&self, offset: usize, count: usize) -> Result<*mut T> {
                let size = std::mem::size_of::<T>();
                let end = count
                    .checked_mul(size)
                    .and_then(|n| n.checked_add(offset))
                    .filter(|&end| end <= self.len());
                let Some(_) = end else {
                    bail!(
                        "{count} x {size} bytes from offset {offset} lie outside the \
                         {}-byte segment",
                        self.len()
                    );
                };
                // In bounds, so the pointer stays inside the mapping (no overflow either).
                let at = self.shmem.as_ptr().wrapping_add(offset);
                if (at as usize) % std::mem::align_of::<T>() != 0 {
                    bail!("offset {offset} is not aligned for a {size}-byte value");
                }
                Ok(at.cast::<T>())
            }

            /// The atomic `u64` at byte `offset` (bounds and alignment checked).
            ///
            /// # Errors
            /// The offset is out of bounds or misaligned.
            pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
                let at = self.checked::<AtomicU64>(offset, 1)?;
                // SAFETY: (1) `at` is in bounds and aligned (checked); (2) the mapping lives
                // as long as `&self`; (3) any bit pattern is a valid AtomicU64, and the mapping
                // is initialised (zero-filled by ftruncate); (4) in this process, plain views
                // need `&mut self`, so none exists while this shared one does.
                Ok(unsafe { &*at })
            }

            /// The atomic `u32` at byte `offset` (bounds and alignment checked).
            ///
            /// # Errors
            /// The offset is out of bounds or misaligned.
            pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
                let at = self.checked::<AtomicU32>(offset, 1)?;
                // SAFETY: as in `atomic_u64`.
                Ok(unsafe { &*at })
            }

            /// Bytes `range` of the segment, to read.
            ///
            /// # Errors
            /// The range is out of bounds.
            pub fn bytes(&mut self, range: Range<usize>) -> Result<&[u8]> {
                Ok(self.bytes_mut(range)?)
            }

            /// Bytes `range` of the segment, to write.
            ///
            /// # Errors
            /// The range is out of bounds.
            pub fn bytes_mut(&mut self, range: Range<usize>) -> Result<&mut [u8]> {
                let count = range
                    .end
                    .checked_sub(range.start)
                    .context("a reversed range")?;
                let at = self.checked::<u8>(range.start, count)?;
                // SAFETY: (1) in bounds (checked); (2) the mapping lives as long as the
                // `&mut self` borrow, which also keeps every other view of this process away;
                // (3) any bytes are valid u8s, and the mapping is initialised.
                Ok(unsafe { std::slice::from_raw_parts_mut(at, count) })
            }

            /// `count` `u32`s from element `first` (byte `4 * first`), to read.
            ///
            /// # Errors
            /// The range is out of bounds.
            pub fn u32s(&mut self, first: usize, count: usize) -> Result<&[u32]> {
                Ok(self.u32s_mut(first, count)?)
            }

            /// `count` `u32`s from element `first` (byte `4 * first`), to write.
            ///
            /// # Errors
            /// The range is out of bounds.
            pub fn u32s_mut(&mut self, first: usize, count: usize) -> Result<&mut [u32]> {
                let offset = first.checked_mul(4).context("an offset past usize")?;
                let at = self.checked::<u32>(offset, count)?;
                // SAFETY: as in `bytes_mut`; alignment is checked and any bits are a valid u32.
                Ok(unsafe { std::slice::from_raw_parts_mut(at, count) })
            }
        }
    };
}

views!(Segment);
views!(Opened);

/// A process-shared mutex (raw_sync, a pthread mutex) in a segment, guarding an atomic `u64`.
/// It borrows the mapping, so it cannot outlive it.
pub struct SharedLock<'a> {
    lock: Box<dyn LockImpl>,
    value: &'a AtomicU64,
    _mapping: PhantomData<&'a Shmem>,
}

/// Bytes a raw_sync mutex needs at the start of its region (a `pthread_mutex_t`).
const MUTEX_BYTES: usize = std::mem::size_of::<libc::pthread_mutex_t>();

impl SharedLock<'_> {
    /// Runs `f` on the guarded value while holding the lock, waiting at most `wait` for it.
    /// The value is an atomic, so even code that forgets the lock cannot cause undefined
    /// behaviour; the lock is what makes a load-then-store whole.
    ///
    /// # Errors
    /// The lock did not come within `wait` (a holder died holding it, say).
    pub fn with<R>(&self, wait: Duration, f: impl FnOnce(&AtomicU64) -> R) -> Result<R> {
        let guard = self
            .lock
            .try_lock(Timeout::Val(wait))
            .map_err(|e| anyhow!("the shared lock: {e}"))?;
        let result = f(self.value);
        drop(guard);
        Ok(result)
    }
}

impl Segment {
    /// Creates a mutex at byte `lock` guarding the `u64` at byte `value`. The lock's bytes must
    /// still be zero (a fresh segment): initialising a mutex that someone may hold is undefined.
    ///
    /// # Errors
    /// Out of bounds, misaligned, overlapping, already initialised, or the pthread call failed.
    pub fn create_lock(&self, lock: usize, value: usize) -> Result<SharedLock<'_>> {
        let (at, value) = self.lock_region(lock, value)?;
        let words = (0..MUTEX_BYTES / 8).map(|i| self.atomic_u64(lock + 8 * i));
        for word in words {
            if word?.load(Relaxed) != 0 {
                bail!("the bytes at offset {lock} are in use: a lock is created only once");
            }
        }
        // SAFETY: (1) `at` points to MUTEX_BYTES in-bounds bytes of the mapping (checked), not
        // yet a mutex (zero, checked), which the returned lock borrows, so they outlive it;
        // (2) the data pointer is the guarded value's address, which raw_sync only stores.
        let (lock, _) = unsafe { Mutex::new(at, value.as_ptr().cast()) }
            .map_err(|e| anyhow!("initialising the shared lock: {e}"))?;
        Ok(SharedLock {
            lock,
            value,
            _mapping: PhantomData,
        })
    }
}

impl Opened {
    /// Opens the mutex the creator made with [`Segment::create_lock`] at the same offsets.
    ///
    /// # Errors
    /// Out of bounds, misaligned, overlapping, or the lock's bytes are not a mutex yet.
    pub fn open_lock(&self, lock: usize, value: usize) -> Result<SharedLock<'_>> {
        let (at, value) = self.lock_region(lock, value)?;
        let mut words = (0..MUTEX_BYTES / 8).map(|i| self.atomic_u64(lock + 8 * i));
        // A process-shared mutex is never all zero bytes (its kind records "shared").
        if !words.any(|w| w.is_ok_and(|w| w.load(Relaxed) != 0)) {
            bail!("no lock at offset {lock}: the creator has not made one there");
        }
        // SAFETY: as in `create_lock`, except that the bytes hold a process-shared mutex that
        // the creator initialised before it passed the segment's name on.
        let (lock, _) = unsafe { Mutex::from_existing(at, value.as_ptr().cast()) }
            .map_err(|e| anyhow!("opening the shared lock: {e}"))?;
        Ok(SharedLock {
            lock,
            value,
            _mapping: PhantomData,
        })
    }
}

/// The lock region checks shared by the creator and the children.
macro_rules! lock_region {
    ($t:ty) => {
        impl $t {
            fn lock_region(&self, lock: usize, value: usize) -> Result<(*mut u8, &AtomicU64)> {
                let at = self.checked::<[u64; MUTEX_BYTES / 8]>(lock, 1)?;
                let guarded = self.atomic_u64(value)?;
                if value + 8 > lock && value < lock + MUTEX_BYTES {
                    bail!("the guarded value at {value} overlaps the lock at {lock}");
                }
                Ok((at.cast::<u8>(), guarded))
            }
        }
    };
}

lock_region!(Segment);
lock_region!(Opened);
