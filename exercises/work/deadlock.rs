//! # deadlock: two locks taken in opposite orders
//!
//! **Goal.** Workers move money between accounts; [`transfer`] locks both accounts, then moves
//! the amount. Worker 0 sends from account 0 to 1 while worker 1 sends from 1 to 0: each takes
//! its first lock, then waits forever for the other's. (With more workers in a ring, 0 -> 1 ->
//! 2 -> 0, the cycle is longer but just as stuck.) Make `transfer` unable to deadlock, and keep
//! every balance right.
//!
//! **Run.** `cargo run -p exercises -- check deadlock` (the check forces every worker to take
//! its first lock before any takes its second, at 2, 3 and 4 workers, and reports the cycle).
//! Stuck? `cargo run -p exercises -- hint deadlock`.
//!
//! **Time.** About 15 minutes.

use crate::checks::deadlock::Account;

/// Moves `amount` from `from` to `to`, holding both locks while it does.
pub fn transfer(from: &Account, to: &Account, amount: i64) {
    // TODO: if another worker locks `to` first and then `from`, both wait forever.
    let mut source = from.lock();
    let mut target = to.lock();
    *source -= amount;
    *target += amount;
}
