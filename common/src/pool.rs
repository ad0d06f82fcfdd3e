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
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

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
#[derive(Debug)]
pub struct Sink<R>(SinkTo<R>);

#[derive(Debug)]
enum SinkTo<R> {
    Channel(Sender<BatchResult<R>>),
    Slot(Arc<Slot<R>>),
}

impl<R> Sink<R> {
    /// Delivers the batch's results. A receiver that is gone (a dropped handle, an abandoned
    /// iterator) simply does not want them.
    pub fn send(self, batch: BatchResult<R>) {
        match &self.0 {
            SinkTo::Channel(channel) => {
                let _ = channel.send(batch);
            }
            SinkTo::Slot(slot) => {
                slot.fill(batch.results.into_first().unwrap_or(Err(Error::Cancelled)))
            }
        }
    }
}

impl<R> Drop for Sink<R> {
    fn drop(&mut self) {
        if let SinkTo::Slot(slot) = &self.0 {
            slot.abandon(); // no effect if the result was sent
        }
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
}

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
    Pending,
    Ready(Result<R, Error>),
    Abandoned,
    Taken,
}

impl<R> Default for Slot<R> {
    fn default() -> Self {
        Slot {
            state: Mutex::new(SlotState {
                outcome: Outcome::Pending,
                waiting: false,
            }),
            ready: Condvar::new(),
            settled: AtomicBool::new(false),
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
        if matches!(state.outcome, Outcome::Pending) {
            state.outcome = outcome;
            self.settled.store(true, Release);
            if state.waiting {
                self.ready.notify_all();
            }
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<R, Error> {
        let spin = timeout.map_or(SPIN_BEFORE_SLEEP, |t| t.min(SPIN_BEFORE_SLEEP));
        spin_for(spin, || self.settled.load(Acquire).then_some(()));
        let mut state = self.state();
        state.waiting = true;
        let pending = |s: &mut SlotState<R>| matches!(s.outcome, Outcome::Pending);
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
                if waited.timed_out() && matches!(state.outcome, Outcome::Pending) {
                    state.waiting = false;
                    return Err(Error::Timeout(limit));
                }
                state
            }
        };
        match std::mem::replace(&mut state.outcome, Outcome::Taken) {
            Outcome::Ready(result) => result,
            Outcome::Abandoned => Err(Error::Cancelled),
            Outcome::Taken => Err(Error::AlreadyTaken),
            Outcome::Pending => unreachable!("the wait ends only once the slot is settled"),
        }
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
        let results = send_batches(self, f, items, size);
        // Batches come back in any order; slot each by its position, then join them in order.
        let mut batches: Vec<Option<Results<R>>> = Vec::new();
        batches.resize_with(len.div_ceil(size), || None);
        for _ in 0..batches.len() {
            match results.recv() {
                Ok(batch) => batches[batch.first / size] = Some(batch.results),
                // Every sender was dropped unanswered: the pool was terminated.
                Err(_) => return Err(Error::Cancelled),
            }
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

    /// Applies `f` to every item, one item per batch, and yields `(index, result)` pairs as the
    /// tasks finish, fastest first (Python's `imap_unordered`).
    fn map_unordered<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Unordered<R> {
        let items: Vec<A> = items.into_iter().collect();
        let pending = batch_ranges(items.len(), 1);
        let results = send_batches(self, f, items, 1);
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
        let results = send_batches(self, f, items, size);
        Ok(Unordered {
            results,
            pending,
            ready: VecDeque::new(),
        })
    }
}

/// Cuts `items` into batches of `size`, dispatches each, and returns where the results arrive.
fn send_batches<P: Pool + ?Sized, A: Task, R: Task>(
    pool: &P,
    f: fn(A) -> R,
    mut items: Vec<A>,
    size: usize,
) -> Receiver<BatchResult<R>> {
    let (sink, results) = crossbeam_channel::unbounded();
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
        pool.dispatch(f, first, batch, Sink(SinkTo::Channel(sink.clone())));
    }
    results
}

/// `first -> len` of every batch that `send_batches` will send.
fn batch_ranges(len: usize, size: usize) -> BTreeMap<usize, usize> {
    (0..len)
        .step_by(size)
        .map(|first| (first, size.min(len - first)))
        .collect()
}

/// The result of one submitted task. Dropping it does not cancel the task.
pub struct TaskHandle<R> {
    slot: Arc<dyn HasSlot<R>>,
}

impl<R> std::fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskHandle")
    }
}

impl<R> TaskHandle<R> {
    /// A handle on the slot that a pool will fill.
    pub fn new(slot: Arc<dyn HasSlot<R>>) -> TaskHandle<R> {
        TaskHandle { slot }
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
