//! Keyed copies: a shared value that a pool sends once to each worker, which keeps it under a
//! key, so that a batch names it by its key (an MPI pool's ranks, which may be on other hosts
//! and cannot open a file of ours).
//!
//! Who does what (`plumbing` has the public doors):
//!
//! | step | who | what |
//! |---|---|---|
//! | share | the pool, once | encodes the value ([`share_keyed`]) and sends the bytes to each worker, which keeps them ([`keep`]) |
//! | batch | the pool | encodes it inside [`for_keyed_workers`]: a handle of this pool writes its key, about 10 bytes, and the batch holds the handle ([`Pins`]) until it is answered |
//! | task | the worker | finds the key ([`resolve`]): decoded on first use, kept, the same `Arc` for every later task |
//! | forget | the pool, when its last handle goes | the handle's `forget` runs: the pool tells each worker to drop its copy ([`forget`]) |
//!
//! The order matters twice. A worker must have the bytes before a batch that names the key:
//! the pool sends both on one path, in that order (an MPI pool relies on MPI's non-overtaking
//! rule). And the forget must come after the last batch that names the key: a batch pins the
//! handle until its answer arrives, so the last handle cannot go earlier. A key a worker does
//! not hold (never sent there, already forgotten) fails its task with an error, nothing worse:
//! the bytes are decoded by safe code, and a wrong key finds nothing or a value of another
//! type, which is refused.
//!
//! A key means something only to the pool that sent it: a handle writes its key only inside
//! its own pool's [`for_keyed_workers`] (ids are the pool's to keep unique among the pools of
//! one job), and its value everywhere else.

use super::{Pin, Pins, Shared};
use crate::panics;
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

/// Which pool a keyed handle belongs to, and its key there: what a batch of that pool writes
/// in place of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SharedKey {
    /// The pool whose batches may name it by key (any number unique among the pools whose
    /// workers could meet it; other pools' batches carry the value itself).
    pub pool: u64,
    /// The key the workers keep it under: unique among every pool of the job that reaches
    /// the same workers, since the workers' cache is one per process.
    pub id: u64,
}

/// The key of a handle made by [`share_keyed`], and what to call once its last handle goes.
pub(super) struct KeyedBy {
    pub(super) key: SharedKey,
    forget: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl KeyedBy {
    pub(super) fn new(key: SharedKey, forget: impl FnOnce() + Send + 'static) -> KeyedBy {
        KeyedBy {
            key,
            forget: Mutex::new(Some(Box::new(forget))),
        }
    }
}

impl Drop for KeyedBy {
    fn drop(&mut self) {
        // The holder, and so this, drops with the last handle (and the last batch's pin).
        let forget = self.forget.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(forget) = forget.take() {
            forget();
        }
    }
}

thread_local! {
    /// `Some((pool, handles))` while this thread encodes a batch for the workers of `pool`: the
    /// handles written as keys so far.
    static KEYED: RefCell<Option<(u64, Vec<Pin>)>> = const { RefCell::new(None) };
}

/// Runs `encode` with the handles of `pool` written as their keys, and returns what it
/// returned with the handles it wrote. Nested calls each get their own; a panic in `encode`
/// (a `Serialize` is user code) leaves the thread as it was.
pub(crate) fn for_keyed_workers<R>(pool: u64, encode: impl FnOnce() -> R) -> (R, Pins) {
    struct Restore(Option<Option<(u64, Vec<Pin>)>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                KEYED.with(|keyed| *keyed.borrow_mut() = outer);
            }
        }
    }
    let outer = KEYED.with(|keyed| keyed.borrow_mut().replace((pool, Vec::new())));
    let mut restore = Restore(Some(outer));
    let value = encode();
    let outer = restore.0.take().flatten();
    let pinned = KEYED.with(|keyed| std::mem::replace(&mut *keyed.borrow_mut(), outer));
    (
        value,
        Pins(pinned.map(|(_, pins)| pins).unwrap_or_default()),
    )
}

