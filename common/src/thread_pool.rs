//! `ThreadPool`: workers are threads of this process, fed through one crossbeam channel.
//!
//! Each worker loops on `recv()` from a shared multi-consumer channel and runs the boxed job it
//! gets; finding nothing, it polls for 1 µs before it sleeps, which is what a caller that
//! submits and waits in a loop needs to find it awake (`POLL_BEFORE_SLEEP` in `builder.rs`). Nothing is copied: a batch's items move into the job as they are, and `map`'s batches
//! read their items and write their results in place, in one buffer each (`in_place.rs`). A task
//! that panics is caught (`src/panics.rs`) and its thread goes on with the next job; so does a
//! thread on which a value's `Drop` panics after its answer is out (see the worker loop in
//! `thread_pool/builder.rs`).
//!
//! What a thread pool cannot do: stop a task that is running. Threads share one address space
//! and may hold locks, so there is no safe way to kill one from outside. [`ThreadPool::terminate`]
//! therefore cancels the tasks that have not started (at once: it empties the queue itself,
//! rather than wait for a thread to come by) and leaves running ones to finish in the
//! background. A [`crate::ProcessPool`] can kill its workers, because the kernel cleans up after
//! a process.
//!
//! For the same reason a thread pool has no per-task time limit (a process pool's
//! `task_timeout`) and no retries: a limit could only stop *waiting* for a task, not stop the
//! task, which would go on holding its thread (and whatever locks it holds) after its error
//! was reported; and a task on a thread cannot die alone, so there is nothing to retry. For a
//! bounded wait, use `wait_timeout` or `map_timeout`, which give up waiting and say so.
//!
//! Each thread has a mailbox of its own besides the shared queue, for [`Pool::broadcast`]:
//! it looks there before it takes the next queued job, so a broadcast runs on every thread
//! right after the job each is running, ahead of the queue.

mod builder;
mod in_place;
mod job;
mod map;
mod nested;
pub use builder::ThreadPoolBuilder;
use job::{Job, RunOnce, SingleTask};

use crate::inline::Inline;
use crate::pool::SinkTo;
use crate::pool::Timeline;
use crate::pool::{BatchResult, Chunk, Pool, Sink, Slot, Span, Task, TaskHandle};
use crate::{panics, sys, Error};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// What every worker thread sees.
struct Shared {
    /// Set by `terminate` and `shutdown(true)`: jobs that have not started are answered with
    /// `Error::Cancelled`.
    cancelled: AtomicBool,
    /// Set only in the context that answers jobs sent after `shutdown` (see
    /// `ThreadPool::refuser`): they end `Error::ShutDown`.
    refusing: bool,
    /// The batches run so far, if the pool records its timeline.
    timeline: Timeline,
}

/// The context a job runs in: which worker, and the pool's shared state.
struct Worker {
    index: usize,
    shared: Arc<Shared>,
}

impl Shared {
    /// Why a job must not start now, if it must not: the pool was terminated or shut down
    /// with its queue cancelled (`Cancelled`), or the job came after `shutdown` (`ShutDown`).
    fn stopped(&self) -> Option<Error> {
        if self.refusing {
            Some(Error::ShutDown)
        } else if self.cancelled.load(Acquire) {
            Some(Error::Cancelled)
        } else {
            None
        }
    }
}

