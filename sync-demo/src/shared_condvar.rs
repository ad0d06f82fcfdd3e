//! A condition variable that wakes its waiters in the order they came: two words, for threads
//! in one process or processes in a shared segment.
//!
//! Why not std's `Condvar` or a process-shared pthread one? Both wake "one waiter" without
//! saying which, so a schedule that needs consumer 2 (not the producer) to be the one woken could
//! not be forced; a pthread condition variable is also not valid at every bit pattern, so it
//! could not live in a segment as a `Shareable` value. This one is a line of tickets:
//!
//! | word | meaning | changed by |
//! |---|---|---|
//! | `tickets` | places handed out so far | a waiter, holding the lock |
//! | `woken` | places woken so far: ticket `t` once `woken > t` | a signaller, holding the lock |
//!
//! A waiter takes a ticket while it holds the lock, lets go of the lock, and sleeps on `woken`
//! (a futex, `sys::wait_while`) until `woken` passes its ticket. No wake-up is lost: the ticket
//! was taken under the lock, and a signal needs the lock, so a signal after the waiter let go
//! counts it. A signal with nobody in line does nothing (Mesa semantics): that is what the
//! wrong variants of `condition_variable.rs` trip on. Every sleep is bounded; a waiter that
//! gives up keeps its place, so a later signal may go to it (a bound passing is a failure in
//! this crate, never the normal path).

use std::sync::atomic::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Release},
};
use std::time::{Duration, Instant};

use common::demo::segment::{Lock, LockGuard};

use crate::sys::{wait_while, wake_all};

/// How often a sleeper looks at its `stop` condition even if nobody woke it.
const RECHECK: Duration = Duration::from_millis(50);

/// The condition variable's two words; all zeros is a new one (as a new segment is).
#[derive(Debug, Default)]
#[repr(C)]
pub struct FifoCondvar {
    tickets: AtomicU32,
    woken: AtomicU32,
}

/// How a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A signal reached this ticket.
    Signalled,
    /// `stop()` said to give up.
    Stopped,
    /// The limit passed first.
    TimedOut,
}

impl FifoCondvar {
    /// Takes the next place in line; call it holding the lock that guards the condition.
    pub fn enqueue(&self) -> u32 {
        self.tickets.fetch_add(1, AcqRel)
    }

    /// Whether `ticket` has been woken (wrapping: tickets count on past `u32::MAX`).
    pub fn is_woken(&self, ticket: u32) -> bool {
        (self.woken.load(Acquire).wrapping_sub(ticket) as i32) > 0
    }

    /// Sleeps until `ticket` is woken, `stop()` is true, or `limit` passes. Call it after
    /// letting go of the lock.
    pub fn sleep(&self, ticket: u32, limit: Duration, stop: impl Fn() -> bool) -> Wake {
        // An hour stands for "no bound": `Instant + Duration::MAX` would overflow.
        let deadline = Instant::now() + limit.min(Duration::from_secs(3600));
        loop {
            let woken = self.woken.load(Acquire);
            if (woken.wrapping_sub(ticket) as i32) > 0 {
                return Wake::Signalled;
            }
            if stop() {
                return Wake::Stopped;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::TimedOut;
            }
            wait_while(&self.woken, woken, left.min(RECHECK));
        }
    }

    /// Wakes the waiter first in line, if there is one, and returns its ticket; call it
    /// holding the lock. With nobody in line the signal is lost.
    pub fn signal(&self) -> Option<u32> {
        let (woken, tickets) = (self.woken.load(Acquire), self.tickets.load(Acquire));
        if tickets.wrapping_sub(woken) as i32 <= 0 {
            return None;
        }
        self.woken.store(woken.wrapping_add(1), Release);
        wake_all(&self.woken);
        Some(woken)
    }

    /// Wakes every waiter in line; call it holding the lock.
    pub fn broadcast(&self) {
        self.woken.store(self.tickets.load(Acquire), Release);
        wake_all(&self.woken);
    }

    /// Wakes the sleepers without waking any ticket, so that each looks at its `stop()`.
    pub fn nudge(&self) {
        wake_all(&self.woken);
    }

    /// The plain wait, for a condition guarded by `lock`: takes a ticket, lets go of the lock,
    /// sleeps until signalled (at most `limit`), takes the lock again. `None` if the limit
    /// passed.
    ///
    /// # Errors
    /// The lock could not be taken again (its holder died holding it, or is stuck).
    pub fn wait<'a, T>(
        &self,
        lock: &'a Lock<T>,
        guard: LockGuard<'a, T>,
        limit: Duration,
    ) -> std::io::Result<Option<LockGuard<'a, T>>> {
        let ticket = self.enqueue();
        drop(guard);
        let woke = self.sleep(ticket, limit, || false);
        let guard = lock.lock()?;
        Ok((woke == Wake::Signalled).then_some(guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_wake_in_the_order_of_arrival() {
        let cv = FifoCondvar::default();
        let (first, second) = (cv.enqueue(), cv.enqueue());
        assert_eq!(cv.signal(), Some(first));
        assert!(cv.is_woken(first) && !cv.is_woken(second));
        assert_eq!(cv.signal(), Some(second));
        assert_eq!(cv.signal(), None, "nobody left in line: the signal is lost");
        let third = cv.enqueue();
        assert!(
            !cv.is_woken(third),
            "a lost signal does not wake a later waiter"
        );
    }

    #[test]
    fn a_sleeper_wakes_on_signal_and_gives_up_at_its_bound() {
        let (cv, lock) = (FifoCondvar::default(), Lock::<u32>::default());
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let guard = lock.lock().expect("free");
                cv.wait(&lock, guard, Duration::from_secs(5))
                    .expect("relock")
                    .is_some()
            });
            while cv.tickets.load(Acquire) == 0 {
                std::thread::yield_now();
            }
            let _guard = lock.lock().expect("free");
            cv.signal();
            drop(_guard);
            assert!(waiter.join().expect("no panic"));
        });
        let ticket = cv.enqueue();
        assert_eq!(
            cv.sleep(ticket, Duration::from_millis(20), || false),
            Wake::TimedOut
        );
        assert_eq!(
            cv.sleep(ticket, Duration::from_secs(5), || true),
            Wake::Stopped
        );
    }
}
