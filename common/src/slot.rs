//! The one result of a task: the [`Slot`] a pool fills and a waiter reads, and the
//! [`CancelToken`] that tells a pool whether a batch may still start.
//!
//! A slot is one allocation with a lock, a condition variable and two atomics, far lighter than
//! a channel per task. Its run state goes from queued to started (the pool claims it) or to
//! cancelled (the caller does) exactly once, by compare-and-swap, so a cancelled task can
//! never also run.

use crate::Error;
use std::sync::atomic::{
    AtomicBool, AtomicU8, Ordering::AcqRel, Ordering::Acquire, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Whether a batch may still start: the same answers as its [`Sink`](crate::pool::Sink)'s `try_start` and
/// `is_cancelled`, from a value a pool can keep beside a type-erased job.
#[derive(Clone)]
pub struct CancelToken(Gate);

#[derive(Clone)]
enum Gate {
    Flag(Arc<AtomicBool>),
    Task(Arc<dyn TaskGate>),
}

/// The part of a [`Slot`] that does not depend on its result type.
trait TaskGate: Send + Sync {
    fn try_start(&self) -> bool;
    fn is_cancelled(&self) -> bool;
}

impl<R: Send> TaskGate for Slot<R> {
    fn try_start(&self) -> bool {
        Slot::try_start(self)
    }
    fn is_cancelled(&self) -> bool {
        Slot::is_cancelled(self)
    }
}

impl CancelToken {
    /// The token of a map's batches: one flag cancels them all.
    pub(crate) fn flag(cancelled: Arc<AtomicBool>) -> CancelToken {
        CancelToken(Gate::Flag(cancelled))
    }

    /// The token of one submitted task.
    pub(crate) fn task<R: Send + 'static>(slot: Arc<Slot<R>>) -> CancelToken {
        CancelToken(Gate::Task(slot))
    }

    /// See [`Sink::try_start`](crate::pool::Sink::try_start).
    pub fn try_start(&self) -> bool {
        match &self.0 {
            Gate::Flag(cancelled) => !cancelled.load(Acquire),
            Gate::Task(task) => task.try_start(),
        }
    }

    /// See [`Sink::is_cancelled`](crate::pool::Sink::is_cancelled).
    pub fn is_cancelled(&self) -> bool {
        match &self.0 {
            Gate::Flag(cancelled) => cancelled.load(Acquire),
            Gate::Task(task) => task.is_cancelled(),
        }
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CancelToken(cancelled: {})", self.is_cancelled())
    }
}

/// The single result behind a [`TaskHandle`](crate::TaskHandle): far lighter than a channel per task, which
/// matters when a million tasks are pending at once.
#[derive(Debug)]
pub struct Slot<R> {
    state: Mutex<SlotState<R>>,
    ready: Condvar,
    /// Set (after `state`) once the outcome is in: lets a waiter spin without the lock.
    pub(crate) settled: AtomicBool,
    /// `QUEUED`, then `STARTED` (the pool claimed it) or `CANCELLED` (the caller did), once:
    /// a compare-and-swap decides which came first, so a cancelled task can never run.
    run: AtomicU8,
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

/// How long a waiter spins before it sleeps on the condition variable. Waking a sleeping thread
/// costs a system call and, on an idle virtual machine, the hypervisor's wake-up of a halted
/// CPU: about 50 µs here, against 7 µs for a round trip between two threads that spin. A short
/// task is usually done within this time; a long one costs this much CPU once, then sleeps.
pub(crate) const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(50);

#[derive(Debug)]
struct SlotState<R> {
    outcome: Outcome<R>,
    /// Whether a thread sleeps on `ready`. Waking a condition variable is a system call even
    /// when nobody waits, so `fill` only does it when someone does.
    waiting: bool,
}

#[derive(Debug)]
enum Outcome<R> {
    /// No result yet; the waker to wake when it comes, if the handle was polled as a `Future`
    /// (or is watched by [`crate::as_completed()`]). Kept in this variant, it costs no space:
    /// `Ready` is larger anyway.
    Pending(Option<Waker>),
    Ready(Result<R, Error>),
    Abandoned,
    Taken,
}

impl<R> Default for Slot<R> {
    fn default() -> Self {
        Slot {
            state: Mutex::new(SlotState {
                outcome: Outcome::Pending(None),
                waiting: false,
            }),
            ready: Condvar::new(),
            settled: AtomicBool::new(false),
            run: AtomicU8::new(QUEUED),
        }
    }
}

impl<R> Slot<R> {
    fn state(&self) -> MutexGuard<'_, SlotState<R>> {
        // The lock guards a plain enum swap; no code that can panic runs while it is held.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the task's result, once; later calls change nothing.
    pub fn fill(&self, result: Result<R, Error>) {
        self.settle(Outcome::Ready(result));
    }

    /// Marks the task as never to be answered (its pool stopped), once.
    pub fn abandon(&self) {
        self.settle(Outcome::Abandoned);
    }

