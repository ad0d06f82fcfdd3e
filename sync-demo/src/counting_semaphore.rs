//! A counting semaphore built from a `Mutex` and a `Condvar`, because std has none.
//!
//! The whole state is one number, the permits still available, kept under a mutex. `acquire`
//! sleeps on the condition variable while that number is 0; `release` adds one back and wakes one
//! sleeper. A woken thread re-checks the number before it takes a permit (the `while` loop), so a
//! spurious wake-up or a wake-up that another thread beat it to costs a loop turn, never a wrong
//! count. Every wait has a deadline, as everywhere in this crate.
//!
//! The file is written to be model-checked by loom (`tests/loom_semaphore.rs`): built with
//! `--cfg loom`, the two imports below swap std's primitives for loom's, and loom then runs the
//! test under every interleaving of its threads (up to a preemption bound).

#[cfg(loom)]
use loom::sync::{Condvar, Mutex, MutexGuard};
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// At most `limit` holders of a [`Permit`] at any moment.
#[derive(Debug)]
pub struct Semaphore {
    state: Mutex<State>,
    released: Condvar,
}

#[derive(Debug)]
struct State {
    available: usize,
    limit: usize,
}

/// One of the semaphore's permits; dropping it gives the permit back.
#[derive(Debug)]
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

/// `release` was called with every permit already available: someone released twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverRelease {
    /// The semaphore's limit, which `release` would have exceeded.
    pub limit: usize,
}

impl std::fmt::Display for OverRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "released more permits than the limit of {}", self.limit)
    }
}

impl std::error::Error for OverRelease {}

impl Semaphore {
    /// A semaphore with `limit` permits, all available.
    pub fn new(limit: usize) -> Semaphore {
        Semaphore {
            state: Mutex::new(State {
                available: limit,
                limit,
            }),
            released: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No code panics while holding this lock (it only does arithmetic on two numbers that
        // is checked first), so a poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a permit, waiting at most `limit` for one; `None` if none came in time.
    pub fn acquire_timeout(&self, limit: Duration) -> Option<Permit<'_>> {
        let deadline = Instant::now() + limit;
        let mut state = self.state();
        // Check the count first, the clock second: a thread woken by `release` takes the permit
        // even if its deadline has just passed, so no wake-up is ever wasted.
        while state.available == 0 {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self
                .released
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.available -= 1;
        Some(Permit { semaphore: self })
    }

    /// Takes a permit if one is free right now.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.state();
        if state.available == 0 {
            return None;
        }
        state.available -= 1;
        Some(Permit { semaphore: self })
    }

    /// Gives one permit back by hand (a [`Permit`] does this when dropped).
    ///
    /// # Errors
    /// [`OverRelease`] if every permit is already available: the count would pass the limit,
    /// which would let one worker too many in later. The count is left unchanged.
    pub fn release(&self) -> Result<(), OverRelease> {
        let mut state = self.state();
        if state.available == state.limit {
            return Err(OverRelease { limit: state.limit });
        }
        state.available += 1;
        drop(state);
        // One permit came back, so one sleeper can use it.
        self.released.notify_one();
        Ok(())
    }

    /// Permits available right now.
    pub fn available(&self) -> usize {
        self.state().available
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A permit stands for one taken unit, so giving it back cannot pass the limit unless
        // someone also called `release` by hand for it; then the extra release is refused.
        let _ = self.semaphore.release();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn permits_run_out_and_come_back_on_drop() {
        let sem = Semaphore::new(2);
        let a = sem.try_acquire().expect("2 free");
        let _b = sem.try_acquire().expect("1 free");
        assert!(sem.try_acquire().is_none());
        assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none());
        drop(a);
        assert_eq!(sem.available(), 1);
    }

    #[test]
    fn releasing_past_the_limit_is_an_error() {
        let sem = Semaphore::new(3);
        assert_eq!(sem.release(), Err(OverRelease { limit: 3 }));
        assert_eq!(sem.available(), 3);
    }

    #[test]
    fn a_waiter_wakes_when_a_permit_is_released() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().expect("1 free");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| sem.acquire_timeout(Duration::from_secs(5)).is_some());
            std::thread::sleep(Duration::from_millis(10)); // let the waiter start waiting
            drop(held);
            assert!(waiter.join().expect("no panic"));
        });
    }
}
