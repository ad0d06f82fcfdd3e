//! A futex: a 32-bit word that threads or processes sleep on until another changes it.
//!
//! The kernel's primitive under every Linux lock and condition variable, here reached through
//! rustix, whose `futex::wait` and `futex::wake` are safe functions: they take `&AtomicU32`, so
//! the word is always valid, aligned memory. Without the `PRIVATE` flag the kernel finds
//! sleepers by the word's physical page, so processes that map the same shared segment (at
//! whatever addresses) sleep and wake on the same word. Every sleep here is bounded.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::thread::futex::{self, Flags, Timespec};

/// Sleeps while `word` holds `expected`, at most `limit`: until a [`wake_all`] on it, a
/// change seen before sleeping, a signal, or the limit. The caller re-checks its condition
/// either way, as with any condition variable (spurious wake-ups happen).
pub fn wait_while(word: &AtomicU32, expected: u32, limit: Duration) {
    let timeout = Timespec {
        tv_sec: limit.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: limit.subsec_nanos().into(),
    };
    // Errors are all "re-check and maybe sleep again": EAGAIN (the word had changed already),
    // ETIMEDOUT, EINTR. Shared (not PRIVATE): the word may live in a segment of several processes.
    let _ = futex::wait(word, Flags::empty(), expected, Some(&timeout));
}

/// Wakes every thread or process sleeping on `word`.
pub fn wake_all(word: &AtomicU32) {
    // The count of woken sleepers is of no use here; the call cannot fail on a valid word.
    let _ = futex::wake(word, Flags::empty(), i32::MAX as u32);
}