/// Records `handle` as written by the current batch if one for the workers of `pool` is being
/// encoded; `false` if none is (the value is then written inline).
pub(super) fn pin<T: ?Sized + 'static>(handle: &Shared<T>, pool: u64) -> bool {
    KEYED.with(|keyed| match keyed.borrow_mut().as_mut() {
        Some((encoding_for, pins)) if *encoding_for == pool => {
            pins.push(Box::new(handle.clone()));
            true
        }
        _ => false,
    })
}

/// One value a worker keeps: the bytes the pool sent, until they are decoded, then what they
/// decoded to (a `Shared<T>`, or for plain data a `Shared<[P]>`).
struct Kept {
    id: u64,
    bytes: Option<Arc<Vec<u8>>>,
    made: Option<(TypeId, Box<dyn Any + Send + Sync>)>,
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn kept() -> MutexGuard<'static, Vec<Kept>> {
    // Held only to search, push or remove; no user code runs under it.
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

/// A worker keeps `bytes` under `id` (replacing what it kept under `id`, if anything).
pub(crate) fn keep(id: u64, bytes: Vec<u8>) {
    let new = Kept {
        id,
        bytes: Some(Arc::new(bytes)),
        made: None,
    };
    let old = {
        let mut kept = kept();
        match kept.iter_mut().find(|k| k.id == id) {
            Some(k) => Some(std::mem::replace(k, new)),
            None => {
                kept.push(new);
                None
            }
        }
    };
    // Outside the lock: a decoded value's `Drop` is user code.
    panics::catch_drop(|| drop(old));
}

/// A worker drops what it keeps under `id`; whether it kept anything. A task still running
/// with a clone keeps that clone alive until it ends.
pub(crate) fn forget(id: u64) -> bool {
    let gone = {
        let mut kept = kept();
        let at = kept.iter().position(|k| k.id == id);
        at.map(|at| kept.swap_remove(at))
    };
    let found = gone.is_some();
    panics::catch_drop(|| drop(gone));
    found
}

/// How many values this process keeps by key.
pub(crate) fn count() -> usize {
    kept().len()
}

/// What the bytes kept under `id` decode to, as `V`: made by `make` on first use, then the
/// same value for every later call (`V` is a handle: a clone is an `Arc`'s).
///
/// The bytes are let go once decoded: a key stands for one handle, of one type.
///
/// # Errors
/// Nothing is kept under `id`, or it was decoded as another type, or `make`'s error.
pub(super) fn resolve<V: Any + Clone + Send + Sync>(
    id: u64,
    make: impl FnOnce(&[u8]) -> Result<V, String>,
) -> Result<V, String> {
    let bytes = {
        let kept = kept();
        let Some(k) = kept.iter().find(|k| k.id == id) else {
            return Err(format!(
                "shared value {id} is not kept on this worker (never sent here, \
                 or its pool dropped its last handle)"
            ));
        };
        match (&k.made, &k.bytes) {
            (Some((of, made)), _) if *of == TypeId::of::<V>() => {
                return made
                    .downcast_ref::<V>()
                    .cloned()
                    .ok_or_else(|| format!("shared value {id} was read here as another type"));
            }
            (_, Some(bytes)) => Arc::clone(bytes),
            (_, None) => return Err(format!("shared value {id} was read here as another type")),
        }
    };
    // Decoded with the lock released: `Deserialize` is user code. Two threads may both decode
    // it; the first to finish is kept, and the other's copy dropped.
    let made = make(&bytes)?;
    let earlier = {
        let mut kept = kept();
        match kept.iter_mut().find(|k| k.id == id) {
            // Forgotten meanwhile: this task still gets its value, and nothing keeps it.
            None => None,
            Some(k) => match &k.made {
                Some((of, earlier)) if *of == TypeId::of::<V>() => {
                    earlier.downcast_ref::<V>().cloned()
                }
                _ => {
                    k.made = Some((TypeId::of::<V>(), Box::new(made.clone())));
                    k.bytes = None;
                    None
                }
            },
        }
    };
    match earlier {
        Some(earlier) => {
            panics::catch_drop(|| drop(made));
            Ok(earlier)
        }
        None => Ok(made),
    }
}

#[cfg(test)]
mod tests {
    //! The encode-as-key path without a transport: this one process is both the pool and the
    //! worker, and decodes what it encoded (`plumbing`'s doc example runs a whole batch the
    //! same way). The keys differ per test, since the worker's cache is one per process.

