//! Settings for a [`ThreadPool`], and the start of its threads.

use super::*;
use crossbeam_channel::{select_biased, TryRecvError};
use std::time::{Duration, Instant};

/// Settings for a [`ThreadPool`], from [`ThreadPool::builder`].
///
/// It has no `task_timeout` and no `retries`, which a process pool's builder has: a thread
/// cannot be killed, nor die alone (see the [`ThreadPool`] module docs).
#[derive(Clone, Debug)]
pub struct ThreadPoolBuilder {
    workers: usize,
    record_timeline: bool,
    initializer: Option<Init>,
}

/// What each thread runs before its first task.
#[derive(Clone)]
enum Init {
    Plain(fn()),
    /// `initializer_with`: the argument as encoded bytes, each thread decoding its own copy,
    /// as each process worker does; or the error that encoding it gave, for `build`.
    With(Arc<dyn Fn() -> Result<(), Error> + Send + Sync>),
    Unencodable(Error),
}

impl std::fmt::Debug for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Init::Plain(init) => write!(f, "Plain({init:p})"),
            Init::With(_) => write!(f, "With(..)"),
            Init::Unencodable(e) => write!(f, "Unencodable({e})"),
        }
    }
}

impl Init {
    /// Runs it; a panic becomes [`Error::InitializerPanicked`], with its message and place.
    fn run(&self) -> Result<(), Error> {
        let outcome = match self {
            Init::Plain(init) => panics::catch(init),
            Init::With(init) => panics::catch(|| init()).and_then(|r| r),
            Init::Unencodable(e) => Err(e.clone()),
        };
        outcome.map_err(Error::in_initializer)
    }
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
        self.initializer = Some(Init::Plain(init));
        self
    }

    /// As [`ThreadPoolBuilder::initializer`], with an argument (Python's `initargs`): every
    /// thread runs `f(arg)` once, before its first task, each with its own copy of `arg`,
    /// decoded from its serde encoding as a process worker decodes it (so a `#[serde(skip)]`
    /// field arrives as its default on both pools). It replaces an `initializer` given before.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// use std::cell::Cell;
    /// thread_local!(static SEED: Cell<u64> = const { Cell::new(0) });
    /// let pool = ThreadPool::builder()
    ///     .workers(2)
    ///     .initializer_with(|seed: u64| SEED.set(seed), 42)
    ///     .build()
    ///     .unwrap();
    /// assert!(pool.map(|_: u8| SEED.get(), 0..8).unwrap().iter().all(|&s| s == 42));
    /// ```
    pub fn initializer_with<T: Task>(mut self, f: fn(T), arg: T) -> Self {
        let mut bytes = Vec::new();
        let encoded = panics::catch(|| crate::codec::encode_value(&mut bytes, &arg));
        self.initializer = Some(match encoded {
            Ok(Ok(())) => Init::With(Arc::new(move || {
                let arg = crate::codec::decode::<T>(&bytes).map_err(|e| {
                    Error::Serde(format!("decoding the initializer's argument: {e}"))
                })?;
                f(arg);
                Ok(())
            })),
            Ok(Err(e)) => Init::Unencodable(Error::Serde(format!(
                "encoding the initializer's argument: {e}"
            ))),
            Err(panicked) => Init::Unencodable(panicked),
        });
        self
    }

    /// Starts the threads, and runs the initializer in each (if one was given).
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`]; [`Error::Spawn`] if the OS refuses a thread;
    /// [`Error::InitializerPanicked`] if the initializer panicked in a thread (the pool is then
    /// stopped), with the panic's message and place, as on a process pool; [`Error::Serde`]
    /// if `initializer_with`'s argument does not encode or decode.
    /// An initializer that never returns blocks `build`, as a task that never returns blocks
    /// the pool's drop.
    pub fn build(self) -> Result<ThreadPool, Error> {
        if self.workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        panics::install_hook();
        let shared = Arc::new(Shared {
            cancelled: AtomicBool::new(false),
            refusing: false,
            timeline: Timeline::new(self.record_timeline),
        });
        let refuser = Worker {
            index: usize::MAX,
            shared: Arc::new(Shared {
                cancelled: AtomicBool::new(true),
                refusing: true,
                timeline: Timeline::new(false),
            }),
        };
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let (ready_tx, ready) = crossbeam_channel::bounded(self.workers);
        let pool = ThreadPool {
            jobs: RwLock::new(Some(jobs)),
            queue: queue.clone(),
            mailboxes: (0..self.workers)
                .map(|_| crossbeam_channel::unbounded())
                .collect(),
            threads: Mutex::new(Vec::with_capacity(self.workers)),
            size: self.workers,
            shared,
            refuser,
        };
        for index in 0..self.workers {
            let worker = Worker {
                index,
                shared: Arc::clone(&pool.shared),
            };
            let queue: Receiver<Job> = queue.clone();
            let mailbox = pool.mailboxes[index].1.clone();
            let (initializer, ready_tx) = (self.initializer.clone(), ready_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("pool-thread-{index}"))
                .spawn(move || {
                    super::nested::serve(&worker); // a wait on this pool from here may help
                    if let Some(init) = initializer {
                        if let Err(e) = init.run() {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    }
                    let _ = ready_tx.send(Ok(()));
                    drop(ready_tx);
                    // The loop ends when the pool closes its queue and the queue is drained.
                    // Each job runs its tasks under `catch_unwind` already; this catch is for
                    // the user code a job runs after its answer is out: the `Drop` of a result
                    // nobody waits for (a handle dropped, a map past its deadline), or of the
                    // arguments of a batch cancelled before it ran. Uncaught, such a panic
                    // would end this thread while `workers()` still counts it, and the next
                    // call would wait for it for ever.
                    while let Some(job) = next_job(&mailbox, &queue) {
                        panics::catch_drop(|| worker.run(job));
                    }
                    // The queue is closed and empty: answer what a broadcast left meanwhile.
                    while let Ok(job) = mailbox.try_recv() {
                        panics::catch_drop(|| worker.run(job));
                    }
                })
                // Dropping `pool` on this early return lets the threads started so far end.
                .map_err(|e| Error::Spawn(format!("thread {index}: {e}")))?;
            pool.threads().push(thread);
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

/// How long a worker that found no job polls before it sleeps. A caller that submits, waits,
/// and submits again (`submit(..).wait()` in a loop) sends its next task within about a
/// microsecond; caught while polling, a round trip took 0.7-1.1 µs here (release; 2-4 µs in a
/// debug build) instead of 11-18 µs through a sleep and a wake-up. Polling longer costs an
/// idle pool's round trip about what it polls, since the worker woken for a task often runs
/// on the caller's CPU: 3 µs added 1.3 µs, 10 µs added 9 µs (`benches/compare`'s idle rows).
const POLL_BEFORE_SLEEP: Duration = Duration::from_micros(1);

/// A worker's next job: from its mailbox first (a broadcast), else from the shared queue;
/// `None` once the pool has closed the queue and it is empty.
fn next_job(mailbox: &Receiver<Job>, queue: &Receiver<Job>) -> Option<Job> {
    // The clock is read only once nothing is queued: a busy worker never pays for it.
    let mut polled_until = None;
    loop {
        if let Ok(job) = mailbox.try_recv() {
            return Some(job);
        }
        match queue.try_recv() {
            Ok(job) => return Some(job),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if now >= *polled_until.get_or_insert(now + POLL_BEFORE_SLEEP) {
            break;
        }
        std::hint::spin_loop();
    }
    // Nothing queued: sleep on both, the mailbox first should both have a job.
    select_biased! {
        recv(mailbox) -> job => job.ok(),
        recv(queue) -> job => job.ok(),
    }
}
