//! The `Pool` trait: one interface over threads and processes.
//!
//! Each pool implements a single required method, [`Pool::dispatch`], which hands one *batch* of
//! items (a chunk) to some worker and promises that exactly one [`BatchResult`] comes back on the
//! given channel. Everything users call (`submit`, `map`, `map_unordered`, `map_iter`,
//! `map_timeout`) is written once, here, on top of it, which is why the two pools cannot drift
//! apart. What a batch's [`Sink`] delivers to lives in `handle.rs` (one task's [`Slot`] and
//! [`TaskHandle`]) and `map_iter.rs`.
//!
//! Why serde on both pools? A process worker has its own memory, so an argument must be turned
//! into bytes to reach it. A thread worker could take the value as it is, but if `ThreadPool`
//! accepted non-serializable values, code written for it would fail to compile on `ProcessPool`.
//! Demanding the same bounds on both keeps `fn work<P: Pool>(pool: &P)` honest.

pub use crate::handle::{CancelToken, HasSlot, Slot, TaskHandle};
use crate::Error;
use crossbeam_channel::{Receiver, Sender};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, Mutex};
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
        match &self.0 {
            SinkTo::Channel(_, cancelled) => CancelToken::flag(Arc::clone(cancelled)),
            SinkTo::Slot(slot) => CancelToken::task(Arc::clone(slot)),
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

/// Results in completion order, from [`Pool::map_unordered`]: `(item index, result)`.
///
/// Every item is yielded exactly once, with its value or its error.
#[derive(Debug)]
#[must_use = "results arrive only as the stream is iterated"]
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
