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
//! write past the free space kills the process with `SIGBUS`, not an error.
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

use anyhow::{anyhow, bail, Context, Result};
use common::cleanup::PathGuard;
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use raw_sync::Timeout;
use shared_memory::{Shmem, ShmemConf};
use std::io::Write;
use std::marker::PhantomData;
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

/// Every segment of this demo is named `/dev/shm/shm-demo-<pid>-...`.
pub const PREFIX: &str = "shm-demo-";

/// Test hooks, set once by `main` from hidden flags (see `src/main.rs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Hooks {
    /// Panic in the parent after every child mapped a segment, before its name is unlinked.
    pub panic_after_map: bool,
    /// Sleep this long after every child mapped a segment, before unlinking (a window for tests
    /// to send a signal while the name still exists).
    pub hold_before_unlink: Option<Duration>,
}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// Installs the test hooks (once; later calls are ignored).
pub fn set_hooks(hooks: Hooks) {
    let _ = HOOKS.set(hooks);
}

/// The `/dev/shm` path of a segment name (`/shm-demo-...`).
pub fn dev_shm_path(os_id: &str) -> PathBuf {
    PathBuf::from("/dev/shm").join(os_id.trim_start_matches('/'))
}

/// A segment created by this process. Dropping it unmaps it and removes its name if still there.
pub struct Segment {
    // Field order matters: the mapping is dropped before the guard removes the name.
    shmem: Shmem,
    guard: Option<PathGuard>,
    os_id: String,
}

impl Segment {
    /// Creates a zero-filled segment of `len` bytes for `scenario`, readable by this user only.
    ///
    /// # Errors
    /// If the segment cannot be created or its mode cannot be set.
    pub fn create(scenario: &str, len: usize) -> Result<Segment> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let os_id = format!(
            "/{PREFIX}{}-{scenario}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Relaxed)
        );
        let path = dev_shm_path(&os_id);
        let free = free_space()?;
        if len as u64 > free {
            bail!(
                "a {} segment does not fit in /dev/shm, which has {} free",
                mib(len as u64),
                mib(free)
            );
        }
        // Registered before the name exists, so that no signal can fall between the two.
        let guard = PathGuard::new(&path);
        let shmem = ShmemConf::new()
            .os_id(&os_id)
            .size(len)
            .create()
            .with_context(|| format!("creating shared memory segment {os_id} of {len} bytes"))?;
        // shared_memory asks shm_open for mode 0600, which the umask can only narrow. Make the
        // mode exactly 0600 anyway, so the segment is readable and writable by this user alone.
        let mode = std::fs::metadata(&path)
            .with_context(|| format!("stat {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o777 != 0o600 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("chmod 0600 {}", path.display()))?;
        }
        Ok(Segment {
            shmem,
            guard: Some(guard),
            os_id,
        })
    }

    /// The name children open the segment by (`/shm-demo-...`).
    pub fn os_id(&self) -> &str {
        &self.os_id
    }

    /// The segment's path under `/dev/shm` (gone once unlinked).
    pub fn path(&self) -> PathBuf {
        dev_shm_path(&self.os_id)
    }

    /// Removes the segment's name; call it once every child has mapped the segment. Existing
    /// mappings stay valid; nobody can open the segment any more, and nothing can leak it.
    ///
    /// # Errors
    /// If the name cannot be removed.
    pub fn unlink(&mut self, out: &mut impl Write) -> Result<()> {
        let hooks = HOOKS.get().copied().unwrap_or_default();
        if hooks.panic_after_map {
            panic!(
                "--panic-after-map: panicking with {} still linked",
                self.os_id
            );
        }
        if let Some(hold) = hooks.hold_before_unlink {
            writeln!(
                out,
                "holding {} before unlinking {} (--hold-before-unlink-ms)",
                common::narrate::millis(hold),
                self.path().display()
            )?;
            out.flush()?;
            std::thread::sleep(hold);
        }
        let path = self.path();
        std::fs::remove_file(&path).with_context(|| format!("unlinking {}", path.display()))?;
        // Our own Drop must not unlink the name again: by then another segment could carry it.
        self.shmem.set_owner(false);
        self.guard = None;
        Ok(())
    }
}

/// A segment opened by a child by its name. Dropping it unmaps it; it never removes the name.
pub struct Opened {
    shmem: Shmem,
}

impl Opened {
    /// Opens and maps the segment `os_id` created by the parent.
    ///
    /// # Errors
    /// If no such segment exists (for example, it was already unlinked).
    pub fn open(os_id: &str) -> Result<Opened> {
        let shmem = ShmemConf::new()
            .os_id(os_id)
            .open()
            .with_context(|| format!("opening shared memory segment {os_id}"))?;
        Ok(Opened { shmem })
    }
}

