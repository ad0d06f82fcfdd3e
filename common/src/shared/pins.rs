//! What a batch in flight holds so that the files and keys it names outlive it ([`Pins`]),
//! and the span in which a process pool's batch writes handles as references
//! ([`for_local_workers`]).

use super::Shared;
use std::cell::RefCell;

/// Handles held by a batch in flight, so that what it names outlives it: the files a process
/// pool's batch names stay open (`shared`'s module doc), and the keys a batch for keyed
/// workers names are not forgotten before the batch is answered
/// (`plumbing::encode_for_keyed_workers`). Drop it once the batch's answer is in, or the
/// batch is dropped unsent.
#[derive(Default)]
pub struct Pins(pub(super) Vec<Pin>);

/// One handle, of any type, kept only to be dropped later.
pub(super) type Pin = Box<dyn Send + Sync>;

impl Pins {
    /// Whether the batch named no handle in this way (nothing to hold).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many handles the batch named in this way (a handle named twice counts twice).
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        // The last handle may go here, on whatever thread the pool lets its batch go (a pool
        // thread, an MPI pool's MPI thread): the value's `Drop` is user code, and must not end
        // that thread.
        let pins = std::mem::take(&mut self.0);
        if !pins.is_empty() {
            crate::panics::catch_drop(|| drop(pins));
        }
    }
}

thread_local! {
    /// `Some` while this thread encodes a batch for a process pool's own workers: the handles
    /// written as references so far.
    static LOCAL: RefCell<Option<Vec<Pin>>> = const { RefCell::new(None) };
}

/// Runs `encode` with handles written as references (`shared`'s module doc), and returns what
/// it returned with the handles it wrote. Nested calls each get their own; a panic in `encode`
/// (a `Serialize` is user code) leaves the thread as it was.
pub(crate) fn for_local_workers<R>(encode: impl FnOnce() -> R) -> (R, Pins) {
    struct Restore(Option<Vec<Pin>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            if self.1 {
                let outer = self.0.take();
                LOCAL.with(|local| *local.borrow_mut() = outer);
            }
        }
    }
    let outer = LOCAL.with(|local| local.borrow_mut().replace(Vec::new()));
    let mut restore = Restore(outer, true);
    let value = encode();
    let pinned = LOCAL.with(|local| std::mem::replace(&mut *local.borrow_mut(), restore.0.take()));
    restore.1 = false;
    (value, Pins(pinned.unwrap_or_default()))
}

/// Whether handles are written as references on this thread now: a streamed argument is
/// encoded again when it is sent, and must take the form it was measured in.
pub(crate) fn encoding_for_local_workers() -> bool {
    LOCAL.with(|local| local.borrow().is_some())
}

/// Records `handle` as written by the current batch, if one for local workers is being
/// encoded; `false` if none is (the value is then written inline).
pub(super) fn pin<T: ?Sized + 'static>(handle: &Shared<T>) -> bool {
    LOCAL.with(|local| match local.borrow_mut().as_mut() {
        Some(pins) => {
            pins.push(Box::new(handle.clone()));
            true
        }
        None => false,
    })
}
