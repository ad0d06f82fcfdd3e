//! Memory shared between processes on purpose: a POSIX shared-memory segment that holds one
//! value of a type made for it, with its name guarded and unlinked as early as possible.
//!
//! Two processes share nothing unless both map the same memory. A segment is such memory with a
//! name in `/dev/shm`: the parent creates it ([`Segment::create`]), passes the name to its
//! workers, each maps it ([`Segment::open`]), and all of them see one value. What is plumbing,
//! and lives here: the name (`/<program>-<pid>-<tag>`, so that
//! [`crate::demo::cleanup::sweep_stale`] can tell a dead owner's segment), its removal on
//! Ctrl-C ([`crate::demo::cleanup::PathGuard`]), unlinking it once every worker has mapped it
//! ([`Segment::unlink_once_opened`], after which not even a `SIGKILL` can leave it behind), and
//! the one cast from mapped bytes to a typed reference, and a header that records the type a
//! segment holds, so that opening it as another type is an error (`header.rs`). What a demo
//! still says itself: which
//! type it shares, and its promise, `unsafe impl Shareable`, that the type means the same in
//! every process (the compiler sees one process at a time and cannot check it).
//!
//! Every `unsafe` block of this module is here or beside [`Lock`], each with its `// SAFETY:`.

use crate::demo::cleanup::PathGuard;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod header;
mod lock;
pub use lock::{Lock, LockGuard, LOCK_LIMIT};

/// A type that may live in a [`Segment`], seen by every process that maps it.
///
/// # Safety
/// An implementor promises, for every process of the program that maps the segment:
/// 1. Every bit pattern is a valid value: a new segment is all zeros, and a process that dies
///    half-way through a change may leave any bytes behind.
/// 2. It holds no address (reference, pointer, `Box`, `Vec`, ...): another process maps the
///    segment at another address, and its heap is not ours.
/// 3. It is `Sync`, and changes go only through atomics or a [`Lock`]: every process may touch
///    it at any moment. (It is never dropped; the memory just goes away.)
///
/// A `#[repr(C)]` struct whose fields are all `Shareable` keeps these promises.
pub unsafe trait Shareable: Sync {}

// SAFETY: integers and atomic integers: any bits are a value, no address, Sync (a plain integer
// in a segment can only be read through `&`, or changed under a `Lock`).
unsafe impl Shareable for u8 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for u32 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for u64 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for i64 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for usize {}
// SAFETY: as for `u8`.
unsafe impl Shareable for AtomicU8 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for AtomicU32 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for AtomicU64 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for AtomicI64 {}
// SAFETY: as for `u8`.
unsafe impl Shareable for AtomicUsize {}
// SAFETY: an array of values that keep the promises keeps them: no padding between elements.
unsafe impl<T: Shareable, const N: usize> Shareable for [T; N] {}

/// What a segment holds: which type (written once by its creator, see `header.rs`), how many
/// workers have opened it, then the shared value. `#[repr(C)]` keeps this order and places
/// `value` at an offset its type's alignment divides; the mapping itself is page-aligned.
#[repr(C)]
struct Layout<T> {
    header: [u8; header::HEADER_LEN],
    opened: AtomicU64,
    value: T,
}

/// A mapped shared-memory segment holding one `T`; it dereferences to the `T`.
///
/// ```
/// use common::demo::segment::Segment;
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
/// let mut mine = Segment::<AtomicU64>::create("doc-example").unwrap();
/// // A worker process would do this with the name it was given:
/// let theirs = Segment::<AtomicU64>::open(mine.name()).unwrap();
/// theirs.fetch_add(5, Relaxed);
/// mine.unlink_once_opened(1, std::time::Duration::from_secs(1)).unwrap();
/// assert!(!mine.path().exists());
/// assert_eq!(mine.load(Relaxed), 5);
/// ```
#[derive(Debug)]
pub struct Segment<T: Shareable> {
    layout: NonNull<Layout<T>>,
    name: String,
    /// Removes the name on Ctrl-C or on drop; `None` in workers and once unlinked.
    guard: Option<PathGuard>,
}

// SAFETY: a `Segment` is a shared reference to a `T: Sync` that lives as long as the mapping,
// which the `Segment` owns: sending or sharing it across threads is sending or sharing `&T`.
unsafe impl<T: Shareable> Send for Segment<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Shareable> Sync for Segment<T> {}

impl<T: Shareable> Segment<T> {
    /// Creates a zero-filled segment named `/<program>-<pid>-<tag>`, sized for a `T`, and maps
    /// it. The name is registered for removal on Ctrl-C before it exists, and removed when
    /// the segment is dropped, if [`Segment::unlink_once_opened`] has not removed it before.
    ///
    /// Every page is reserved before it is mapped ([`crate::demo::machine::reserve`]): with
    /// `/dev/shm` full, creation fails with a message saying so, where a segment merely sized
    /// with `ftruncate` would be created and then kill its first writer with `SIGBUS`.
    ///
    /// # Errors
    /// The name exists already; no room in `/dev/shm` (a
    /// [`MachineError`](crate::demo::machine::MachineError) inside, naming the bytes needed and
    /// those free); or `shm_open`, `fallocate` or `mmap` failed.
    pub fn create(tag: &str) -> io::Result<Segment<T>> {
        let program = std::env::current_exe()?;
        let program = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let name = format!(
            "{}-{}-{tag}",
            program.unwrap_or_default(),
            std::process::id()
        );
        // The guard first: a Ctrl-C right after shm_open still finds the name registered.
        let guard = PathGuard::new(format!("/dev/shm/{name}"));
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR;
        let file = shm_open(&name, flags)?;
        // fallocate, not ftruncate: every page gets its room now (the new bytes are zeros).
        let what = format!("segment {name}");
        crate::demo::machine::reserve(&file, size_of::<Layout<T>>() as u64, &what)?;
        header::write::<T>(&file)?; // before anyone can be given the name
        let layout = map::<T>(&file)?;
        let guard = Some(guard);
        Ok(Segment {
            layout,
            name,
            guard,
        })
    }

