//! The `Pool` trait: one interface over threads and processes.
//!
//! Each pool implements a single required method, [`Pool::dispatch`], which hands one *batch* of
//! items (a chunk) to some worker and promises that exactly one [`BatchResult`] comes back on the
//! given channel. Everything users call (`submit`, `map`, `map_unordered`) is written once, here,
//! on top of it, which is why the two pools cannot drift apart.
//!
//! Why serde on both pools? A process worker has its own memory, so an argument must be turned
//! into bytes to reach it. A thread worker could take the value as it is, but if `ThreadPool`
//! accepted non-serializable values, code written for it would fail to compile on `ProcessPool`.
//! Demanding the same bounds on both keeps `fn work<P: Pool>(pool: &P)` honest.

use crate::Error;
use crossbeam_channel::{Receiver, Sender};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU8, Ordering::AcqRel, Ordering::Acquire, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What a task's argument and result must be: sendable to another thread, and to another process.
pub trait Task: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> Task for T {}

/// How `map` cuts its items into batches. A batch is what travels to a worker in one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// About four batches per worker, like Python's `Pool.map`: few messages, yet balanced.
    Auto,
    /// Exactly this many items per batch (the last may be shorter). Zero is an error.
    Size(usize),
}

impl Chunk {
    /// The batch size for `len` items on `workers` workers.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`] for `Chunk::Size(0)`.
    pub fn size_for(self, len: usize, workers: usize) -> Result<usize, Error> {
        match self {
            Chunk::Size(0) => Err(Error::ZeroChunk),
            Chunk::Size(n) => Ok(n),
            Chunk::Auto => Ok(len.div_ceil(4 * workers.max(1)).max(1)),
        }
    }
}

/// One batch's results, in item order, starting at item index `first`.
#[derive(Debug)]
pub struct BatchResult<R> {
    /// Index (in the caller's sequence) of the first item of the batch.
    pub first: usize,
    /// One result per item of the batch.
    pub results: Results<R>,
}

impl<R> BatchResult<R> {
    /// A batch of `len` items that all failed with `error`.
    pub fn failed(first: usize, len: usize, error: &Error) -> BatchResult<R> {
        BatchResult {
            first,
            results: Results::failed(len, error),
        }
    }
}

/// The results of one batch. Nearly every batch succeeds whole, so that case is a plain
/// `Vec<R>`: no `Result` per item to build, and `map` can append it to its output in one move.
#[derive(Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Results<R> {
    /// Every item succeeded.
    Values(Vec<R>),
    /// At least one item failed; one result per item.
    Each(Vec<Result<R, Error>>),
}

impl<R> Results<R> {
    /// `len` copies of `error`, for a batch that failed as a whole.
    pub fn failed(len: usize, error: &Error) -> Results<R> {
        Results::Each((0..len).map(|_| Err(error.clone())).collect())
    }

    /// How many items the batch had.
    pub fn len(&self) -> usize {
        match self {
            Results::Values(v) => v.len(),
            Results::Each(e) => e.len(),
        }
    }

    /// The first item's result (`None` for an empty batch).
    pub fn into_first(self) -> Option<Result<R, Error>> {
        match self {
            Results::Values(v) => v.into_iter().next().map(Ok),
            Results::Each(e) => e.into_iter().next(),
        }
    }

    /// Whether the batch had no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One `Result` per item.
    pub fn into_vec(self) -> Vec<Result<R, Error>> {
        match self {
            Results::Values(v) => v.into_iter().map(Ok).collect(),
            Results::Each(e) => e,
        }
    }
}

/// Where a pool delivers a batch's results: the channel that `map` collects from, or the
/// one-result slot behind a [`TaskHandle`].
///
/// Dropping a sink without sending (a pool that was terminated) wakes whoever waits on it with
/// [`Error::Cancelled`], so a waiter can never hang on a batch that nobody will answer.
///
/// # For pool implementors: cancellation
///
/// A batch can be cancelled while it waits in a pool's queue ([`TaskHandle::cancel`], the
/// deadline of [`Pool::map_timeout`], a dropped [`crate::MapIter`]). A pool honours that by
/// calling [`Sink::try_start`] right before it runs the batch (or sends it to a worker
/// process): on `false` it must not run it, and drops the sink (or sends
/// [`BatchResult::failed`] with [`Error::Cancelled`]; either reaches nobody who still waits).
/// Once `try_start` has returned `true`, the batch counts as running and can no longer be
/// cancelled. A pool that keeps its jobs type-erased can take a [`CancelToken`] from the sink
/// at dispatch and ask it instead. A pool that never asks still works: a cancelled batch then
/// runs, and its result is thrown away.
#[derive(Debug)]
pub struct Sink<R>(SinkTo<R>);

