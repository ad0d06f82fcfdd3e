//! What an implementor of a new kind of pool needs, kept apart from the user's API (as rayon
//! keeps `iter::plumbing` apart from its iterators).
//!
//! A pool implements one method, [`Pool::dispatch`](crate::Pool::dispatch): take a batch of
//! items, get it run somewhere, and answer exactly once on its [`Sink`] with a [`BatchResult`].
//! A pool whose workers are *other processes running this same executable* (MPI ranks, say)
//! can move a task exactly as [`ProcessPool`](crate::ProcessPool) does, with three functions:
//!
//! 1. the pool calls [`encode_batch`]: the task `fn(A) -> R` becomes the build's fingerprint
//!    and two code distances from a static anchor, followed by the items, one MessagePack
//!    record each (one byte frame);
//! 2. it sends the frame by any transport; the worker calls [`run_batch`] on it, which checks
//!    that the frame comes from this same build and that both addresses land in its own
//!    executable's code, runs every item (a panic fails its item alone) and returns the
//!    encoded results;
//! 3. the pool sends those bytes back and calls [`decode_results`].
//!
//! [`run_batch`] is `unsafe`: those checks catch a frame from another build, or one that names
//! no code of ours, but not a frame that was taken apart and put together again (see its
//! `# Safety`). The worker promises where its frames come from.
//!
//! ```
//! use common::plumbing::{decode_results, encode_batch, run_batch};
//! use common::plumbing::Results;
//!
//! fn double(x: u64) -> u64 {
//!     x * 2
//! }
//!
//! let frame = encode_batch(double, &[1u64, 2, 3]).unwrap();
//! // On a worker: another process, same executable. SAFETY: `frame` is what `encode_batch`
//! // returned in this same build, unaltered.
//! let output = unsafe { run_batch(&frame) }.unwrap();
//! assert_eq!(decode_results::<u64>(&output, 3), Results::Values(vec![2, 4, 6]));
//! ```
//!
//! # Shared values, once per worker
//!
//! By default [`Pool::share`](crate::Pool::share) gives an `Arc`, and [`encode_batch`] writes
//! the whole value into every batch that names it. A pool whose workers live as long as it
//! does can do better, as an MPI pool's ranks do: it sends the value to each worker once, and
//! a batch names it by a key.
//!
//! 1. `share`: [`share_keyed`] makes the handle and encodes the value once; the pool sends
//!    those bytes to each worker, which calls [`keep_shared`];
//! 2. `dispatch`: the pool calls [`encode_batch`] inside [`encode_for_keyed_workers`], so its
//!    handles write their keys (about 10 bytes); it holds the returned [`Pins`] until the
//!    batch is answered, and must deliver the bytes of step 1 to a worker before any batch
//!    that names their key (one ordered path does it);
//! 3. the last handle goes: its `forget` runs, and the pool tells each worker to call
//!    [`forget_shared`].
//!
//! A worker decodes a kept value on its first task that names it, and keeps the result: one
//! decode per worker. A task whose key its worker does not keep fails with
//! [`Error::Serde`] ("shared value 7 is not kept on this worker ..."), nothing worse.
//!
//! ```
//! use common::plumbing::{decode_results, encode_batch, encode_for_keyed_workers, run_batch};
//! use common::plumbing::{forget_shared, keep_shared, share_keyed, Results, SharedKey};
//! use common::Shared;
//! use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
//!
//! fn total((table, scale): (Shared<Vec<u64>>, u64)) -> u64 {
//!     table.iter().sum::<u64>() * scale
//! }
//!
//! static FORGOTTEN: AtomicBool = AtomicBool::new(false);
//! let key = SharedKey { pool: 1, id: 7 };
//! let (table, bytes) = share_keyed(vec![1u64; 100_000], key, || FORGOTTEN.store(true, SeqCst))?;
//! // The worker (here this same process) keeps the bytes under the key: sent once.
//! keep_shared(key.id, bytes);
//! let items = [(table.clone(), 1), (table.clone(), 2)];
//! let (frame, pins) = encode_for_keyed_workers(key.pool, || encode_batch(total, &items));
//! let frame = frame?;
//! assert!(frame.len() < 200, "the key, not 100 000 numbers");
//! assert_eq!(pins.len(), 2);
//! // SAFETY: `frame` is what `encode_batch` returned in this same build, unaltered.
//! let output = unsafe { run_batch(&frame) }?;
//! assert_eq!(decode_results::<u64>(&output, 2), Results::Values(vec![100_000, 200_000]));
//! // The answer is in: the batch lets go, and so does the caller; `forget` runs.
//! drop((items, pins, table));
//! assert!(FORGOTTEN.load(SeqCst));
//! assert!(forget_shared(key.id), "what the pool then tells each worker");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::pool::{BatchResult, CancelToken, HasSlot, Results, Sink, Slot, Task};
pub use crate::shared::{Pins, SharedKey};

