//! # semaphore: at most N at once (solution)
//!
//! The count of free permits lives under the mutex; `acquire` waits on the condition variable
//! *in a loop*, because a wake-up says only "something changed" (another worker may have taken
//! the permit first, and wake-ups can be spurious). `release` adds the permit under the lock,
//! so no waiter can check the count and go to sleep between the change and the notification.

use std::sync::{Condvar, Mutex};

/// A counting semaphore.
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
        let free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let mut free = self
            .released
            .wait_while(free, |free| *free == 0)
            .unwrap_or_else(|p| p.into_inner());
        *free -= 1;
    }

    /// Gives a permit back, and wakes one worker waiting for it.
    pub fn release(&self) {
        *self.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.released.notify_one();
    }
}
