//! How an [`Array`]'s memory joins the kept arena (`process_pool/kept.rs`) and comes back.
//!
//! Two hand-offs on one thread, each through a thread-local slot, because serde has no way to
//! carry a `Vec<u64>` to a visitor, nor a `Serialize` a way to give its value up:
//!
//! - **reclaim**: an `Array<T>` being encoded notes which function can take an `Array<T>`
//!   apart ([`reclaim`]); the pool or worker that streamed it reads the note
//!   ([`take_reclaim`]) and, once the value is sent, calls it on the value (type-checked: the
//!   value is downcast to `Array<T>`, and anything else is given back untouched);
//! - **words**: the decoder of a lone byte string that was received into kept words hands them
//!   over ([`hand_over`]) just before it asks an `Array`'s visitor for its value, which takes
//!   them ([`take_words`]) as its own vector when `T` is laid out as eight-byte words.

use super::{Array, Items};
use crate::process_pool::kept::Buf;
use bytemuck::Pod;
use std::any::Any;
use std::cell::{Cell, RefCell};

/// Takes a value apart into its memory if it is the `Array<T>` this was made for; otherwise
/// gives it back.
pub(crate) type Reclaim = fn(Box<dyn Any>) -> Result<Option<Buf>, Box<dyn Any>>;

thread_local! {
    static RECLAIM: Cell<Option<Reclaim>> = const { Cell::new(None) };
    static WORDS: RefCell<Option<Vec<u64>>> = const { RefCell::new(None) };
}

/// Notes, on this thread, how to take an `Array<T>` apart (called as one is encoded).
pub(super) fn note_reclaim<T: Pod>() {
    RECLAIM.with(|r| r.set(Some(reclaim::<T>)));
}

/// The last note of [`note_reclaim`] on this thread, cleared.
pub(crate) fn take_reclaim() -> Option<Reclaim> {
    RECLAIM.with(Cell::take)
}

fn reclaim<T: Pod>(value: Box<dyn Any>) -> Result<Option<Buf>, Box<dyn Any>> {
    let array = value.downcast::<Array<T>>()?;
    Ok(match array.items {
        Items::Received(bytes) => Some(Buf::Bytes(bytes)),
        // Only memory allocated as eight-byte words can be kept as words.
        Items::Vec(values) => bytemuck::allocation::try_cast_vec::<T, u64>(values)
            .ok()
            .map(Buf::Words),
    })
}

/// Hands `words` to the `Array` visitor that runs next on this thread, runs `decode`, and
/// takes back what it did not take; whether it took them. Taken back on every path, a panic
/// in `decode` included: words left behind would be read by the next array decoded here.
pub(crate) fn hand_over<R>(words: Vec<u64>, decode: impl FnOnce() -> R) -> (R, bool) {
    struct TakeBack;
    impl Drop for TakeBack {
        fn drop(&mut self) {
            WORDS.with(|w| w.borrow_mut().take());
        }
    }
    WORDS.with(|w| *w.borrow_mut() = Some(words));
    let _take_back = TakeBack;
    let decoded = decode();
    let taken = WORDS.with(|w| w.borrow().is_none());
    (decoded, taken)
}

/// The words handed over for this array, if any.
pub(super) fn take_words() -> Option<Vec<u64>> {
    WORDS.with(|w| w.borrow_mut().take())
}

/// An array of `T` from handed-over words: their own memory when `T` is laid out as words
/// (`f64`, `u64`, `i64`, arrays of them); a copy otherwise. `None` if they are not whole `T`s.
pub(super) fn array_from_words<T: Pod>(words: Vec<u64>) -> Option<Array<T>> {
    let size = std::mem::size_of::<T>();
    if size == 0 || !(words.len() * 8).is_multiple_of(size) {
        return None;
    }
    let values = bytemuck::allocation::try_cast_vec::<u64, T>(words)
        .unwrap_or_else(|(_, words)| bytemuck::pod_collect_to_vec(&words));
    Some(Array::from(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_left_by_a_panicking_decode_are_not_read_by_the_next_array() {
        let panicked = std::panic::catch_unwind(|| {
            hand_over(vec![1, 2, 3], || panic!("a visitor that panics first"))
        });
        assert!(panicked.is_err());
        assert!(take_words().is_none(), "taken back on the way out");
        let ((), taken) = hand_over(vec![4], || ());
        assert!(!taken, "nobody took them");
        assert!(take_words().is_none());
    }
}
