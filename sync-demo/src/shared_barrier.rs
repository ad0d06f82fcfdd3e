//! A barrier that can break: three words, for threads in one process or processes in a segment.
//!
//! std's `Barrier` waits for ever: if one party never comes (a thread panicked, a process was
//! killed), the others sleep for good. This one is Python's `threading.Barrier` with `abort`:
//! every wait is bounded, and whoever learns that a party is gone (the dying thread's guard, or
//! the parent that reaps a killed child) breaks it, which wakes every waiter with an error.
//!
//! | word | meaning | changed by |
//! |---|---|---|
//! | `arrived` | parties at the barrier in this generation | each arrival (+1); the last (to 0) |
//! | `generation` | how many times the barrier has opened | the last arrival (+1, then wakes all) |
//! | `broken` | non-zero once a party is known to be gone | [`BarrierWords::break_barrier`] |
//!
//! A waiter sleeps on `generation` (a futex, `sys::wait_while`) until it changes, the barrier
//! breaks, or its deadline passes. All three are atomics, so the struct means the same in every
//! process that maps it (its `Shareable` promise is in `sys/shareable.rs`).

use std::sync::atomic::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

use crate::sys::{wait_while, wake_all};

/// How often a sleeper looks at `broken` even if nobody woke it: a bound on a lost wake-up.
const RECHECK: Duration = Duration::from_millis(50);

/// The barrier's state; all zeros is a new barrier (as a new segment is).
#[derive(Debug, Default)]
#[repr(C)]
pub struct BarrierWords {
    arrived: AtomicU32,
    generation: AtomicU32,
    broken: AtomicU32,
}

/// Why a wait at the barrier failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierError {
    /// A party is gone (it panicked or was killed): the barrier will never open.
    Broken,
    /// The limit passed with the barrier still closed.
    TimedOut,
}

impl std::fmt::Display for BarrierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BarrierError::Broken => "the barrier is broken: a party is gone",
            BarrierError::TimedOut => "the barrier stayed closed past its limit",
        })
    }
}

impl std::error::Error for BarrierError {}

impl BarrierWords {
    /// Waits until `parties` have arrived (this one included), at most `limit`; `Ok(true)` for
    /// the party that arrived last and opened it.
    ///
    /// # Errors
    /// [`BarrierError::Broken`] as soon as the barrier is broken; [`BarrierError::TimedOut`].
    pub fn wait(&self, parties: u32, limit: Duration) -> Result<bool, BarrierError> {
        let deadline = Instant::now() + limit;
        // Read before arriving: the last arrival changes it only after counting us.
        let generation = self.generation.load(Acquire);
        if self.broken.load(Acquire) != 0 {
            return Err(BarrierError::Broken);
        }
        if self.arrived.fetch_add(1, AcqRel) + 1 == parties {
            // Reset before opening: a waiter that returns and comes back counts from zero.
            self.arrived.store(0, Relaxed);
            self.generation.fetch_add(1, Release);
            wake_all(&self.generation);
            return Ok(true);
        }
        loop {
            if self.generation.load(Acquire) != generation {
                return Ok(false);
            }
            if self.broken.load(Acquire) != 0 {
                return Err(BarrierError::Broken);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BarrierError::TimedOut);
            }
            wait_while(&self.generation, generation, left.min(RECHECK));
        }
    }

    /// Breaks the barrier for good and wakes every waiter: a party is gone.
    pub fn break_barrier(&self) {
        self.broken.store(1, Release);
        wake_all(&self.generation);
    }

    /// Whether it is broken.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Acquire) != 0
    }
}

/// Breaks the barrier when dropped during a panic: a thread that dies on its way to the
/// barrier tells the others at once (its stack unwinds through this guard).
pub struct BreakOnPanic<'a>(pub &'a BarrierWords);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.break_barrier();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_for_all_and_once_per_generation() {
        let words = BarrierWords::default();
        let leaders: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| words.wait(4, Duration::from_secs(5))))
                .collect();
            hs.into_iter()
                .map(|h| usize::from(h.join().expect("no panic").expect("opens")))
                .sum()
        });
        assert_eq!(leaders, 1);
    }

    #[test]
    fn a_broken_barrier_wakes_its_waiter_at_once() {
        let words = BarrierWords::default();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| words.wait(2, Duration::from_secs(5)));
            std::thread::sleep(Duration::from_millis(20));
            words.break_barrier();
            assert_eq!(waiter.join().expect("no panic"), Err(BarrierError::Broken));
        });
        assert_eq!(words.wait(1, Duration::ZERO), Err(BarrierError::Broken));
    }

    #[test]
    fn a_missing_party_is_a_timeout() {
        let words = BarrierWords::default();
        let limit = Duration::from_millis(30);
        assert_eq!(words.wait(2, limit), Err(BarrierError::TimedOut));
    }
}
