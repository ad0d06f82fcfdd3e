//! # lost-update: a lost update in a shared segment, fixed with an atomic or a lock (solution)
//!
//! `fetch_add` reads, adds and writes in one indivisible step (`lock xadd` on x86-64): no other
//! worker can come between. The lock is the other cure, shown below: the same two steps as
//! before, but no other worker can take the lock between them.

use crate::checks::lost_update::Counter;

/// Adds 1 to the shared counter.
pub fn add_one(counter: &Counter) {
    // New: one step instead of two.
    counter.fetch_add(1);
}

/// The other cure: the load and the store of before, under the segment's lock.
pub fn add_one_locked(counter: &Counter) {
    let mut held = counter.lock();
    let seen = held.load();
    held.store(seen + 1);
}
