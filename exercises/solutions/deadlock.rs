//! # deadlock: two locks taken in opposite orders (solution)
//!
//! One global order of locks: every worker takes the account with the lower id first. A cycle
//! of waits would need someone to hold a higher lock while waiting for a lower one, and nobody
//! ever does, so no cycle can form (the dining philosophers' cure, too).

use crate::checks::deadlock::Account;

/// Moves `amount` from `from` to `to`, holding both locks while it does.
pub fn transfer(from: &Account, to: &Account, amount: i64) {
    // New: lower id first, whichever direction the money goes.
    let (mut source, mut target);
    if from.id() < to.id() {
        source = from.lock();
        target = to.lock();
    } else {
        target = to.lock();
        source = from.lock();
    }
    *source -= amount;
    *target += amount;
}