#[derive(Debug)]
enum SinkTo<R> {
    /// One batch of a map; the flag, shared by every batch of that map, cancels them all.
    Channel(Sender<BatchResult<R>>, Arc<AtomicBool>),
    Slot(Arc<Slot<R>>),
}

impl<R> Sink<R> {
    /// Delivers the batch's results. A receiver that is gone (a dropped handle, an abandoned
    /// iterator) simply does not want them.
    pub fn send(self, batch: BatchResult<R>) {
        match &self.0 {
            SinkTo::Channel(channel, _) => {
                let _ = channel.send(batch);
            }
            SinkTo::Slot(slot) => {
                slot.fill(batch.results.into_first().unwrap_or(Err(Error::Cancelled)))
            }
        }
    }

    /// Claims the batch for running: `false` if it was cancelled, and then it must not run
    /// (see the type's docs). Call it once, right before running or sending the batch.
    pub fn try_start(&self) -> bool {
        match &self.0 {
            SinkTo::Channel(_, cancelled) => !cancelled.load(Acquire),
            SinkTo::Slot(slot) => slot.try_start(),
        }
    }

    /// Whether the batch was cancelled. Unlike [`Sink::try_start`] it claims nothing: a pool
    /// may use it to skip a cancelled batch early.
    pub fn is_cancelled(&self) -> bool {
        match &self.0 {
            SinkTo::Channel(_, cancelled) => cancelled.load(Acquire),
            SinkTo::Slot(slot) => slot.is_cancelled(),
        }
    }
}

impl<R: Send + 'static> Sink<R> {
    /// The batch's cancellation state as a cheap, cloneable value that is not generic, for a
    /// pool whose queue holds type-erased jobs: ask it instead of the sink.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken(match &self.0 {
            SinkTo::Channel(_, cancelled) => Gate::Flag(Arc::clone(cancelled)),
            SinkTo::Slot(slot) => Gate::Task(Arc::clone(slot) as Arc<dyn TaskGate>),
        })
    }
}

impl<R> Drop for Sink<R> {
    fn drop(&mut self) {
        if let SinkTo::Slot(slot) = &self.0 {
            slot.abandon(); // no effect if the result was sent
        }
    }
}

/// Whether a batch may still start: the same answers as its [`Sink`]'s `try_start` and
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
    /// See [`Sink::try_start`].
    pub fn try_start(&self) -> bool {
        match &self.0 {
            Gate::Flag(cancelled) => !cancelled.load(Acquire),
            Gate::Task(task) => task.try_start(),
        }
    }

    /// See [`Sink::is_cancelled`].
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
    /// (or is watched by [`crate::as_completed`]). Kept in this variant, it costs no space:
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

/// One batch as it ran: which worker, which items, when. Times count from the pool's creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The worker's index in the pool, `0..workers`. A replaced process worker keeps its index.
    pub worker: usize,
    /// The process that ran the batch (the pool's own pid for a `ThreadPool`).
    pub pid: u32,
    /// Index of the batch's first item.
    pub first: usize,
    /// Number of items in the batch.
    pub len: usize,
    /// When the worker started the batch.
    pub start: Duration,
    /// When the worker finished it.
    pub end: Duration,
}

/// The spans a pool records when built with `record_timeline(true)`: what [`Pool::timeline`]
/// returns. Both pools keep one.
#[derive(Debug)]
pub(crate) struct Timeline {
    /// Monotonic clock reading (ns) at the pool's creation; spans count from here.
    epoch: u64,
    spans: Option<Mutex<Vec<Span>>>,
}

impl Timeline {
    pub(crate) fn new(recording: bool) -> Timeline {
        Timeline {
            epoch: crate::sys::monotonic_nanos(),
            spans: recording.then(|| Mutex::new(Vec::new())),
        }
    }

    pub(crate) fn is_recording(&self) -> bool {
        self.spans.is_some()
    }

    /// Records one batch; `start` and `end` are monotonic clock readings (ns).
    pub(crate) fn record(
        &self,
        worker: usize,
        pid: u32,
        first: usize,
        len: usize,
        start: u64,
        end: u64,
    ) {
        if let Some(spans) = &self.spans {
            let (start, end) = (
                crate::sys::nanos_between(self.epoch, start),
                crate::sys::nanos_between(self.epoch, end),
            );
            let span = Span {
                worker,
                pid,
                first,
                len,
                start,
                end,
            };
            // Pushing a span cannot panic halfway, so a poisoned lock still holds whole spans.
            spans.lock().unwrap_or_else(|p| p.into_inner()).push(span);
        }
    }