use crate::process_pool::{call, wire};
use crate::{Error, Shared};
use std::ops::Range;
use std::sync::OnceLock;

/// Encodes one batch, `f` applied to `items`, as a self-contained byte frame.
///
/// # Errors
/// [`Error::Serde`] if an item cannot be encoded, or the batch is 4 GiB or more.
pub fn encode_batch<A: Task, R: Task>(f: fn(A) -> R, items: &[A]) -> Result<Vec<u8>, Error> {
    wire::frame(call::encode(f), items).map_err(|e| Error::Serde(format!("encoding a batch: {e}")))
}

/// Encodes a broadcast's batch: `f` called once, with nothing to pass it (see
/// [`crate::Pool::broadcast`]). A worker runs it with [`run_batch`] like any batch of one item.
///
/// # Errors
/// [`Error::Serde`] only if encoding fails, which a frame with no items cannot.
pub fn encode_broadcast<R: Task>(f: fn() -> R) -> Result<Vec<u8>, Error> {
    wire::frame(call::encode_nullary(f), &[()])
        .map_err(|e| Error::Serde(format!("encoding a broadcast: {e}")))
}

/// The worker's side: runs the batch in `frame` and returns its encoded results (for
/// [`decode_results`]). A task that panics yields an error for its item; the others run on.
///
/// Before anything is called, the frame's build fingerprint (the linker's build id, carried by
/// every frame) is compared with this program's, and both addresses are checked to lie in this
/// executable's code.
///
/// # Safety
/// `frame` must be exactly what [`encode_batch`] returned in a process running this same build
/// of the program, unaltered (its bytes may travel by any transport).
///
/// The checks cannot make this safe: a frame holds a trampoline `::<A, R>` and a function
/// `fn(A) -> R` side by side, and a frame spliced from two real frames (the trampoline of one,
/// the function of another) passes every check, then calls the function through the wrong type:
/// `fn(u64) -> u64` called as `fn(String) -> String` corrupts the heap. Only where the frame
/// came from proves that the two belong together, and only the caller knows that.
///
/// Without `unsafe`, the call does not compile:
///
/// ```compile_fail,E0133
/// fn double(x: u64) -> u64 {
///     x * 2
/// }
/// let frame = common::plumbing::encode_batch(double, &[1u64]).unwrap();
/// let output = common::plumbing::run_batch(&frame); // error: call to unsafe function
/// ```
///
/// # Errors
/// A malformed frame, a frame from another build ("a frame from another build (built
/// 1a2b3c4d, this is 5e6f7a8b): nothing was called"), or a call whose addresses are not in
/// this executable's code: then nothing is called.
pub unsafe fn run_batch(frame: &[u8]) -> Result<Vec<u8>, String> {
    // Once per process is enough: the executable's code does not move.
    static CODE: OnceLock<Vec<Range<usize>>> = OnceLock::new();
    let code = CODE.get_or_init(crate::sys::executable_code);
    crate::panics::install_hook();
    let bodies = wire::records(frame).ok_or("a malformed batch frame")?;
    let [body] = bodies.as_slice() else {
        return Err(format!(
            "expected one batch in a frame, got {}",
            bodies.len()
        ));
    };
    let (call, input) = wire::unframe(body).ok_or("a frame too short to hold a call")?;
    call::run(&call, input, code)
}

/// Decodes the results of a batch of `len` items; anything malformed becomes an error per item.
pub fn decode_results<R: Task>(bytes: &[u8], len: usize) -> Results<R> {
    call::decode_results(bytes, len)
}

/// The pool's side of [`Pool::share`](crate::Pool::share) for workers that keep keyed
/// copies (see the module doc): a handle to `value`, and the value's encoding, which the pool
/// sends once to each worker (for [`keep_shared`] there, under `key.id`).
///
/// `forget` runs once, when the last handle goes (the caller's clones, and the [`Pins`] of
/// every batch that named it): the pool then tells its workers to [`forget_shared`].
///
/// # Errors
/// [`Error::Serde`] if `value` cannot be encoded (then `forget` never runs).
pub fn share_keyed<T: Task + Sync>(
    value: T,
    key: SharedKey,
    forget: impl FnOnce() + Send + 'static,
) -> Result<(Shared<T>, Vec<u8>), Error> {
    Shared::keyed(value, key, forget)
}

