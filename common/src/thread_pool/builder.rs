//! Settings for a [`ThreadPool`], and the start of its threads.

use super::*;

/// Settings for a [`ThreadPool`], from [`ThreadPool::builder`].
#[derive(Clone, Debug)]
pub struct ThreadPoolBuilder {
    workers: usize,
    record_timeline: bool,
    initializer: Option<fn()>,
}

impl ThreadPoolBuilder {
    /// The defaults that [`ThreadPool::builder`] documents.
    pub(super) fn with_defaults() -> Self {
        ThreadPoolBuilder {
            workers: num_cpus::get(),
            record_timeline: false,
            initializer: None,
        }
    }

    /// The number of worker threads (default: `num_cpus::get()`).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Records a [`Span`] per batch, for [`Pool::timeline`] (default: off).
    pub fn record_timeline(mut self, on: bool) -> Self {
        self.record_timeline = on;
        self
    }

    /// A function every worker thread runs once, before its first task (Python's
    /// `initializer`): to set up what each worker keeps, e.g. a thread-local connection or
    /// buffer. It is a plain `fn()`, like a task, so the same function can be given to a
    /// process pool. For a value it needs, read a `static` or the environment (Python's
    /// `initargs`).
    ///
    /// [`ThreadPoolBuilder::build`] returns once every thread has run it.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// use std::cell::Cell;
    /// thread_local!(static GREETED: Cell<bool> = const { Cell::new(false) });
    /// let pool = ThreadPool::builder()
    ///     .workers(2)
    ///     .initializer(|| GREETED.set(true))
    ///     .build()
    ///     .unwrap();
    /// assert!(pool.map(|_: u8| GREETED.get(), 0..8).unwrap().iter().all(|&g| g));
    /// ```
    pub fn initializer(mut self, init: fn()) -> Self {
        self.initializer = Some(init);
        self
    }

    /// Starts the threads, and runs the initializer in each (if one was given).
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`]; [`Error::Spawn`] if the OS refuses a thread;
    /// [`Error::Panicked`] if the initializer panicked in a thread (the pool is then stopped).
    /// An initializer that never returns blocks `build`, as a task that never returns blocks
    /// the pool's drop.
    pub fn build(self) -> Result<ThreadPool, Error> {
        if self.workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        panics::install_hook();
        let shared = Arc::new(Shared {
            cancelled: AtomicBool::new(false),
            timeline: Timeline::new(self.record_timeline),
        });
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let (ready_tx, ready) = crossbeam_channel::bounded(self.workers);
        let mut pool = ThreadPool {
            jobs: Some(jobs),
            queue: queue.clone(),
            threads: Vec::with_capacity(self.workers),
            shared,
        };
        for index in 0..self.workers {
            let worker = Worker {
                index,
                shared: Arc::clone(&pool.shared),
            };
            let queue: Receiver<Job> = queue.clone();
            let (initializer, ready_tx) = (self.initializer, ready_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("pool-thread-{index}"))
                .spawn(move || {
                    super::nested::serve(&worker); // a wait on this pool from here may help
                    if let Some(init) = initializer {
                        // Run as a task is run, so that a panic becomes an error with its place.
                        let outcome = panics::run_batch(|init: fn()| init(), vec![init]);
                        if let Some(Err(e)) = outcome.into_first() {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    }
                    let _ = ready_tx.send(Ok(()));
                    drop(ready_tx);
                    // The loop ends when the pool drops its sender and the queue is drained.
                    // Each job runs its tasks under `catch_unwind` already; this catch is for
                    // the user code a job runs after its answer is out: the `Drop` of a result
                    // nobody waits for (a handle dropped, a map past its deadline), or of the
                    // arguments of a batch cancelled before it ran. Uncaught, such a panic
                    // would end this thread while `workers()` still counts it, and the next
                    // call would wait for it for ever.
                    queue
                        .iter()
                        .for_each(|job| panics::catch_drop(|| worker.run(job)));
                })
                // Dropping `pool` on this early return lets the threads started so far end.
                .map_err(|e| Error::Spawn(format!("thread {index}: {e}")))?;
            pool.threads.push(thread);
        }
        drop(ready_tx);
        // Every thread reports once, after its initializer (if any) returned.
        for _ in 0..self.workers {
            match ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e), // dropping `pool` stops the other threads
                Err(_) => return Err(Error::Spawn("a pool thread ended early".into())),
            }
        }
        Ok(pool)
    }
}
