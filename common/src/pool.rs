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

pub(crate) use crate::batch::SinkTo;
pub use crate::batch::{BatchResult, Results, Sink};
pub use crate::chunk::Chunk;
pub use crate::handle::{CancelToken, HasSlot, Slot, TaskHandle};
pub use crate::timeline::Span;
pub(crate) use crate::timeline::Timeline;
pub use crate::unordered::Unordered;
use crate::Error;
use serde::{de::DeserializeOwned, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What a task's argument and result must be: sendable to another thread, and to another process.
pub trait Task: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> Task for T {}

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

    /// [`Pool::map`] of a task made by [`crate::inline::task!`]: the same results, and on a
    /// [`crate::ThreadPool`] the closure is called by its type, so trivial items cost what
    /// they cost in plain rayon, not a call through a pointer each (for items that `map` maps
    /// in place: plain data, of a known count; others stream as in `map`). Every other pool
    /// runs [`Inline::as_fn`](crate::inline::Inline::as_fn), the same closure as a `fn` pointer.
    ///
    /// ```
    /// use common::inline::task;
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(2).unwrap();
    /// assert_eq!(pool.map_inline(task!(|x: u64| x * x), 1..=3), Ok(vec![1, 4, 9]));
    /// ```
    ///
    /// # Errors
    /// As [`Pool::map`].
    fn map_inline<F, A: Task, R: Task>(
        &self,
        f: crate::inline::Inline<F, A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, Error>
    where
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
    {
        self.map(f.as_fn(), items)
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
        crate::feed::map(self, f, items, chunk, None)
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
        // A limit too far to name (`Duration::MAX`) is no limit.
        let deadline = crate::handle::deadline_after(limit).map(|at| (at, limit));
        crate::feed::map(self, f, items, Chunk::Auto, deadline)
    }

    /// Applies `f` to every item and yields the results in item order, each as soon as it and
    /// every item before it are done (Python's `imap`). Items are cut into batches as by
    /// [`Pool::map`] and pulled lazily: at most a window of batches is in flight (four per
    /// worker by default, see [`MapIter::in_flight`](crate::iter::MapIter::in_flight)), so an
    /// endless iterator works and memory follows the window, not the input.
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
    fn map_iter<'a, A: Task, R: Task, I>(&'a self, f: fn(A) -> R, items: I) -> crate::MapIter<'a, R>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        crate::MapIter::start(self, f, items, Chunk::Auto).expect("only Chunk::Size(0) fails")
    }

    /// [`Pool::map_iter`] with an explicit batch size: `Chunk::Size(1)` yields each result the
    /// moment it (and those before it) is done, larger batches yield a batch at a time.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`].
    fn map_iter_chunked<'a, A: Task, R: Task, I>(
        &'a self,
        f: fn(A) -> R,
        items: I,
        chunk: Chunk,
    ) -> Result<crate::MapIter<'a, R>, Error>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        crate::MapIter::start(self, f, items, chunk)
    }

    /// Applies `f` to every item, one item per batch, and yields `(index, result)` pairs as the
    /// tasks finish, fastest first (Python's `imap_unordered`). Items are pulled lazily, as by
    /// [`Pool::map_iter`].
    fn map_unordered<'a, A: Task, R: Task, I>(&'a self, f: fn(A) -> R, items: I) -> Unordered<'a, R>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        Unordered::start(self, f, items, Chunk::Size(1)).expect("only Chunk::Size(0) fails")
    }

    /// [`Pool::map_unordered`] with an explicit batch size.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`].
    fn map_unordered_chunked<'a, A: Task, R: Task, I>(
        &'a self,
        f: fn(A) -> R,
        items: I,
        chunk: Chunk,
    ) -> Result<Unordered<'a, R>, Error>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        Unordered::start(self, f, items, chunk)
    }

    /// Puts `value` where every worker can read it, once, and returns a handle that tasks
    /// take in their arguments instead of the value (joblib's memmapped arrays, Ray's
    /// `ray.put`, Dask's `scatter`): a task `fn((Shared<Table>, usize)) -> u64` reads the
    /// table through `Deref`, and a `map` over a hundred such tasks sends the table once.
    ///
    /// - A thread pool wraps it in an `Arc`: nothing is copied.
    /// - A process pool encodes it once into a sealed, nameless memory file; a task's
    ///   argument carries a reference of about 60 bytes, and each worker decodes the value
    ///   on its first task that names it and keeps it while this process holds a handle
    ///   (the module `shared` of common says when a worker lets it go).
    /// - A pool whose workers may be on other hosts (mpi-demo's `MpiPool`), where a file
    ///   would mean nothing, sends the encoded value once to each worker, which keeps it
    ///   under a key; a task's argument carries the key ([`crate::plumbing::share_keyed`]).
    /// - This default wraps it in an `Arc` as a thread pool does: a pool that encodes its
    ///   batches ([`crate::plumbing::encode_batch`]) and keeps this default sends the whole
    ///   value with every task. Correct everywhere, only not cheap.
    ///
    /// ```
    /// use common::{Pool, Shared, ThreadPool};
    /// let pool = ThreadPool::new(2).unwrap();
    /// let words = pool.share(vec!["pool".to_string(), "share".to_string()]).unwrap();
    /// let pick = |(words, i): (Shared<Vec<String>>, usize)| words[i].len();
    /// assert_eq!(pool.map(pick, [(words.clone(), 0), (words, 1)]).unwrap(), [4, 5]);
    /// ```
    ///
    /// # Errors
    /// [`Error::Serde`] if a process pool cannot encode the value, or cannot make the file
    /// (no memory, no descriptors left).
    fn share<T: Task + Sync>(&self, value: T) -> Result<crate::Shared<T>, Error> {
        Ok(crate::Shared::in_memory(value))
    }

    /// [`Pool::share`] for plain data (any [`bytemuck::Pod`] item: the integers and floats,
    /// and arrays of them), which a process pool's workers read where it lies, with no copy:
    /// the file holds the items' bytes as they are, each worker maps it once, and the slice a
    /// task reads is that mapping, in pages every worker shares (joblib's memmapped numpy
    /// arrays). Elsewhere as [`Pool::share`]: an `Arc` (on threads), the items' bytes once
    /// per worker (an MPI pool), or inline as one byte string with every task (this default
    /// through [`crate::plumbing::encode_batch`]).
    ///
    /// ```
    /// use common::{Pool, Shared, ThreadPool};
    /// let pool = ThreadPool::new(2).unwrap();
    /// let weights = pool.share_slice(vec![0.5f64, 0.25, 0.25]).unwrap();
    /// let scaled = |(w, x): (Shared<[f64]>, f64)| w.iter().map(|w| w * x).sum::<f64>();
    /// assert_eq!(pool.map(scaled, [(weights.clone(), 4.0), (weights, 8.0)]).unwrap(), [4.0, 8.0]);
    /// ```
    ///
    /// # Errors
    /// As [`Pool::share`].
    fn share_slice<P: bytemuck::Pod + Send + Sync>(
        &self,
        values: Vec<P>,
    ) -> Result<crate::Shared<[P]>, Error> {
        Ok(crate::Shared::slice_in_memory(values))
    }

    /// Stops the pool gracefully (Python's `Executor.shutdown(wait=True, cancel_futures=...)`):
    /// the tasks already running finish; with `cancel_pending`, the tasks still queued end
    /// `Err(`[`Error::Cancelled`]`)` and never run (without it, they run first); every task
    /// submitted from now on is refused with [`Error::ShutDown`]. Returns when every worker
    /// has been joined (threads) or reaped (processes).
    ///
    /// It takes `&self`, so another thread can call it while the pool is in use, a Ctrl-C
    /// handler for one; the pool is still dropped as usual afterwards, at no cost. "Running"
    /// means what [`TaskHandle::cancel`] means by it: started on a thread, or already sent to
    /// a process worker. Compare [`crate::ThreadPool::terminate`] and
    /// [`crate::ProcessPool::terminate`], which stop at once.
    ///
    /// ```
    /// use common::{Error, Pool, ThreadPool};
    /// let pool = ThreadPool::new(1).unwrap();
    /// let nap = |ms: u64| std::thread::sleep(std::time::Duration::from_millis(ms));
    /// let handles: Vec<_> = (0..3).map(|_| pool.submit(nap, 100)).collect();
    /// std::thread::sleep(std::time::Duration::from_millis(20)); // the first one starts
    /// pool.shutdown(true);
    /// let outcomes: Vec<_> = handles.into_iter().map(|h| h.wait()).collect();
    /// assert_eq!(outcomes, [Ok(()), Err(Error::Cancelled), Err(Error::Cancelled)]);
    /// assert_eq!(pool.submit(nap, 1).wait(), Err(Error::ShutDown));
    /// ```
    fn shutdown(&self, cancel_pending: bool);

    /// Runs `f` once on every worker and returns one result per worker, in worker order
    /// (rayon's `broadcast`, Dask's `Client.run`): to set up or read per-worker state after
    /// the pool started, a cache to clear, a counter to collect.
    ///
    /// Each worker runs it after the task it is running (and, on a process pool, the batches
    /// already sent to it), ahead of the tasks still queued; every result comes from a
    /// different worker.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(3).unwrap();
    /// let names = pool.broadcast(|| std::thread::current().name().map(String::from)).unwrap();
    /// assert_eq!(names.len(), 3);
    /// ```
    ///
    /// # Errors
    /// The first worker's error, in worker order: [`Error::Panicked`] if `f` panicked there,
    /// [`Error::WorkerDied`] if a process worker died running it, [`Error::ShutDown`] after
    /// [`Pool::shutdown`], [`Error::Cancelled`] if the pool was terminated meanwhile.
    fn broadcast<R: Task>(&self, f: fn() -> R) -> Result<Vec<R>, Error>;
}

#[cfg(test)]
mod tests;
