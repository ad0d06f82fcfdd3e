//! # semaphore: at most N at once
//!
//! **Goal.** std has no semaphore: build one from a `Mutex` and a `Condvar`. `acquire` waits
//! until a permit is free and takes it; `release` gives one back and wakes a waiter. The check
//! then runs 30 workers of three kinds (downloads, at most 3 at once; encodings, 2; the disk,
//! 1), each kind behind its own semaphore, and records the most that ever ran at once.
//!
//! **Run.** `cargo run -p exercises -- check semaphore`.
//! Stuck? `cargo run -p exercises -- hint semaphore`.
//!
//! **Time.** About 20 minutes.

use std::sync::{Condvar, Mutex};

/// A counting semaphore.
#[allow(dead_code)] // The fields are read once `acquire` and `release` are written.
pub struct Semaphore {
    /// Permits free now.
    free: Mutex<usize>,
    /// Notified when a permit comes back.
    released: Condvar,
}

impl Semaphore {
    /// A semaphore with `permits` permits, all free.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            free: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    /// Waits until a permit is free, then takes it.
    pub fn acquire(&self) {
        todo!("wait while no permit is free, then take one")
    }

    /// Gives a permit back, and wakes one worker waiting for it.
    pub fn release(&self) {
        todo!("give a permit back and wake one waiter")
    }
}
