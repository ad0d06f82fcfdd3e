//! # lost-update: a lost update in a shared segment, fixed with an atomic or a lock
//!
//! **Goal.** Each worker maps one shared segment and adds 1 to the counter in it, five times.
//! `load` then `store` is two steps: two workers can both load 4 and both store 5, and one
//! increment is gone. Make [`add_one`] lose nothing: one indivisible step
//! (`counter.fetch_add(1)`), or the two steps under the segment's lock (`counter.lock()` gives
//! a guard with its own `load` and `store`).
//!
//! **Run.** `cargo run -p exercises -- check lost-update` (the check forces the interleaving
//! `--schedule rr` at 2, 3 and 4 workers: every worker loads before any stores, every time).
//! Try `--schedule 0011` or `--schedule free` to see other interleavings.
//! Stuck? `cargo run -p exercises -- hint lost-update`.
//!
//! **Time.** About 10 minutes.

use crate::checks::lost_update::Counter;

/// Adds 1 to the shared counter.
pub fn add_one(counter: &Counter) {
    // TODO: another worker may store between your load and your store.
    let seen = counter.load();
    counter.store(seen + 1);
}
