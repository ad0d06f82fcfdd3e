//! A task's result as its caller sees it: the [`TaskHandle`] that waits on a [`Slot`] (also as a
//! `Future`), and how a task that has not started is cancelled.
//!
//! Whoever waits is told by whichever means it waits with: a thread in `wait` by the slot's
//! condition variable (after a short spin), a `Future` by its stored `Waker`. A pool may also
//! leave the reading of the answer to the thread in `wait` ([`HasSlot::wait`]): the process
//! pool does for a task it handed straight to an idle worker.

pub use crate::slot::{CancelToken, Slot};
use crate::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Acquire;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

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

    /// Waits for the result, at most `timeout` (see [`TaskHandle::wait_timeout`]).
    ///
    /// By default on the slot. A pool that lends its worker's line to the caller (the process
    /// pool, see its `lend.rs`) reads the answer here, on the waiting thread, first.
    fn wait(&self, timeout: Option<Duration>) -> Result<R, Error> {
        self.slot().wait(timeout)
    }

    /// Settles the slot now if the answer is already there to be read, without waiting (see
    /// [`TaskHandle::is_finished`]). By default nothing to do: a pool that reads its answers
    /// itself has settled the slot when they came.
    fn settle_now(&self) {}

    /// Says that the handle will not block in `wait` for the result now: it is polled as a
    /// `Future`, checked with `is_finished`, or dropped. A pool that left the reading of the
    /// answer to the waiter then reads it itself. By default nothing to do.
    fn release(&self) {}
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
        self.slot.release();
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
        // An answer that is in but that nobody has read yet (a process pool's lent task) is
        // read here, so that a finished task is finished on every path, with no wait before.
        self.slot.settle_now();
        self.slot.release();
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
        self.slot.wait(None)
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
        self.slot.wait(Some(timeout))
    }
}

/// The instant `limit` from now, or `None` when it is too far to name (`Duration::MAX`): a
/// limit that no clock can reach is no limit. (`Instant::now() + Duration::MAX` panics.)
pub(crate) fn deadline_after(limit: Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(limit)
}

/// The instant `limit` from now, for a loop that compares with a deadline: a limit too far to
/// name (`Duration::MAX`) becomes a century, which no wait outlives.
pub(crate) fn deadline_in(limit: Duration) -> std::time::Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = std::time::Instant::now();
    now.checked_add(limit)
        .or_else(|| now.checked_add(CENTURY))
        .expect("a monotonic clock a century ahead fits in an Instant")
}

impl<R> Drop for TaskHandle<R> {
    /// A dropped handle reads nothing: a pool waiting for it to read its answer reads it itself.
    fn drop(&mut self) {
        self.slot.release();
    }
}