/// `bytes` in MiB, for messages: `64.0 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// The bytes an unprivileged process may still write to `/dev/shm` (`statvfs`).
///
/// # Errors
/// If `/dev/shm` cannot be examined (it does not exist, for instance).
pub fn free_space() -> Result<u64> {
    let path = std::ffi::CString::new("/dev/shm").expect("no NUL in a literal");
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `stats` points to writable memory
    // the size of a `struct statvfs`, which statvfs fills completely when it returns 0.
    if unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("statvfs(/dev/shm)");
    }
    // SAFETY: statvfs returned 0, so it initialised the whole struct.
    let stats = unsafe { stats.assume_init() };
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

/// The owner pid in a demo segment's file name, if the name is one of ours.
pub fn owner_of(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix(PREFIX)?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

/// This demo's segments in `/dev/shm`, sorted: (file name, owner pid, size, mode).
pub fn list() -> Vec<(String, u32, u64, u32)> {
    let mut found: Vec<_> = common::testing::shm_entries(PREFIX)
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let owner = owner_of(&name)?;
            let meta = std::fs::metadata(&path).ok()?;
            Some((name, owner, meta.len(), meta.permissions().mode() & 0o777))
        })
        .collect();
    found.sort();
    found
}

/// Prints this demo's segments in `/dev/shm` (or that there are none), one line each.
///
/// # Errors
/// Only the writer's errors.
pub fn print_list(out: &mut impl Write, when: &str) -> std::io::Result<usize> {
    let found = list();
    if found.is_empty() {
        writeln!(out, "   /dev/shm {when}: no {PREFIX}* segments")?;
    } else {
        writeln!(out, "   /dev/shm {when}:")?;
    }
    for (name, owner, len, mode) in &found {
        let state = if common::sys::is_alive(*owner) {
            "owner alive"
        } else {
            "owner gone"
        };
        writeln!(out, "     {name}  {len} bytes  mode {mode:04o}  ({state})")?;
    }
    Ok(found.len())
}

/// Removes every demo segment whose owner process no longer runs, and names each one removed.
///
/// Only our user's files can be removed (`/dev/shm` is sticky), and a live owner's segment is
/// never touched, so parallel runs of the demo cannot disturb each other. A reused pid makes a
/// stale segment look alive; it is then left for a later sweep, never removed wrongly. The sweep
/// itself is `common::cleanup::sweep_stale`; this names what it removed.
///
/// # Errors
/// Only the writer's errors.
pub fn remove_stale(out: &mut impl Write) -> std::io::Result<usize> {
    let removed = common::cleanup::sweep_stale(Path::new("/dev/shm"), PREFIX);
    for path in &removed {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let owner = owner_of(&name).map_or_else(|| "?".to_string(), |pid| pid.to_string());
        writeln!(
            out,
            "removed stale segment {} (owner pid {owner} is gone)",
            path.display()
        )?;
    }
    Ok(removed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_checked_for_bounds_and_alignment() {
        let mut seg = Segment::create("unit-views", 4096).unwrap();
        assert!(seg.atomic_u64(4088).is_ok());
        assert!(seg.atomic_u64(4089).is_err(), "past the end");
        assert!(seg.atomic_u64(4).is_err(), "misaligned");
        assert!(seg.atomic_u32(usize::MAX - 2).is_err(), "overflowing");
        assert!(seg.bytes_mut(4000..4097).is_err());
        assert!(seg.u32s_mut(1000, 25).is_err());
        seg.u32s_mut(0, 1024).unwrap()[1023] = 7;
        assert_eq!(seg.atomic_u32(4092).unwrap().load(Relaxed), 7);
    }

    #[test]
    fn a_lock_is_created_once_and_guards_its_value() {
        let seg = Segment::create("unit-lock", 4096).unwrap();
        let lock = seg.create_lock(128, 256).unwrap();
        assert!(
            seg.create_lock(128, 256).is_err(),
            "a second mutex over the first"
        );
        assert!(
            seg.create_lock(512, 520).is_err(),
            "the value overlaps the lock"
        );
        lock.with(Duration::from_secs(1), |v| {
            v.store(v.load(Relaxed) + 1, Relaxed)
        })
        .unwrap();
        assert_eq!(seg.atomic_u64(256).unwrap().load(Relaxed), 1);
    }

    #[test]
    fn owner_pid_is_read_from_our_names_only() {
        assert_eq!(owner_of("shm-demo-4123-lost-update-0"), Some(4123));
        assert_eq!(owner_of("shmem_ABCDEF"), None);
        assert_eq!(owner_of("shm-demo-x-1"), None);
    }
}