    /// Maps the segment `name` (as [`Segment::name`] gave it) created by another process of
    /// this program, and counts this opening for [`Segment::unlink_once_opened`].
    ///
    /// The segment must have been created for this same `T`: its header says which type it
    /// holds, and another is refused before anything is mapped.
    ///
    /// ```
    /// use common::demo::segment::Segment;
    /// use std::sync::atomic::AtomicU64;
    /// let plain = Segment::<u64>::create("doc-open-typed").unwrap();
    /// let e = Segment::<AtomicU64>::open(plain.name()).unwrap_err();
    /// assert!(e.to_string().ends_with("holds u64, not AtomicU64"), "{e}");
    /// ```
    ///
    /// # Errors
    /// No such segment; one created for another type (`InvalidData`, naming both types: "segment
    /// /x holds u64, not AtomicU64"); one too small for a `T`; or the `shm_open` or `mmap` error.
    pub fn open(name: &str) -> io::Result<Segment<T>> {
        let file = shm_open(name, libc::O_RDWR)?;
        header::check::<T>(&file, name)?;
        if file.metadata()?.len() < size_of::<Layout<T>>() as u64 {
            let words = format!("segment {name} is too small for its type");
            return Err(io::Error::new(io::ErrorKind::InvalidData, words));
        }
        let layout = map::<T>(&file)?;
        let segment = Segment {
            layout,
            name: name.to_string(),
            guard: None,
        };
        segment.layout().opened.fetch_add(1, Ordering::Relaxed);
        Ok(segment)
    }

    /// The name a worker passes to [`Segment::open`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name as a path in `/dev/shm`.
    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/dev/shm").join(&self.name)
    }

    /// Bytes mapped: the shared `T`, and before it the type's header and the count of openings.
    pub fn len(&self) -> usize {
        size_of::<Layout<T>>()
    }

    /// Whether the segment maps no bytes (never: it holds at least its header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until `workers` processes have opened the segment (at most `limit`), then
    /// removes its name: the memory stays mapped for everyone who has it.
    ///
    /// # Errors
    /// `TimedOut`, saying how many opened it; the name is removed anyway when the segment drops.
    pub fn unlink_once_opened(&mut self, workers: usize, limit: Duration) -> io::Result<()> {
        let deadline = crate::handle::deadline_in(limit);
        let opened = || self.layout().opened.load(Ordering::Relaxed);
        while opened() < workers as u64 {
            if Instant::now() >= deadline {
                let words = format!("only {} of {workers} workers mapped the segment", opened());
                return Err(io::Error::new(io::ErrorKind::TimedOut, words));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(self.guard.take());
        Ok(())
    }

    fn layout(&self) -> &Layout<T> {
        // SAFETY:
        // 1. The pointer comes from a successful `mmap` of at least `size_of::<Layout<T>>()`
        //    bytes (checked in `open`, set in `create`), page-aligned, which `map` checked is
        //    enough for `Layout<T>`.
        // 2. Any bytes there are a valid `Layout<T>`: bytes, `AtomicU64` and `T: Shareable`
        //    accept every bit pattern (promise 1), and all access is through atomics or a
        //    `Lock` (the header is written only before the segment is shared, and read only
        //    through the file, by `header.rs`). `header::check` ensured in `open` that the
        //    creator made it for this `T`, so the bytes mean what they meant to the creator.
        // 3. The mapping lives until `drop` unmaps it, and the reference borrows `self`.
        unsafe { self.layout.as_ref() }
    }
}

impl<T: Shareable> std::ops::Deref for Segment<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.layout().value
    }
}

impl<T: Shareable> Drop for Segment<T> {
    fn drop(&mut self) {
        // SAFETY: `layout` is the start of a mapping of exactly `size_of::<Layout<T>>()` bytes
        // made by `map`, unmapped only here; no reference into it outlives `self`.
        unsafe { libc::munmap(self.layout.as_ptr().cast(), size_of::<Layout<T>>()) };
        // The guard, if still held, removes the name after this.
    }
}

/// `shm_open` of `/<name>` with `flags` and mode 0600, as a `File`.
fn shm_open(name: &str, flags: libc::c_int) -> io::Result<File> {
    let path = CString::new(format!("/{name}"))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the name"))?;
    // SAFETY: `path` is a NUL-terminated string that lives across the call; shm_open reads it
    // and returns a new descriptor or -1.
    let fd = unsafe { libc::shm_open(path.as_ptr(), flags, 0o600) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("segment {name}: {e}")));
    }
    // SAFETY: `fd` is a new, open descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Maps `size_of::<Layout<T>>()` bytes of `file`, shared and writable. The descriptor may be
/// closed afterwards: the mapping keeps the memory.
fn map<T>(file: &File) -> io::Result<NonNull<Layout<T>>> {
    // mmap returns page-aligned addresses; a type that needs more cannot be placed there.
    if align_of::<Layout<T>>() > 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "alignment over a page",
        ));
    }
    let len = size_of::<Layout<T>>();
    let protection = libc::PROT_READ | libc::PROT_WRITE;
    let fd = file.as_raw_fd();
    // SAFETY: a new mapping at an address the kernel chooses, of an open descriptor; it aliases
    // no Rust object. The result is checked against MAP_FAILED below.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            protection,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if at == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(at.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
}

#[cfg(test)]
mod tests;