    use super::SharedKey;
    use crate::codec;
    use crate::plumbing::{encode_batch, encode_for_keyed_workers, forget_shared, keep_shared};
    use crate::plumbing::{share_keyed, share_slice_keyed, Pins};
    use crate::Shared;
    use serde_bytes::ByteBuf;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    const LEN: usize = 64 << 10;
    const TASKS: usize = 100;

    type Item = (Shared<ByteBuf>, usize);

    fn table() -> ByteBuf {
        ByteBuf::from((0..LEN).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>())
    }

    /// Task `i` sums every 100th byte from `i` on.
    fn stride_sum((table, i): Item) -> u64 {
        table
            .iter()
            .skip(i)
            .step_by(TASKS)
            .map(|&b| u64::from(b))
            .sum()
    }

    /// `items` as a batch for the workers of `pool` would carry them, and the handles it named.
    fn encode(pool: u64, items: &[Item]) -> (Vec<u8>, Pins) {
        let (bytes, pins) = encode_for_keyed_workers(pool, || {
            let mut bytes = Vec::new();
            codec::encode_value(&mut bytes, items).map(|()| bytes)
        });
        (bytes.unwrap(), pins)
    }

    /// A counter of `forget` calls for one test.
    fn counter() -> (Arc<AtomicUsize>, impl FnOnce() + Send + 'static) {
        let forgotten = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&forgotten);
        (forgotten, move || {
            count.fetch_add(1, SeqCst);
        })
    }

    #[test]
    fn a_batch_of_its_pool_names_the_key_and_its_worker_decodes_once() {
        let key = SharedKey { pool: 41, id: 4101 };
        let (forgotten, forget) = counter();
        let (shared, bytes) = share_keyed(table(), key, forget).unwrap();
        assert!(
            bytes.len() >= LEN,
            "the value's encoding: {} bytes",
            bytes.len()
        );
        let items: Vec<Item> = (0..TASKS).map(|i| (shared.clone(), i)).collect();
        let (frame, pins) = encode_for_keyed_workers(key.pool, || encode_batch(stride_sum, &items));
        // The value once would be 64 KiB; 100 keys and their frame are a few hundred bytes.
        assert!(frame.unwrap().len() < 20 * TASKS);
        assert_eq!(pins.len(), TASKS);
        drop(pins);
        let (encoded, pins) = encode(key.pool, &items);

        // A worker that was never sent the value refuses, and says why.
        let why = codec::decode::<Vec<Item>>(&encoded).unwrap_err();
        assert!(
            why.contains("shared value 4101 is not kept on this worker"),
            "{why}"
        );
        keep_shared(key.id, bytes);
        let decoded = codec::decode::<Vec<Item>>(&encoded).unwrap();
        let sums: Vec<u64> = decoded.iter().cloned().map(stride_sum).collect();
        assert_eq!(
            sums,
            items.iter().cloned().map(stride_sum).collect::<Vec<_>>()
        );
        // Decoded once: every item holds the same copy, not the caller's; kept for later.
        let at = decoded[0].0.as_ptr();
        assert!(decoded.iter().all(|(table, _)| table.as_ptr() == at));
        assert_ne!(at, shared.as_ptr());
        let again = codec::decode::<Vec<Item>>(&encoded).unwrap();
        assert_eq!(again[0].0.as_ptr(), at, "kept for later batches");

        // The batch's pins hold the handle: dropping the caller's leaves it unforgotten.
        drop((shared, items));
        assert_eq!(forgotten.load(SeqCst), 0);
        drop(pins);
        assert_eq!(
            forgotten.load(SeqCst),
            1,
            "forgotten once, with the last handle"
        );
        assert!(forget_shared(key.id));
        assert!(!forget_shared(key.id), "nothing kept any more");
        let why = codec::decode::<Vec<Item>>(&encoded).unwrap_err();
        assert!(why.contains("not kept"), "{why}");
        // A task that still holds a decoded copy keeps it to the end.
        assert_eq!(stride_sum(decoded[5].clone()), sums[5]);
    }