/// A pool of threads running [`Pool`] tasks.
///
/// A thread cannot be killed (see the module docs): [`ThreadPool::terminate`] cancels what has
/// not started, and a task that never returns keeps its thread, as in Python.
///
/// ```
/// use common::{Pool, ThreadPool};
/// let pool = ThreadPool::new(2).unwrap();
/// assert_eq!(pool.map(|x: i32| x + 1, vec![1, 2, 3]).unwrap(), vec![2, 3, 4]);
/// ```
pub struct ThreadPool {
    /// Where jobs are queued; `None` once the pool is shut down or terminated. A sender holds
    /// the read lock while it sends, and `shutdown` takes the write lock to close the queue:
    /// no job can slip in after the close, to wait for ever in a queue nobody reads.
    jobs: RwLock<Option<Sender<Job>>>,
    /// The other end of `jobs`, kept so that `terminate` can empty the queue itself.
    queue: Receiver<Job>,
    /// Each thread's mailbox (see the module docs), and its other end, kept to empty it.
    mailboxes: Vec<(Sender<Job>, Receiver<Job>)>,
    /// Joined by `shutdown` or the drop, whichever comes first (hence the lock: `shutdown`
    /// takes `&self`).
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// How many threads the pool started; it stays the same after they are joined.
    size: usize,
    shared: Arc<Shared>,
    /// The context that answers jobs sent after `shutdown`: `ShutDown`, never run.
    refuser: Worker,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.size)
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl Worker {
    fn run(&self, job: Job) {
        match job {
            Job::Batch(batch) => batch(self),
            Job::Single(task) if self.shared.cancelled.load(Acquire) => task.abandon(),
            Job::Single(task) => task.run(self),
        }
    }

    /// The start of a span for [`Worker::record`]: the clock, read only if the pool keeps a
    /// timeline (a task costs about 25 ns less without it), else 0, which `record` ignores.
    fn span_start(&self) -> u64 {
        if self.shared.timeline.is_recording() {
            sys::monotonic_nanos()
        } else {
            0
        }
    }

    /// Records a span that started at `start` and ends now, if the pool keeps a timeline.
    fn record(&self, first: usize, len: usize, start: u64) {
        let timeline = &self.shared.timeline;
        // Read the clock only when it will be used: this runs once per task.
        if timeline.is_recording() {
            let end = sys::monotonic_nanos();
            timeline.record(self.index, std::process::id(), first, len, start, end);
        }
    }
}

impl ThreadPool {
    /// A pool of `workers` threads.
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`] if `workers` is 0.
    ///
    /// ```
    /// assert_eq!(common::ThreadPool::new(0).err(), Some(common::Error::ZeroWorkers));
    /// ```
    pub fn new(workers: usize) -> Result<ThreadPool, Error> {
        ThreadPool::builder().workers(workers).build()
    }

