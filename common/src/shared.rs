//! [`Shared`]: a large value put where every worker can read it once, instead of copied into
//! every task that reads it (joblib's memmapped arrays, Ray's `ray.put`, Dask's `scatter`).
//!
//! How it reaches a worker depends on the pool, and on nothing else:
//!
//! | pool | what `share` does | what a task's argument carries | decoded |
//! |---|---|---|---|
//! | [`ThreadPool`](crate::ThreadPool) | wraps it in an `Arc` | the `Arc` | never |
//! | [`ProcessPool`](crate::ProcessPool) | encodes it once into a sealed memfd (`file.rs`) | a [`Reference`](file::Reference), about 60 bytes | once per worker (`cache.rs`) |
//! | one whose workers keep keyed copies (mpi-demo's `MpiPool`, through `plumbing::share_keyed`) | encodes it once; the pool sends the bytes once to each worker, which keeps them under a key (`keyed.rs`) | the key, about 10 bytes | once per worker |
//! | any other (the trait's default `share`) | wraps it in an `Arc` | the whole value | once per task |
//!
//! Plain data (`share_slice`, a `Shared<[P]>` for any `bytemuck::Pod` item) is not encoded:
//! the file holds the items' bytes, and a process worker maps the file once and reads the
//! items where they lie, in pages every worker shares: no decode, no copy per worker. The
//! cast from bytes to items is bytemuck's, checked (length and alignment: a mapping starts
//! on a page); the one `unsafe` is the mapping's `&[u8]` itself (`file.rs`).
//!
//! Which form a handle writes: a reference means something only to a worker on this machine
//! whose pool holds the file open, so a handle writes one only while a process pool encodes
//! a batch for its own workers ([`for_local_workers`] marks that span on the encoding thread)
//! and only if it has a file. A keyed handle writes its key only while its own pool encodes
//! a batch for its workers ([`for_keyed_workers`], `plumbing::encode_for_keyed_workers`).
//! Anywhere else (a batch of another pool, `serde_json` in user code, a result a worker
//! sends back) a handle writes the value itself, which is always correct, only not cheap.
//!
//! While a batch that names a file or a key is queued or running, the batch holds a handle to
//! it ([`Pins`]): a task may outlive every handle its caller kept, and its worker must still
//! find the file open, or the key kept, when it gets there.

mod cache;
mod file;
mod keyed;
mod pins;
mod wire;

use crate::pool::Task;
use crate::Error;
use bytemuck::Pod;
use std::marker::PhantomData;
use std::sync::Arc;

pub(crate) use cache::sweep;
pub use keyed::SharedKey;
pub(crate) use keyed::{
    count as kept_by_key, for_keyed_workers, forget as forget_keyed, keep as keep_keyed,
};
use pins::Pin;
pub use pins::Pins;
pub(crate) use pins::{encoding_for_local_workers, for_local_workers};

/// A value shared with every worker of a pool, made by [`Pool::share`](crate::Pool::share)
/// (or, a slice of plain data read in place, [`Pool::share_slice`](crate::Pool::share_slice)):
/// cloning it is cheap, and a task that takes it in its argument reads the value through
/// `Deref`.
///
/// ```
/// use common::{Pool, Shared, ThreadPool};
///
/// fn count_over((table, limit): (Shared<Vec<u32>>, u32)) -> usize {
///     table.iter().filter(|&&x| x > limit).count()
/// }
///
/// let pool = ThreadPool::new(2).unwrap();
/// let table = pool.share((0..1000).collect::<Vec<u32>>()).unwrap();
/// let counts = pool.map(count_over, [10, 500, 990].map(|l| (table.clone(), l))).unwrap();
/// assert_eq!(counts, [989, 499, 9]);
/// ```
///
/// On a [`ProcessPool`](crate::ProcessPool) each worker decodes it once, on its first task
/// that names it, and keeps it while the pool's process holds a handle; the bytes per task
/// are a small reference, whatever the value's size. A worker gets its own copy, so
/// interior mutability (a `Mutex` inside) is not shared between workers: treat it as
/// read-only.
///
/// A worker opens the file through `/proc/<pool's pid>/fd/<n>`, which the kernel allows to a
/// child of the same user while the pool's process is dumpable (the default). In a program
/// that made itself non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`, a setuid binary) every task
/// that names the value fails with [`Error::Serde`] saying "Permission denied".
pub struct Shared<T: ?Sized> {
    inner: Arc<dyn Holder<T>>,
}