    /// The spans so far (none if the pool does not record).
    pub(crate) fn spans(&self) -> Vec<Span> {
        self.spans
            .as_ref()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }
}

/// A pool of workers that run plain functions on serde values.
///
/// Generic code over `P: Pool` runs unchanged on a [`crate::ThreadPool`] and on a
/// [`crate::ProcessPool`], and gets identical results:
///
/// ```
/// use common::{Pool, ThreadPool};
///
/// fn sum_of_squares<P: Pool>(pool: &P) -> u64 {
///     let squares = pool.map(|x: u64| x * x, 1..=10).expect("no task panics");
///     squares.iter().sum()
/// }
///
/// let pool = ThreadPool::new(2).unwrap();
/// assert_eq!(sum_of_squares(&pool), 385);
/// ```
///
/// A task must be a plain function. A closure that captures its environment has no address that
/// another process could call, so it is refused at compile time, on both pools:
///
/// ```compile_fail
/// use common::{Pool, ThreadPool};
/// let pool = ThreadPool::new(2).unwrap();
/// let offset = 10;
/// let _ = pool.map(move |x: u64| x + offset, 1..=3); // error: captures `offset`
/// ```
pub trait Pool {
    /// How many workers the pool runs.
    fn workers(&self) -> usize;

    /// `"thread"` or `"process"`, for narration.
    fn kind(&self) -> &'static str;

    /// Sends `items` (whose first item has index `first`) to a worker as one batch, to be
    /// answered with exactly one [`BatchResult`] on `sink`: values, or an error per item.
    ///
    /// This is the one method a pool implements; the others are built on it. It never blocks
    /// on the work itself.
    fn dispatch<A: Task, R: Task>(&self, f: fn(A) -> R, first: usize, items: Vec<A>, sink: Sink<R>);

    /// The batches run so far, if the pool was built with timeline recording; empty otherwise.
    fn timeline(&self) -> Vec<Span>;

    /// Starts `f(arg)` on some worker and returns at once with a handle to its result
    /// (Python's `apply_async`, `Executor.submit`).
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(1).unwrap();
    /// let handle = pool.submit(|s: String| s.len(), "four".to_string());
    /// assert_eq!(handle.wait(), Ok(4));
    /// ```
    fn submit<A: Task, R: Task>(&self, f: fn(A) -> R, arg: A) -> TaskHandle<R> {
        let slot = Arc::new(Slot::default());
        self.dispatch(f, 0, vec![arg], Sink(SinkTo::Slot(Arc::clone(&slot))));
        TaskHandle::new(slot)
    }

    /// Applies `f` to every item on the workers and returns the results in item order, cutting
    /// the items into batches automatically (see [`Chunk::Auto`]).
    ///
    /// Python's `starmap` is a map over tuples: a task takes one argument, and a tuple is one.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(2).unwrap();
    /// // Python: pool.starmap(pow, [(2, 3), (3, 2)])
    /// let powers = pool.map(|(base, exp): (u64, u32)| base.pow(exp), vec![(2, 3), (3, 2)]);
    /// assert_eq!(powers, Ok(vec![8, 9]));
    /// ```
    ///
    /// # Errors
    /// The error of the first failed item (in item order), after every item has run.
    fn map<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, Error> {
        self.map_chunked(f, items, Chunk::Auto)
    }