    /// Settings with their defaults: `num_cpus::get()` workers, no timeline.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::with_defaults()
    }

    /// Stops at once: every task that has not started is answered with [`Error::Cancelled`]
    /// before this returns, even while every thread is busy, or stuck in a task that never
    /// returns.
    ///
    /// Tasks already running cannot be stopped (a thread cannot be killed, see the module
    /// docs): they finish in the background and their threads exit after them. Use a
    /// [`crate::ProcessPool`] when a task must be stoppable.
    pub fn terminate(self) {
        self.shared.cancelled.store(true, Release);
        drop(self.close());
        self.cancel_queued();
        // Detach: joining would wait for the running tasks, which is what terminate avoids.
        self.threads().clear();
    }

    /// Closes the queue: jobs sent from now on are refused. Returns the sender, whose drop
    /// lets each worker's loop end once the queue is empty.
    fn close(&self) -> Option<Sender<Job>> {
        // Nothing panics while this lock is held (a send, a swap).
        self.jobs.write().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Empties the queue and the mailboxes here, rather than wait for busy threads to come by:
    /// runs each job as a worker would, which, with `cancelled` set, answers it `Cancelled`
    /// without running it.
    fn cancel_queued(&self) {
        let canceller = Worker {
            index: usize::MAX,
            shared: Arc::clone(&self.shared),
        };
        let mailboxes = self.mailboxes.iter().map(|(_, mailbox)| mailbox);
        for queue in std::iter::once(&self.queue).chain(mailboxes) {
            while let Ok(job) = queue.try_recv() {
                panics::catch_drop(|| canceller.run(job));
            }
        }
    }

    fn threads(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        // Held only to push, clear or join; a join cannot panic (see `join_threads`).
        self.threads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins every thread; another caller waits here until they are all joined.
    fn join_threads(&self) {
        let mut threads = self.threads();
        let me = std::thread::current().id();
        for thread in threads.drain(..) {
            // A task that shuts down its own pool cannot wait for its own thread: that thread
            // ends after the task, on its own.
            if thread.thread().id() == me {
                continue;
            }
            // A worker thread cannot panic (its jobs, and the drops after them, run under
            // catch_unwind), so join cannot fail.
            let _ = thread.join();
        }
    }
}

impl Drop for ThreadPool {
    /// Finishes every submitted task, then joins every thread.
    fn drop(&mut self) {
        // Closing the channel ends each worker's loop once the queue is empty.
        drop(self.close());
        self.join_threads();
    }
}

impl Pool for ThreadPool {
    fn workers(&self) -> usize {
        self.size
    }

    fn kind(&self) -> &'static str {
        "thread"
    }

    fn dispatch<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        first: usize,
        items: Vec<A>,
        sink: Sink<R>,
    ) {
        let job = Job::Batch(Box::new(move |worker: &Worker| {
            // Terminated, shut down, or cancelled by its caller: it never runs.
            if let Some(error) = worker.shared.stopped() {
                sink.send(BatchResult::failed(first, items.len(), &error));
                return;
            }
            if !sink.try_start() {
                sink.send(BatchResult::failed(first, items.len(), &Error::Cancelled));
                return;
            }
            let (len, start) = (items.len(), worker.span_start());
            let results = panics::run_batch(f, items);
            worker.record(first, len, start);
            sink.send(BatchResult { first, results });
        }));
        self.enqueue(job);
    }

    /// One allocation per task instead of the generic path's four (see `SingleTask`).
    fn submit<A: Task, R: Task>(&self, f: fn(A) -> R, arg: A) -> TaskHandle<R> {
        let task = Arc::new(SingleTask {
            f,
            arg: Mutex::new(Some(arg)),
            slot: Slot::default(),
            pool: nested::pool_id(&self.shared),
        });
        self.enqueue(Job::Single(Arc::clone(&task) as Arc<dyn RunOnce>));
        TaskHandle::new(task)
    }

    /// As [`Pool::map_chunked`] documents. Items of plain data (no `Drop`, so no memory of
    /// their own) whose count the input states are mapped in place, each batch writing its
    /// results into one output (see `thread_pool/in_place.rs` for why); any other input is
    /// pulled lazily in batches, as on every pool (see `feed.rs`), so that memory follows the
    /// output and not input plus output.
    fn map_chunked<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunk: Chunk,
    ) -> Result<Vec<R>, Error> {
        let items = items.into_iter();
        match in_place_len::<A>(items.size_hint()) {
            Some(_) => {
                // Sized from what was collected, not from the hint: an iterator may misstate it.
                let items: Vec<A> = items.collect();
                let sizes = chunk.batches_for(items.len(), self.workers())?;
                map::map(self, f, items, &sizes, None)
            }
            None => crate::feed::map(self, f, items, chunk, None),
        }
    }

    /// As [`Pool::map_inline`] documents: in place as [`ThreadPool::map_chunked`], with the
    /// item loop compiled for the closure's own type, so that the closure is inlined; the
    /// items of an input that streams (see [`ThreadPool::map_chunked`]) go through the pointer.
    fn map_inline<F, A: Task, R: Task>(
        &self,
        f: Inline<F, A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, Error>
    where
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
    {
        let items = items.into_iter();
        match in_place_len::<A>(items.size_hint()) {
            Some(_) => {
                let items: Vec<A> = items.collect();
                let sizes = Chunk::Auto.batches_for(items.len(), self.workers())?;
                map::map(self, f.closure(), items, &sizes, None)
            }
            None => crate::feed::map(self, f.as_fn(), items, Chunk::Auto, None),
        }
    }

    /// As [`Pool::map_timeout`] documents, in place as [`ThreadPool::map_chunked`].
    fn map_timeout<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        limit: Duration,
    ) -> Result<Vec<R>, Error> {
        // A limit too far to name (`Duration::MAX`) is no limit.
        let deadline = crate::handle::deadline_after(limit).map(|at| (at, limit));
        let items = items.into_iter();
        match in_place_len::<A>(items.size_hint()) {
            Some(_) => {
                let items: Vec<A> = items.collect();
                let sizes = Chunk::Auto.batches_for(items.len(), self.workers())?;
                map::map(self, f, items, &sizes, deadline)
            }
            None => crate::feed::map(self, f, items, Chunk::Auto, deadline),
        }
    }

    fn timeline(&self) -> Vec<Span> {
        self.shared.timeline.spans()
    }

    /// As [`Pool::shutdown`] documents: closes the queue, cancels what is queued if asked,
    /// and joins every thread. A task that never returns blocks it, as it blocks the drop.
    fn shutdown(&self, cancel_pending: bool) {
        let jobs = self.close();
        if cancel_pending {
            self.shared.cancelled.store(true, Release);
            self.cancel_queued();
        }
        drop(jobs); // each worker's loop ends once the queue is empty
        self.join_threads();
    }

    /// As [`Pool::broadcast`] documents: one job in each thread's mailbox, which the thread
    /// takes before the next queued job.
    fn broadcast<R: Task>(&self, f: fn() -> R) -> Result<Vec<R>, Error> {
        let handles: Vec<TaskHandle<R>> = {
            let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
            (0..self.size)
                .map(|index| {
                    let slot = Arc::new(Slot::default());
                    let sink = Sink(SinkTo::Slot(Arc::clone(&slot)));
                    let job = Job::Batch(Box::new(move |worker: &Worker| {
                        if let Some(error) = worker.shared.stopped() {
                            return sink.send(BatchResult::failed(0, 1, &error));
                        }
                        let start = worker.span_start();
                        let results = panics::run_batch(|f: fn() -> R| f(), vec![f]);
                        worker.record(0, 1, start);
                        sink.send(BatchResult { first: 0, results });
                    }));
                    match &*jobs {
                        // The mailbox lives as long as the pool: the send cannot fail.
                        Some(_) => drop(self.mailboxes[index].0.send(job)),
                        None => self.refuser.run(job),
                    }
                    TaskHandle::new(slot)
                })
                .collect()
        };
        handles.into_iter().map(TaskHandle::wait).collect()
    }
}