/// Where a handle's value lives, and the sealed file that holds it where there is one: in a
/// process pool's own process (made by `share`) and in its workers (opened from a reference).
trait Holder<T: ?Sized>: Send + Sync {
    fn value(&self) -> &T;
    fn file(&self) -> Option<&file::Sealed>;
    /// The key its pool's workers keep it under (`keyed.rs`), for a handle made by
    /// `plumbing::share_keyed`.
    fn key(&self) -> Option<SharedKey> {
        None
    }
}

/// A value in this process's memory: made here, or decoded from a file.
struct Owned<T> {
    value: T,
    file: Option<file::Sealed>,
    key: Option<keyed::KeyedBy>,
}

impl<T: Send + Sync> Holder<T> for Owned<T> {
    fn value(&self) -> &T {
        &self.value
    }

    fn file(&self) -> Option<&file::Sealed> {
        self.file.as_ref()
    }

    fn key(&self) -> Option<SharedKey> {
        self.key.as_ref().map(|k| k.key)
    }
}

/// Plain data in this process's memory, for `share_slice` (the file holds its raw bytes).
struct OwnedSlice<P> {
    values: Vec<P>,
    file: Option<file::Sealed>,
    key: Option<keyed::KeyedBy>,
}

impl<P: Pod + Send + Sync> Holder<[P]> for OwnedSlice<P> {
    fn value(&self) -> &[P] {
        &self.values
    }

    fn file(&self) -> Option<&file::Sealed> {
        self.file.as_ref()
    }

    fn key(&self) -> Option<SharedKey> {
        self.key.as_ref().map(|k| k.key)
    }
}

/// Plain data read where it lies: in a worker's read-only mapping of the pool's file.
struct InPlace<P> {
    mapped: Arc<file::Mapped>,
    of: PhantomData<fn() -> P>,
}

impl<P: Pod> Holder<[P]> for InPlace<P> {
    fn value(&self) -> &[P] {
        // Never empty: `cache::resolve_slice` made this only after the same cast succeeded
        // on the same bytes (a mapping starts on a page, and the length was checked).
        bytemuck::try_cast_slice(self.mapped.bytes()).unwrap_or(&[])
    }

    fn file(&self) -> Option<&file::Sealed> {
        Some(self.mapped.sealed())
    }
}

impl<T: Send + Sync + 'static> Shared<T> {
    /// A handle with no file: the thread pool's, and any pool's that does not override
    /// [`Pool::share`](crate::Pool::share).
    pub(crate) fn in_memory(value: T) -> Shared<T> {
        Shared {
            inner: Arc::new(Owned {
                value,
                file: None,
                key: None,
            }),
        }
    }
}

impl<T: Task + Sync> Shared<T> {
    /// A handle whose value is also encoded into a sealed memory file, for a process pool's
    /// workers to open.
    pub(crate) fn in_file(value: T) -> Result<Shared<T>, Error> {
        let file = file::Sealed::create(|out| crate::codec::encode_value(out, &value))
            .map_err(|e| Error::Serde(format!("sharing a value: {e}")))?;
        Ok(Shared {
            inner: Arc::new(Owned {
                value,
                file: Some(file),
                key: None,
            }),
        })
    }

    /// A handle that a batch of `key.pool`'s workers names by its key, and the value's
    /// encoding, for the pool to send each worker once (`keyed.rs`). `forget` runs when the
    /// last handle goes (never, if this fails).
    pub(crate) fn keyed(
        value: T,
        key: SharedKey,
        forget: impl FnOnce() + Send + 'static,
    ) -> Result<(Shared<T>, Vec<u8>), Error> {
        let mut bytes = Vec::new();
        crate::codec::encode_value(&mut bytes, &value)
            .map_err(|e| Error::Serde(format!("sharing a value: {e}")))?;
        let shared = Shared {
            inner: Arc::new(Owned {
                value,
                file: None,
                key: Some(keyed::KeyedBy::new(key, forget)),
            }),
        };
        Ok((shared, bytes))
    }
}

impl<P: Pod + Send + Sync> Shared<[P]> {
    /// [`Shared::in_memory`] for plain data.
    pub(crate) fn slice_in_memory(values: Vec<P>) -> Shared<[P]> {
        Shared {
            inner: Arc::new(OwnedSlice {
                values,
                file: None,
                key: None,
            }),
        }
    }

    /// [`Shared::keyed`] for plain data: the bytes to send are the items' own.
    pub(crate) fn slice_keyed(
        values: Vec<P>,
        key: SharedKey,
        forget: impl FnOnce() + Send + 'static,
    ) -> (Shared<[P]>, Vec<u8>) {
        let bytes = bytemuck::cast_slice::<P, u8>(&values).to_vec();
        let shared = Shared {
            inner: Arc::new(OwnedSlice {
                values,
                file: None,
                key: Some(keyed::KeyedBy::new(key, forget)),
            }),
        };
        (shared, bytes)
    }