    /// [`Pool::map`] with an explicit batch size.
    ///
    /// A batch is the unit of failure across a process boundary: if a worker process dies during
    /// a batch, every item of that batch reports the death. Use `Chunk::Size(1)` to isolate items.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`], or the error of the first failed item.
    fn map_chunked<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunk: Chunk,
    ) -> Result<Vec<R>, Error> {
        let items: Vec<A> = items.into_iter().collect();
        let len = items.len();
        let size = chunk.size_for(len, self.workers())?;
        let (results, _) = send_batches(self, f, items, size);
        collect_in_order(&results, len, size, None)
    }

    /// [`Pool::map`] with a deadline for the whole call (Python's `map_async(...).get(timeout)`).
    ///
    /// When `limit` has passed and results are still missing, every batch that has not started
    /// is cancelled (it never runs) and the call returns at once, without waiting for the
    /// batches that are running: they finish in the background and their results are dropped.
    /// (A process pool that does not check cancellation yet sends queued batches anyway; see
    /// [`Sink`].)
    ///
    /// ```
    /// use common::{Error, Pool, ThreadPool};
    /// use std::time::Duration;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let nap = |ms: u64| std::thread::sleep(Duration::from_millis(ms));
    /// assert_eq!(pool.map_timeout(nap, vec![1, 1], Duration::from_secs(10)), Ok(vec![(), ()]));
    /// // Ten naps of 200 ms on one thread take at least 2 s: past the limit, whatever the load.
    /// let limit = Duration::from_millis(50);
    /// assert_eq!(pool.map_timeout(nap, vec![200; 10], limit), Err(Error::Timeout(limit)));
    /// ```
    ///
    /// # Errors
    /// [`Error::Timeout`]`(limit)` when the deadline passed first; otherwise as [`Pool::map`].
    fn map_timeout<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        limit: Duration,
    ) -> Result<Vec<R>, Error> {
        let deadline = Instant::now() + limit;
        let items: Vec<A> = items.into_iter().collect();
        let len = items.len();
        let size = Chunk::Auto.size_for(len, self.workers())?;
        let (results, cancel) = send_batches(self, f, items, size);
        let out = collect_in_order(&results, len, size, Some((deadline, limit)));
        if let Err(Error::Timeout(_)) = out {
            // Batches still queued see the flag before they start, and never run.
            cancel.store(true, Release);
        }
        out
    }

    /// Applies `f` to every item and yields the results in item order, each as soon as it and
    /// every item before it are done (Python's `imap`). Items are cut into batches as by
    /// [`Pool::map`] and all sent at once; the iterator only decides when you see them.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(2).unwrap();
    /// let mut lengths = pool.map_iter(|s: String| s.len(), vec!["a".into(), "bcd".into()]);
    /// assert_eq!(lengths.next(), Some(Ok(1))); // the first result, while others may still run
    /// assert_eq!(lengths.next(), Some(Ok(3)));
    /// assert_eq!(lengths.next(), None);
    /// ```
    ///
    /// Dropping the iterator early cancels the batches that have not started.
    fn map_iter<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> crate::MapIter<R> {
        let items: Vec<A> = items.into_iter().collect();
        // `Auto` never fails: only `Size(0)` does.
        let size = Chunk::Auto
            .size_for(items.len(), self.workers())
            .unwrap_or(1);
        crate::MapIter::start(self, f, items, size)
    }

    /// [`Pool::map_iter`] with an explicit batch size: `Chunk::Size(1)` yields each result the
    /// moment it (and those before it) is done, larger batches yield a batch at a time.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`].
    fn map_iter_chunked<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunk: Chunk,
    ) -> Result<crate::MapIter<R>, Error> {
        let items: Vec<A> = items.into_iter().collect();
        let size = chunk.size_for(items.len(), self.workers())?;
        Ok(crate::MapIter::start(self, f, items, size))
    }

    /// Applies `f` to every item, one item per batch, and yields `(index, result)` pairs as the
    /// tasks finish, fastest first (Python's `imap_unordered`).
    fn map_unordered<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Unordered<R> {
        let items: Vec<A> = items.into_iter().collect();
        let pending = batch_ranges(items.len(), 1);
        let (results, _) = send_batches(self, f, items, 1);
        Unordered {
            results,
            pending,
            ready: VecDeque::new(),
        }
    }

    /// [`Pool::map_unordered`] with an explicit batch size.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`].
    fn map_unordered_chunked<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunk: Chunk,
    ) -> Result<Unordered<R>, Error> {
        let items: Vec<A> = items.into_iter().collect();
        let size = chunk.size_for(items.len(), self.workers())?;
        let pending = batch_ranges(items.len(), size);
        let (results, _) = send_batches(self, f, items, size);
        Ok(Unordered {
            results,
            pending,
            ready: VecDeque::new(),
        })
    }
}