/// [`share_keyed`] for plain data ([`Pool::share_slice`](crate::Pool::share_slice)): the
/// bytes to send are the items' own, and a worker copies them into a `Vec<P>` once, on first
/// use.
pub fn share_slice_keyed<P: bytemuck::Pod + Send + Sync>(
    values: Vec<P>,
    key: SharedKey,
    forget: impl FnOnce() + Send + 'static,
) -> (Shared<[P]>, Vec<u8>) {
    Shared::slice_keyed(values, key, forget)
}

/// Runs `encode` (an [`encode_batch`], say) so that the handles of pool `pool` (made by
/// [`share_keyed`] with that `key.pool`) write their keys instead of their values; returns
/// what `encode` returned and those handles. Hold the [`Pins`] until the batch is answered or
/// dropped unsent: a key must not be forgotten while a batch that names it is on its way.
///
/// Handles of other pools, and handles a `share` without keys made, write their values as
/// always. A panic in `encode` (a `Serialize` is user code) leaves the thread as it was.
pub fn encode_for_keyed_workers<R>(pool: u64, encode: impl FnOnce() -> R) -> (R, Pins) {
    crate::shared::for_keyed_workers(pool, encode)
}

/// The worker's side of [`share_keyed`]: keeps `bytes` (what it returned) under `id` for the
/// tasks that name it, replacing anything kept under `id` before. Decoded on first use.
pub fn keep_shared(id: u64, bytes: Vec<u8>) {
    crate::shared::keep_keyed(id, bytes)
}

/// The worker's side of a `forget`: drops what this process keeps under `id`; whether it kept
/// anything. A task still running with the value keeps its clone until it ends.
pub fn forget_shared(id: u64) -> bool {
    crate::shared::forget_keyed(id)
}

/// How many values this process keeps by key: on a worker, the shared values its pool still
/// holds (a broadcast of this shows that a dropped one is gone everywhere).
pub fn shared_kept() -> usize {
    crate::shared::kept_by_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    fn shout(s: String) -> String {
        if s.is_empty() {
            panic!("nothing to shout");
        }
        s.to_uppercase()
    }

    #[test]
    fn a_panicking_item_fails_alone() {
        let items = vec!["a".to_string(), String::new(), "c".to_string()];
        let frame = encode_batch(shout, &items).unwrap();
        // SAFETY: the frame is `encode_batch`'s, unaltered, in this same test binary.
        let output = unsafe { run_batch(&frame) }.unwrap();
        let results = decode_results::<String>(&output, 3).into_vec();
        assert_eq!(results[0], Ok("A".to_string()));
        assert!(
            matches!(&results[1], Err(Error::Panicked { message, .. }) if message == "nothing to shout")
        );
        assert_eq!(results[2], Ok("C".to_string()));
    }

    #[test]
    fn a_malformed_frame_is_refused() {
        // SAFETY: a frame too short to hold a call is refused before any address is read.
        assert!(unsafe { run_batch(&[1, 2]) }.is_err());
        let mut frame = encode_batch(shout, &["x".to_string()]).unwrap();
        frame.pop();
        // SAFETY: a cut frame is refused by its length, before its call is read.
        let e = unsafe { run_batch(&frame) }.unwrap_err();
        assert_eq!(e, "a malformed batch frame");
    }

    static SHOUTED: AtomicUsize = AtomicUsize::new(0);

    fn counted_shout(s: String) -> String {
        SHOUTED.fetch_add(1, SeqCst);
        s.to_uppercase()
    }

    /// A frame whose build fingerprint (bytes 4..12, after the length) is not this build's, as
    /// a rank running a rebuilt binary would send it, is refused: nothing is called.
    #[test]
    fn a_frame_from_another_build_is_refused() {
        let mut frame = encode_batch(counted_shout, &["x".to_string()]).unwrap();
        frame[4..12].iter_mut().for_each(|b| *b = !*b);
        // SAFETY: not as promised on purpose, but only the fingerprint was altered, and a frame
        // whose fingerprint is not ours is refused before any address is computed.
        let e = unsafe { run_batch(&frame) }.unwrap_err();
        assert!(e.starts_with("a frame from another build (built "), "{e}");
        assert!(e.ends_with("): nothing was called"), "{e}");
        assert_eq!(SHOUTED.load(SeqCst), 0, "nothing was called");
        frame[4..12].iter_mut().for_each(|b| *b = !*b);
        // SAFETY: flipped back, the frame is `encode_batch`'s again, in this same build.
        let output = unsafe { run_batch(&frame) }.unwrap();
        assert_eq!(
            decode_results::<String>(&output, 1),
            Results::Values(vec!["X".to_string()])
        );
        assert_eq!(SHOUTED.load(SeqCst), 1);
    }
}