    fn settle(&self, outcome: Outcome<R>) {
        let mut state = self.state();
        let waker = self.settle_locked(&mut state, outcome);
        drop(state);
        // Woken outside the lock: a waker may run an executor's code.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Stores `outcome` if none is in yet; returns the waker to wake.
    fn settle_locked(&self, state: &mut SlotState<R>, outcome: Outcome<R>) -> Option<Waker> {
        if !matches!(state.outcome, Outcome::Pending(_)) {
            return None;
        }
        let Outcome::Pending(waker) = std::mem::replace(&mut state.outcome, outcome) else {
            unreachable!("checked just above");
        };
        self.settled.store(true, Release);
        if state.waiting {
            self.ready.notify_all();
        }
        waker
    }

    /// The pool claims the task before running it: `false` if it was cancelled first.
    pub fn try_start(&self) -> bool {
        self.run.compare_exchange(QUEUED, STARTED, AcqRel, Acquire) != Err(CANCELLED)
    }

    /// Whether the caller cancelled the task.
    pub fn is_cancelled(&self) -> bool {
        self.run.load(Acquire) == CANCELLED
    }

    /// Cancels the task if it has neither started nor finished; the waiter then gets
    /// [`Error::Cancelled`]. Returns whether it did.
    pub fn cancel(&self) -> bool {
        let mut state = self.state();
        // Under the lock, so that no result can slip in between the check and the settling.
        if !matches!(state.outcome, Outcome::Pending(_))
            || self
                .run
                .compare_exchange(QUEUED, CANCELLED, AcqRel, Acquire)
                .is_err()
        {
            return false;
        }
        let waker = self.settle_locked(&mut state, Outcome::Abandoned);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Takes the result if it is in; otherwise remembers `waker` for when it comes.
    pub(crate) fn poll_take(&self, waker: &Waker) -> Poll<Result<R, Error>> {
        let mut state = self.state();
        if let Outcome::Pending(stored) = &mut state.outcome {
            // Replace the waker only if it would wake someone else (a task moved executors).
            if !stored.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *stored = Some(waker.clone());
            }
            return Poll::Pending;
        }
        Poll::Ready(Self::take(&mut state))
    }

    /// Takes the settled outcome out of the slot.
    fn take(state: &mut SlotState<R>) -> Result<R, Error> {
        match std::mem::replace(&mut state.outcome, Outcome::Taken) {
            Outcome::Ready(result) => result,
            Outcome::Abandoned => Err(Error::Cancelled),
            Outcome::Taken => Err(Error::AlreadyTaken),
            Outcome::Pending(_) => unreachable!("only a settled slot is taken"),
        }
    }

    /// Waits at most `limit` for the outcome to be in, without taking it; whether it is.
    pub(crate) fn settles_within(&self, limit: Duration) -> bool {
        if spin_for(limit.min(SPIN_BEFORE_SLEEP), || {
            self.settled.load(Acquire).then_some(())
        })
        .is_some()
        {
            return true;
        }
        let mut state = self.state();
        state.waiting = true;
        let pending = |s: &mut SlotState<R>| matches!(s.outcome, Outcome::Pending(_));
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, limit, pending)
            .unwrap_or_else(|p| p.into_inner());
        let settled = !pending(&mut state);
        if !settled {
            state.waiting = false;
        }
        settled
    }

    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<R, Error> {
        let spin = timeout.map_or(SPIN_BEFORE_SLEEP, |t| t.min(SPIN_BEFORE_SLEEP));
        spin_for(spin, || self.settled.load(Acquire).then_some(()));
        let mut state = self.state();
        state.waiting = true;
        let pending = |s: &mut SlotState<R>| matches!(s.outcome, Outcome::Pending(_));
        let mut state = match timeout {
            None => self
                .ready
                .wait_while(state, pending)
                .unwrap_or_else(|p| p.into_inner()),
            Some(limit) => {
                let (mut state, waited) = self
                    .ready
                    .wait_timeout_while(state, limit, pending)
                    .unwrap_or_else(|p| p.into_inner());
                if waited.timed_out() && matches!(state.outcome, Outcome::Pending(_)) {
                    state.waiting = false;
                    return Err(Error::Timeout(limit));
                }
                state
            }
        };
        // The wait ends only once the slot is settled.
        Self::take(&mut state)
    }
}

/// Polls `ready` for at most `limit`, yielding the CPU between polls; its answer, or `None`
/// if there was none in time (see [`SPIN_BEFORE_SLEEP`]).
///
/// It yields rather than spins: on an idle machine `yield` returns at once, so the CPU stays
/// awake and the answer is seen within a microsecond; on a busy one it hands the CPU to the
/// threads that are producing the answer. (A pure spin made a 2-CPU process pool 20 % slower:
/// the waiting thread took the CPU its own workers' supervisors needed.)
pub(crate) fn spin_for<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let started = std::time::Instant::now();
    for round in 0u32.. {
        if let Some(answer) = ready() {
            return Some(answer);
        }
        // A hundred quick polls first: an answer a few microseconds away is caught without a
        // system call. Then yield between polls, reading the clock (dearer than a poll) every
        // 16th time only.
        if round < 100 {
            std::hint::spin_loop();
            continue;
        }
        if round % 16 == 15 && started.elapsed() >= limit {
            return None;
        }
        std::thread::yield_now();
    }
    None
}
