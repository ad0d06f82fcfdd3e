//! A worker's decoded shared values, one per file and type, and when each goes.
//!
//! A task's argument carries only a [`Reference`]; the first task that meets it opens the
//! file, decodes the value and keeps it here, and every later task gets the same value
//! (decoded once per worker, `tests/features/shared.rs` counts it).
//!
//! When a copy goes (the policy): the pool's process holds the file open while any handle
//! to the value lives there (or a batch that names it is in flight). Before each batch, and
//! whenever a value not kept yet arrives, a worker checks each value it keeps: is the file
//! still open at the descriptor it came from (the same device and inode, through `/proc`)?
//! If not, the pool dropped its last handle, no new task can name it, and the worker drops
//! its copy (a task that kept a clone keeps it alive until that clone goes). So a worker
//! holds at most the values its pool still holds, plus those dropped since its last batch.
//! One `stat` per kept value per batch; nothing when none is kept.

use super::file::{self, Reference, Sealed};
use super::{Inner, Shared};
use crate::{codec, panics};
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex, MutexGuard};

/// One kept value: where it came from, and the value as its handles share it.
struct Kept {
    from: Reference,
    of: TypeId,
    value: Arc<dyn Any + Send + Sync>,
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn kept() -> MutexGuard<'static, Vec<Kept>> {
    // Held only to search, push or retain; no user code runs under it.
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

/// The value `at` names, decoded here once and kept (see the module doc).
///
/// # Errors
/// As [`Sealed::open`], or the value's `Deserialize`'s error.
pub(super) fn resolve<T>(at: &Reference) -> Result<Shared<T>, String>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let same = |k: &Kept| (k.from.dev, k.from.ino, k.of) == (at.dev, at.ino, TypeId::of::<T>());
    // A kept file is open here, so its inode is not another file's: the same identity is
    // the same bytes.
    if let Some(kept) = kept().iter().find(|k| same(k)) {
        if let Ok(inner) = Arc::clone(&kept.value).downcast::<Inner<T>>() {
            return Ok(Shared { inner });
        }
    }
    sweep();
    let file = Sealed::open(at)?;
    // Decoded with the lock released: `Deserialize` is user code, and may meet a shared value
    // inside this one.
    let value = codec::decode::<T>(file.map()?.bytes())?;
    let inner = Arc::new(Inner {
        value,
        file: Some(file),
    });
    kept().push(Kept {
        from: *at,
        of: TypeId::of::<T>(),
        value: Arc::clone(&inner) as Arc<dyn Any + Send + Sync>,
    });
    Ok(Shared { inner })
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