    /// [`Shared::in_file`] for plain data: the file holds its bytes as they are, so that a
    /// worker reads them in place.
    pub(crate) fn slice_in_file(values: Vec<P>) -> Result<Shared<[P]>, Error> {
        let bytes: &[u8] = bytemuck::cast_slice(&values);
        let file = file::Sealed::create(|out| out.write_all(bytes).map_err(|e| e.to_string()))
            .map_err(|e| Error::Serde(format!("sharing a slice: {e}")))?;
        Ok(Shared {
            inner: Arc::new(OwnedSlice {
                values,
                file: Some(file),
                key: None,
            }),
        })
    }
}

impl<T: ?Sized> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.inner.value()
    }
}

impl<T: ?Sized> AsRef<T> for Shared<T> {
    fn as_ref(&self) -> &T {
        self.inner.value()
    }
}

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Shared").field(&self.inner.value()).finish()
    }
}

/// How many shared values this process (a worker) keeps decoded (`common::testing`).
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn kept_here() -> usize {
    cache::count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_local_batch_the_value_goes_inline() {
        let shared = Shared::in_file(vec![1u32, 2, 3]).unwrap();
        let json = serde_json::to_string(&shared).unwrap();
        assert_eq!(json, r#"{"Inline":[1,2,3]}"#);
        let back: Shared<Vec<u32>> = serde_json::from_str(&json).unwrap();
        assert_eq!(*back, [1, 2, 3]);
    }

    #[test]
    fn a_local_batch_writes_a_reference_and_pins_the_handle() {
        let shared = Shared::in_file("large".repeat(1000)).unwrap();
        let (json, pins) = for_local_workers(|| serde_json::to_string(&shared).unwrap());
        assert!(json.starts_with(r#"{"Reference":"#), "{json}");
        assert!(json.len() < 120, "{json}");
        assert_eq!(pins.0.len(), 1);
        assert!(!encoding_for_local_workers(), "the span ended");
        // Decoded in this same process: the file is found through our own /proc entry.
        let back: Shared<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(*back, *shared);
    }

    #[test]
    fn a_handle_without_a_file_goes_inline_even_in_a_local_batch() {
        let shared = Shared::in_memory(7u8);
        let (json, pins) = for_local_workers(|| serde_json::to_string(&shared).unwrap());
        assert_eq!(json, r#"{"Inline":7}"#);
        assert!(pins.is_empty());
    }

    #[test]
    fn a_reference_to_a_closed_file_is_refused() {
        let shared = Shared::in_file(5u64).unwrap();
        let (json, pins) = for_local_workers(|| serde_json::to_string(&shared).unwrap());
        drop((shared, pins));
        let error = serde_json::from_str::<Shared<u64>>(&json).unwrap_err();
        assert!(
            error.to_string().contains("the shared value is gone"),
            "{error}"
        );
    }

    #[test]
    fn plain_data_goes_inline_as_bytes_or_is_read_in_place() {
        let shared = Shared::slice_in_file(vec![1u32, 2, 3]).unwrap();
        let json = serde_json::to_string(&shared).unwrap();
        assert_eq!(json, r#"{"Inline":[1,0,0,0,2,0,0,0,3,0,0,0]}"#);
        let back: Shared<[u32]> = serde_json::from_str(&json).unwrap();
        assert_eq!(*back, [1, 2, 3]);
        let (json, pins) = for_local_workers(|| serde_json::to_string(&shared).unwrap());
        assert_eq!(pins.0.len(), 1);
        let mapped: Shared<[u32]> = serde_json::from_str(&json).unwrap();
        assert_eq!(*mapped, [1, 2, 3]);
        // Read from a mapping, which starts on a page, not from the vector: the same items
        // at another address.
        assert_ne!(mapped.as_ptr(), shared.as_ptr());
        assert_eq!(mapped.as_ptr() as usize % 4096, 0);
        let odd = r#"{"Inline":[1,2,3]}"#;
        assert!(serde_json::from_str::<Shared<[u32]>>(odd).is_err());
        assert!(serde_json::from_str::<Shared<[()]>>(r#"{"Inline":[]}"#).is_err());
    }

    #[test]
    fn a_reference_to_an_unsealed_file_is_refused() {
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().unwrap();
        let at = file::Reference {
            pid: std::process::id(),
            fd: file.as_raw_fd(),
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.size(),
        };
        let json = serde_json::to_string(&wire::Written::<u8>::Reference(at)).unwrap();
        let error = serde_json::from_str::<Shared<u8>>(&json).unwrap_err();
        assert!(error.to_string().contains("is not a memfd"), "{error}");
    }
}
