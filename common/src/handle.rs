//! A task's result: the [`Slot`] a pool fills, the [`TaskHandle`] that waits on it (also as a
//! `Future`), and how a task that has not started is cancelled.
//!
//! A slot is one allocation with a lock, a condition variable and two atomics, far lighter than
//! a channel per task. Its run state goes from queued to started (the pool claims it) or to
//! cancelled (the caller does) exactly once, by compare-and-swap, so a cancelled task can
//! never also run. Whoever waits is told by whichever means it waits with: a thread in `wait`
//! by the condition variable (after a short spin), a `Future` by its stored `Waker`.

use crate::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU8, Ordering::AcqRel, Ordering::Acquire, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
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

/// The single result behind a [`TaskHandle`]: far lighter than a channel per task, which
/// matters when a million tasks are pending at once.
#[derive(Debug)]
pub struct Slot<R> {
    state: Mutex<SlotState<R>>,
    ready: Condvar,
    /// Set (after `state`) once the outcome is in: lets a waiter spin without the lock.
    settled: AtomicBool,
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
    fn poll_take(&self, waker: &Waker) -> Poll<Result<R, Error>> {
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

    fn wait(&self, timeout: Option<Duration>) -> Result<R, Error> {
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

/// Something that holds a task's [`Slot`]: the slot itself, or a pool's task record that
/// embeds it (so that a task costs one allocation, not two).
pub trait HasSlot<R>: Send + Sync {
    /// The task's slot.
    fn slot(&self) -> &Slot<R>;

    /// Cancels the task if it has not started (see [`TaskHandle::cancel`]); whether it did.
    ///
    /// By default the slot decides, against the pool's [`Slot::try_start`]. A task record
    /// with a claim of its own may decide with that instead, and then settles the slot with
    /// [`Slot::abandon`] (the thread pool takes the argument out under a lock that `run` takes
    /// anyway, which saves an atomic operation per task).
    fn cancel(&self) -> bool {
        self.slot().cancel()
    }
}

impl<R: Send> HasSlot<R> for Slot<R> {
    fn slot(&self) -> &Slot<R> {
        self
    }
}

/// The result of one submitted task (Python's `AsyncResult` / `Future`). Dropping it does not
/// cancel the task.
///
/// It is also a [`Future`]: `handle.await` gives the same `Result` as [`TaskHandle::wait`],
/// without blocking the executor's thread (the pool wakes the task when the result is in).
///
/// ```
/// use common::{Pool, ThreadPool};
/// let pool = ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|x: u32| x + 1, 41);
/// # // A tiny executor, so the example needs no dependency: poll until ready.
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     use std::task::{Context, Poll, Wake, Waker};
/// #     struct Noop;
/// #     impl Wake for Noop { fn wake(self: std::sync::Arc<Self>) {} }
/// #     let waker = Waker::from(std::sync::Arc::new(Noop));
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = Context::from_waker(&waker);
/// #     loop {
/// #         if let Poll::Ready(out) = f.as_mut().poll(&mut cx) { return out; }
/// #         std::thread::yield_now();
/// #     }
/// # }
/// assert_eq!(block_on(async { handle.await }), Ok(42));
/// ```
#[must_use = "a handle does nothing unless waited on, awaited or cancelled; the task runs either way"]
pub struct TaskHandle<R> {
    slot: Arc<dyn HasSlot<R>>,
}

impl<R> std::fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskHandle")
    }
}

impl<R> Future for TaskHandle<R> {
    type Output = Result<R, Error>;

    /// Ready once the task is answered; until then the slot keeps the waker and the pool wakes
    /// it when it fills the slot. Polled again after it was ready: [`Error::AlreadyTaken`].
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.slot().poll_take(cx.waker())
    }
}

impl<R> TaskHandle<R> {
    /// A handle on the slot that a pool will fill.
    pub fn new(slot: Arc<dyn HasSlot<R>>) -> TaskHandle<R> {
        TaskHandle { slot }
    }

    /// Whether the task is over: answered, failed or cancelled (Python's `ready()`/`done()`,
    /// std's `JoinHandle::is_finished`). It never blocks; once `true`, [`TaskHandle::wait`]
    /// returns at once.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(1).unwrap();
    /// let handle = pool.submit(|x: u32| x * 2, 21);
    /// while !handle.is_finished() {
    ///     std::thread::yield_now(); // the caller's own work would go here
    /// }
    /// assert_eq!(handle.wait(), Ok(42));
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot.slot().settled.load(Acquire)
    }

    /// Cancels the task if it has not started: it will never run, and its waiter gets
    /// [`Error::Cancelled`]. Returns whether it was cancelled; `false` if it was running or
    /// done already (Python's `Future.cancel()`).
    ///
    /// What each pool does with a task that is already running: a `ThreadPool` cannot stop a
    /// thread, so the task runs to its end and `cancel` returns `false`. A `ProcessPool`
    /// claims a task when it sends it to a worker (a worker may hold a few short tasks ahead
    /// of time), and from then on `cancel` returns `false` too; the task runs to its end. It
    /// does not kill the worker for it: that would cost every task prefetched there. To stop
    /// running process tasks, [`ProcessPool::terminate`](crate::ProcessPool::terminate).
    ///
    /// ```
    /// use common::{Error, Pool, ThreadPool};
    /// use std::time::Duration;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let busy = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 100);
    /// let queued = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 100);
    /// assert!(queued.cancel()); // the only thread is busy, so it had not started
    /// assert_eq!(queued.wait(), Err(Error::Cancelled));
    /// assert_eq!(busy.wait(), Ok(()));
    /// ```
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }

    /// Blocks until the task has finished and returns its value.
    ///
    /// There is no hang here: a pool always answers a task, with its value or an error, even
    /// when the worker running it dies or the pool is terminated.
    ///
    /// # Errors
    /// The task's error: [`Error::Panicked`], [`Error::WorkerDied`], [`Error::Cancelled`], ...
    pub fn wait(self) -> Result<R, Error> {
        self.slot.slot().wait(None)
    }

    /// Waits at most `timeout` for the task. On [`Error::Timeout`] the task goes on and the
    /// handle can be waited on again.
    ///
    /// ```
    /// use common::{Error, Pool, ThreadPool};
    /// use std::time::Duration;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let mut slow = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 200);
    /// assert_eq!(slow.wait_timeout(Duration::from_millis(1)), Err(Error::Timeout(Duration::from_millis(1))));
    /// assert_eq!(slow.wait_timeout(Duration::from_secs(10)), Ok(()));
    /// ```
    ///
    /// # Errors
    /// [`Error::Timeout`], [`Error::AlreadyTaken`] after a result was returned, or the task's error.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<R, Error> {
        self.slot.slot().wait(Some(timeout))
    }
}