    #[test]
    fn outside_its_pool_a_keyed_handle_goes_inline() {
        let key = SharedKey { pool: 42, id: 4201 };
        let (forgotten, forget) = counter();
        let (shared, _bytes) = share_keyed(table(), key, forget).unwrap();
        let items = vec![(shared.clone(), 3)];
        // Outside any batch for keyed workers, and inside one for another pool.
        for other in [None, Some(43)] {
            let write = || {
                let mut out = Vec::new();
                codec::encode_value(&mut out, &items).map(|()| out)
            };
            let (bytes, pins) = match other {
                None => (write(), Pins::default()),
                Some(other) => encode_for_keyed_workers(other, write),
            };
            let bytes = bytes.unwrap();
            assert!(bytes.len() > LEN, "the value itself: {} bytes", bytes.len());
            assert!(pins.is_empty());
            // Nothing is kept under 4201, and nothing needs to be.
            let back = codec::decode::<Vec<Item>>(&bytes).unwrap();
            assert_eq!(stride_sum(back[0].clone()), stride_sum(items[0].clone()));
        }
        let json = serde_json::to_string(&Shared::clone(&shared)).unwrap();
        assert!(json.starts_with(r#"{"Inline":"#));
        drop((shared, items));
        assert_eq!(forgotten.load(SeqCst), 1);
    }

    #[test]
    fn plain_data_is_kept_as_items() {
        let key = SharedKey { pool: 44, id: 4401 };
        let (forgotten, forget) = counter();
        let (shared, bytes) = share_slice_keyed(vec![0.5f64, 0.25, 0.25], key, forget);
        assert_eq!(bytes.len(), 24, "the items' own bytes");
        let (encoded, pins) = encode_for_keyed_workers(44, || {
            let mut out = Vec::new();
            codec::encode_value(&mut out, &shared).map(|()| out)
        });
        let encoded = encoded.unwrap();
        assert!(encoded.len() < 16, "a key: {} bytes", encoded.len());
        keep_shared(key.id, bytes);
        let back = codec::decode::<Shared<[f64]>>(&encoded).unwrap();
        assert_eq!(*back, [0.5, 0.25, 0.25]);
        drop((pins, shared));
        assert_eq!(forgotten.load(SeqCst), 1);
        assert!(forget_shared(key.id));
    }

    #[test]
    fn a_key_read_as_another_type_is_refused() {
        let (shared, bytes) = share_keyed(7u64, SharedKey { pool: 45, id: 4501 }, || {}).unwrap();
        keep_shared(4501, bytes);
        let first = super::resolve(4501, |b| codec::decode::<u64>(b).map(Shared::in_memory));
        assert_eq!(*first.unwrap(), *shared);
        let other = super::resolve(4501, |b| codec::decode::<u8>(b).map(Shared::in_memory));
        assert!(other.unwrap_err().contains("was read here as another type"));
        assert!(forget_shared(4501));
    }

    /// A shared value whose `Drop` panics.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Bomb(u8);

    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb {} went off", self.0);
        }
    }

    #[test]
    fn a_value_whose_drop_panics_goes_with_the_last_pin_without_unwinding() {
        let key = SharedKey { pool: 46, id: 4601 };
        let (forgotten, forget) = counter();
        let (shared, _bytes) = share_keyed(Bomb(7), key, forget).unwrap();
        let (frame, pins) = encode_for_keyed_workers(key.pool, || {
            let mut bytes = Vec::new();
            codec::encode_value(&mut bytes, &shared).map(|()| bytes)
        });
        assert!(frame.is_ok());
        assert_eq!(pins.len(), 1);
        drop(shared);
        assert_eq!(
            forgotten.load(SeqCst),
            0,
            "the batch's pin still holds the value"
        );
        // `Pins` go on a pool's thread (or an MPI pool's MPI thread) once the batch is
        // answered: the value's panic must stop there, and the workers must still forget it.
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(pins)));
        assert!(dropped.is_ok(), "the value's panic unwound out of the pins");
        assert_eq!(forgotten.load(SeqCst), 1);
    }
}
