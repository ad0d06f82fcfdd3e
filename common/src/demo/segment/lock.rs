//! A lock that works across processes: a flag in shared memory, taken with `compare_exchange`.
//!
//! std's `Mutex` cannot do this: it waits on a futex private to its process, and it is not
//! valid at every bit pattern. This one spins (yielding the CPU) on a flag that lives beside the
//! value it guards, so any process that maps both can take it. Two things differ from `Mutex`,
//! both because the holder may be another process: a holder that dies while holding it cannot
//! poison it (no unwinding reaches us), so every wait is bounded ([`LOCK_LIMIT`]) and a lock
//! held too long is an error; and the flag is a `u32` read as "taken" when non-zero, so any
//! bytes a dead process left are a valid lock.

use super::Shareable;
use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

/// How long [`Lock::lock`] waits before it calls the holder gone.
pub const LOCK_LIMIT: Duration = Duration::from_secs(10);

/// A value of type `T` and a flag that lets one process (or thread) at a time change it.
///
/// ```
/// let lock = common::demo::segment::Lock::<u64>::default();
/// *lock.lock().unwrap() += 1;
/// assert_eq!(*lock.lock().unwrap(), 1);
/// ```
#[derive(Debug, Default)]
#[repr(C)]
pub struct Lock<T> {
    taken: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the flag hands the value to one holder at a time (`Acquire` on taking, `Release` on
// letting go), which is what `Mutex<T>: Sync` requires of `T: Send`.
unsafe impl<T: Send> Sync for Lock<T> {}

// SAFETY: 1. any bits are a valid lock: a `u32` flag (non-zero: taken) and a `T` that accepts
// any bits; 2. no address, as `T` holds none; 3. `Sync` above, and `T` changes only under the
// flag.
unsafe impl<T: Shareable + Send> Shareable for Lock<T> {}

impl<T> Lock<T> {
    /// Takes the lock, waiting at most [`LOCK_LIMIT`].
    ///
    /// # Errors
    /// `TimedOut` if it stayed taken that long: its holder died holding it, or is stuck.
    pub fn lock(&self) -> io::Result<LockGuard<'_, T>> {
        self.lock_within(LOCK_LIMIT)
    }

    /// Takes the lock, waiting at most `limit`.
    ///
    /// # Errors
    /// As [`Lock::lock`].
    pub fn lock_within(&self, limit: Duration) -> io::Result<LockGuard<'_, T>> {
        let deadline = crate::handle::deadline_in(limit);
        // `Acquire` pairs with the last holder's `Release`: we see what it wrote.
        while self
            .taken
            .compare_exchange_weak(0, 1, Acquire, Relaxed)
            .is_err()
        {
            if Instant::now() >= deadline {
                let words = "the lock stayed taken: its holder died holding it, or is stuck";
                return Err(io::Error::new(io::ErrorKind::TimedOut, words));
            }
            // Let the holder run (maybe on this very CPU) and let go.
            std::thread::yield_now();
        }
        Ok(LockGuard {
            lock: self,
            _access: std::marker::PhantomData,
        })
    }
}

/// The lock, held: dereferences to the value; dropping it lets go.
#[derive(Debug)]
#[must_use = "dropping the guard lets go of the lock at once"]
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    /// Sync only where `T` is: a shared guard hands out `&T` to every thread that has it.
    _access: std::marker::PhantomData<&'a mut T>,
}

impl<T> std::ops::Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard exists only while the flag is taken by us (set in `lock_within`,
        // cleared in `drop`), so no other reference to the value exists meanwhile.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> std::ops::DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        // `Release`: the next holder sees every write made under the lock.
        self.lock.taken.store(0, Release);
    }
}