/// The number of items to map in place, or `None` to stream them: in place only items of plain
/// data (a type with no `Drop` owns no memory beyond its own bytes, so the one buffer of
/// `len` places is the whole of the input and, in place, of the output), and only when the
/// input states its length exactly. A `Vec<String>`, or a lazily made input of buffers, streams.
fn in_place_len<A>(hint: (usize, Option<usize>)) -> Option<usize> {
    // (The length used is the collected one; the hint only chooses the way.)
    match hint {
        (low, Some(high)) if low == high && !std::mem::needs_drop::<A>() => Some(low),
        _ => None,
    }
}

impl ThreadPool {
    fn enqueue(&self, job: Job) {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        let Some(sender) = &*jobs else {
            // Shut down or terminated: refused, never run.
            return match job {
                Job::Single(task) => task.refuse(),
                batch => self.refuser.run(batch),
            };
        };
        // A batch dispatched by a worker of this pool runs here: its caller waits for it.
        let Some(job) = nested::run_batch_here(&self.shared, job) else {
            return;
        };
        // Sending fails only if every worker thread is gone, which cannot happen while the
        // queue is open. If it did, the waiter is told Error::Cancelled rather than left to
        // hang: a batch's sink does that when dropped, a single task must be told.
        if let Err(crossbeam_channel::SendError(Job::Single(task))) = sender.send(job) {
            task.abandon();
        }
    }
}

#[cfg(test)]
mod tests;