/// Cuts `items` into batches of `size`, dispatches each, and returns where the results arrive
/// and the flag that cancels every batch not yet started.
pub(crate) fn send_batches<P: Pool + ?Sized, A: Task, R: Task>(
    pool: &P,
    f: fn(A) -> R,
    mut items: Vec<A>,
    size: usize,
) -> (Receiver<BatchResult<R>>, Arc<AtomicBool>) {
    let (sink, results) = crossbeam_channel::unbounded();
    let cancel = Arc::new(AtomicBool::new(false));
    // Cut from the back with `split_off`, which moves each tail with one memcpy; the first
    // batch keeps the caller's own buffer. (Taking items one by one cost a third of `map`.)
    let mut tails = Vec::new();
    for first in (size..items.len()).step_by(size).rev() {
        tails.push((first, items.split_off(first)));
    }
    if !items.is_empty() {
        tails.push((0, items));
    }
    for (first, batch) in tails.into_iter().rev() {
        let to = SinkTo::Channel(sink.clone(), Arc::clone(&cancel));
        pool.dispatch(f, first, batch, Sink(to));
    }
    (results, cancel)
}

/// Waits for every batch of a map and joins their results in item order.
///
/// # Errors
/// The first failed item's error; [`Error::Cancelled`] if the pool was terminated;
/// `Error::Timeout(limit)` if the `(deadline, limit)` passed first.
fn collect_in_order<R>(
    results: &Receiver<BatchResult<R>>,
    len: usize,
    size: usize,
    deadline: Option<(Instant, Duration)>,
) -> Result<Vec<R>, Error> {
    // Batches come back in any order; slot each by its position, then join them in order.
    let mut batches: Vec<Option<Results<R>>> = Vec::new();
    batches.resize_with(len.div_ceil(size), || None);
    for _ in 0..batches.len() {
        let batch = match deadline {
            None => results.recv().map_err(|_| Error::Cancelled),
            Some((deadline, limit)) => results.recv_deadline(deadline).map_err(|e| match e {
                crossbeam_channel::RecvTimeoutError::Timeout => Error::Timeout(limit),
                crossbeam_channel::RecvTimeoutError::Disconnected => Error::Cancelled,
            }),
        };
        // Disconnected: every sender was dropped unanswered, the pool was terminated.
        let batch = batch?;
        batches[batch.first / size] = Some(batch.results);
    }
    let mut out = Vec::with_capacity(len);
    for batch in batches.into_iter().flatten() {
        match batch {
            Results::Values(mut values) => out.append(&mut values),
            Results::Each(each) => {
                for result in each {
                    out.push(result?);
                }
            }
        }
    }
    Ok(out)
}

/// `first -> len` of every batch that `send_batches` will send.
fn batch_ranges(len: usize, size: usize) -> BTreeMap<usize, usize> {
    (0..len)
        .step_by(size)
        .map(|first| (first, size.min(len - first)))
        .collect()
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
    /// thread, so the task runs to its end and `cancel` returns `false`. A `ProcessPool` claims
    /// a task when it sends it to a worker; until it checks that claim (see [`Sink`]), a task
    /// already sent runs in its worker and `cancel` still returns `true`: the waiter gets
    /// `Cancelled` and the result is thrown away.
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

/// Results in completion order, from [`Pool::map_unordered`]: `(item index, result)`.
///
/// Every item is yielded exactly once, with its value or its error.
#[derive(Debug)]
pub struct Unordered<R> {
    results: Receiver<BatchResult<R>>,
    /// Batches not yet answered, `first -> len`.
    pending: BTreeMap<usize, usize>,
    ready: VecDeque<(usize, Result<R, Error>)>,
}

impl<R> Iterator for Unordered<R> {
    type Item = (usize, Result<R, Error>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        if self.pending.is_empty() {
            return None;
        }
        match self.results.recv() {
            Ok(batch) => {
                self.pending.remove(&batch.first);
                self.ready
                    .extend((batch.first..).zip(batch.results.into_vec()));
            }
            Err(_) => {
                // The pool was terminated: whatever is still pending will never run.
                for (first, len) in std::mem::take(&mut self.pending) {
                    self.ready
                        .extend((first..first + len).map(|i| (i, Err(Error::Cancelled))));
                }
            }
        }
        self.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_chunks_make_about_four_batches_per_worker() {
        assert_eq!(Chunk::Auto.size_for(10_000, 2), Ok(1250));
        assert_eq!(Chunk::Auto.size_for(3, 8), Ok(1));
        assert_eq!(Chunk::Auto.size_for(0, 8), Ok(1));
        assert_eq!(Chunk::Size(0).size_for(10, 2), Err(Error::ZeroChunk));
    }

    #[test]
    fn batch_ranges_cover_every_item_once() {
        let ranges = batch_ranges(10, 4);
        assert_eq!(
            ranges.into_iter().collect::<Vec<_>>(),
            vec![(0, 4), (4, 4), (8, 2)]
        );
    }
}
