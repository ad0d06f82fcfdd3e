//! A worker's decoded shared values, one per file and type, and when each goes.
//!
//! A task's argument carries only a [`Reference`]; the first task that meets it opens the
//! file, decodes the value and keeps it here, and every later task gets the same value
//! (decoded once per worker, `tests/features/shared.rs` counts it). Plain data
//! (`Pool::share_slice`) is not decoded: the file's mapping is kept, and every handle reads
//! its items where they lie, in the pages all workers share.
//!
//! When a copy goes (the policy): the pool's process holds the file open while any handle
//! to the value lives there (or a batch that names it is in flight). Before each batch, and
//! whenever a value not kept yet arrives, a worker checks each value it keeps: is the file
//! still open at the descriptor it came from (the same device and inode, through `/proc`)?
//! If not, the pool dropped its last handle, no new task can name it, and the worker drops
//! its copy (a task that kept a clone keeps it alive until that clone goes). So a worker
//! holds at most the values its pool still holds, plus those dropped since its last batch.
//! One `stat` per kept value per batch; nothing when none is kept.

use super::file::{self, Mapped, Reference, Sealed};
use super::{InPlace, Owned, Shared};
use crate::{codec, panics};
use bytemuck::Pod;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

/// One kept value: where it came from, and what was made of it: a `Shared<T>` decoded, or
/// (for plain data, any element type) the file's mapping itself.
struct Kept {
    from: Reference,
    of: TypeId,
    value: Box<dyn Any + Send + Sync>,
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn kept() -> MutexGuard<'static, Vec<Kept>> {
    // Held only to search, push or retain; no user code runs under it.
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

/// The kept value of type `V` made from the file `at` names, if there is one. A kept file is
/// open here, so its inode is not another file's: the same identity is the same bytes.
fn find<V: Any + Clone>(at: &Reference) -> Option<V> {
    let key = (at.dev, at.ino, TypeId::of::<V>());
    kept()
        .iter()
        .find(|k| (k.from.dev, k.from.ino, k.of) == key)
        .and_then(|k| k.value.downcast_ref::<V>().cloned())
}

fn keep<V: Any + Send + Sync>(at: &Reference, value: V) {
    kept().push(Kept {
        from: *at,
        of: TypeId::of::<V>(),
        value: Box::new(value),
    });
}

/// The value `at` names, decoded here once and kept (see the module doc).
///
/// # Errors
/// As [`Sealed::open`], or the value's `Deserialize`'s error.
pub(super) fn resolve<T>(at: &Reference) -> Result<Shared<T>, String>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    if let Some(shared) = find::<Shared<T>>(at) {
        return Ok(shared);
    }
    sweep();
    let file = Sealed::open(at)?;
    // Decoded with the lock released: `Deserialize` is user code, and may meet a shared value
    // inside this one.
    let value = codec::decode::<T>(file.map()?.bytes())?;
    let shared = Shared {
        inner: Arc::new(Owned {
            value,
            file: Some(file),
            key: None,
        }),
    };
    keep(at, shared.clone());
    Ok(shared)
}

/// The plain data `at` names, read in place: the file is mapped once per worker and kept,
/// and every handle reads the mapping (see the module doc).
///
/// # Errors
/// As [`Sealed::open`], or a length that is not a whole number of items.
pub(super) fn resolve_slice<P: Pod + Send + Sync>(at: &Reference) -> Result<Shared<[P]>, String> {
    let mapped = match find::<Arc<Mapped>>(at) {
        Some(mapped) => mapped,
        None => {
            sweep();
            let mapped = Arc::new(Mapped::open(at)?);
            keep(at, Arc::clone(&mapped));
            mapped
        }
    };
    match bytemuck::try_cast_slice::<u8, P>(mapped.bytes()) {
        Ok(items) if !items.is_empty() => Ok(Shared {
            inner: Arc::new(InPlace::<P> {
                mapped,
                of: PhantomData,
            }),
        }),
        // Nothing to read in place (a mapping of no bytes has no address to cast).
        _ if mapped.bytes().is_empty() => Ok(Shared::slice_in_memory(Vec::new())),
        Ok(_) | Err(_) => Err(format!(
            "{} shared bytes are not a whole number of {}-byte items",
            mapped.bytes().len(),
            std::mem::size_of::<P>()
        )),
    }
}

/// Drops every kept value whose file its holder has closed (see the module doc).
pub(crate) fn sweep() {
    let gone: Vec<Kept> = {
        let mut kept = kept();
        if kept.is_empty() {
            return;
        }
        let (gone, held) = std::mem::take(&mut *kept)
            .into_iter()
            .partition(|k| !file::still_held(&k.from));
        *kept = held;
        gone
    };
    // Outside the lock: a value's `Drop` is user code (and must not end the worker's loop).
    panics::catch_drop(|| drop(gone));
}

/// How many values this process keeps: for tests, through a broadcast.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn count() -> usize {
    kept().len()
}
