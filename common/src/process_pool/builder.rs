//! Settings for a [`ProcessPool`], and the start of its workers.

use super::supervisor::Supervisor;
use super::{call, worker, Initializer, ProcessPool, Shared, State};
use crate::pool::{Task, Timeline};
use crate::{panics, Error};
use std::ffi::OsString;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What `ProcessPool::new` says when the program never called `common::init()`.
const NOT_INITIALIZED: &str =
    "common::init() was not called: call it as the first line of `main`; \
    a worker is this program started again, and init() is where it serves the pool instead \
    of running `main` (without it, every worker would start workers of its own)";

/// Settings for a [`ProcessPool`], from [`ProcessPool::builder`].
#[derive(Clone, Debug)]
pub struct ProcessPoolBuilder {
    workers: usize,
    record_timeline: bool,
    handshake_timeout: Duration,
    env: Vec<(OsString, OsString)>,
    initializer: Option<Init>,
    max_tasks: Option<usize>,
    task_timeout: Option<Duration>,
    retries: u32,
}

/// The initializer as the builder keeps it, until `build`.
#[derive(Clone, Debug)]
enum Init {
    Plain(fn()),
    /// `initializer_with`'s frame (see [`Initializer::Frame`]).
    Frame(Vec<u8>),
    /// `initializer_with`'s argument did not encode: `build` fails with this.
    Unencodable(Error),
}

impl ProcessPoolBuilder {
    /// The defaults that [`ProcessPool::builder`] documents.
    pub(super) fn with_defaults() -> Self {
        ProcessPoolBuilder {
            workers: num_cpus::get(),
            record_timeline: false,
            handshake_timeout: Duration::from_secs(5),
            env: Vec::new(),
            initializer: None,
            max_tasks: None,
            task_timeout: None,
            retries: 0,
        }
    }

    /// The number of worker processes (default: `num_cpus::get()`).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Records a [`Span`](crate::Span) per batch, for [`Pool::timeline`](crate::Pool::timeline)
    /// (default: off).
    pub fn record_timeline(mut self, on: bool) -> Self {
        self.record_timeline = on;
        self
    }

    /// How long a new worker may take to connect (default: 5 s).
    pub fn handshake_timeout(mut self, limit: Duration) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// Sets an environment variable in every worker process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A function every worker process runs once, before its first task; a worker that
    /// replaces a dead or retired one runs it too (Python's `initializer`). Use it to set up
    /// per-process state: a connection, a cache, a seeded random generator in a `static`.
    ///
    /// It runs before the worker's handshake, so a panic in it is a start failure: `build`
    /// returns [`Error::InitializerPanicked`] with the panic's message and place (as a thread
    /// pool's `build` does), and a supervisor that cannot restart its worker retries with
    /// back-off while tasks fail at once with that error (never a hang, never a silent loop).
    pub fn initializer(mut self, f: fn()) -> Self {
        self.initializer = Some(Init::Plain(f));
        self
    }

    /// As [`ProcessPoolBuilder::initializer`], with an argument (Python's `initargs`): every
    /// worker runs `f(arg)` once, before its first task, for per-worker state such as a seeded
    /// random generator or a loaded table. `arg` is encoded once, here, and sent to each new
    /// worker first thing on its line, so it may be large. It replaces an `initializer` given
    /// before.
    ///
    /// ```no_run
    /// use common::{Pool, ProcessPool};
    /// use std::sync::OnceLock;
    /// static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
    ///
    /// fn main() {
    ///     common::init();
    ///     let pool = ProcessPool::builder()
    ///         .initializer_with(|table: Vec<u32>| drop(TABLE.set(table)), vec![10, 20, 30])
    ///         .build()
    ///         .unwrap();
    ///     let looked_up = pool.map(|i: usize| TABLE.get().unwrap()[i], [2, 0]).unwrap();
    ///     assert_eq!(looked_up, [30, 10]);
    /// }
    /// ```
    pub fn initializer_with<T: Task>(mut self, f: fn(T), arg: T) -> Self {
        let mut frame = vec![0; 4]; // the frame's length, filled in below
        call::encode(f).write_to(&mut frame);
        let encoded = panics::catch(|| crate::codec::push(&mut frame, &arg));
        let length = u32::try_from(frame.len() - 4);
        self.initializer = Some(match (encoded, length) {
            (Ok(Ok(())), Ok(length)) => {
                frame[..4].copy_from_slice(&length.to_le_bytes());
                Init::Frame(frame)
            }
            (Ok(Err(e)), _) => Init::Unencodable(Error::Serde(format!(
                "encoding the initializer's argument: {e}"
            ))),
            (Err(panicked), _) => Init::Unencodable(panicked),
            (_, Err(_)) => Init::Unencodable(Error::Serde(
                "the initializer's argument is 4 GiB or more".into(),
            )),
        });
        self
    }

    /// A time limit per task: a task still running `limit` after it started has its worker
    /// killed (`SIGKILL`, with any process it forked) and replaced, and fails with
    /// [`Error::TaskTimedOut`]; the other tasks do not notice (pebble's and billiard's
    /// `timeout`). Default: none.
    ///
    /// A batch has the limit of its items together (`limit` times its length), since the
    /// worker runs them one after another: use `submit`, or `map_chunked` with
    /// `Chunk::Size(1)`, for a limit on each. A batch already sent to a worker behind
    /// another counts from when the one before it was answered. A timed-out task is not
    /// retried (see [`ProcessPoolBuilder::retries`]): it would most likely time out again.
    ///
    /// A thread pool has no such knob: a thread cannot be killed, so a limit could only stop
    /// waiting for the task, while it went on holding its thread (see [`crate::ThreadPool`]).
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.task_timeout = Some(limit);
        self
    }

    /// Runs a task whose worker died (killed for memory, an abort, a signal) again, up to `n`
    /// more times, on a fresh worker; after the last death it fails with
    /// [`Error::WorkerDied`], whose `attempts` says how many runs were made (`1 + n`).
    /// Default: 0.
    ///
    /// At most once (the default) or at least once? A task that died may have done part of
    /// its work: with retries it may do that part twice. Keep the default for a task with
    /// effects outside its worker (an append to a file, a message sent); opt in for a task
    /// that only computes its result (Ray retries 3 times by default, and Dask gives up on a
    /// task after it killed 3 workers; here `n` is that limit). A batch is retried whole,
    /// and keeps its encoded arguments until it is answered, so that it can be sent again.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Retires a worker after it has run `n` tasks and starts a fresh one in its place
    /// (Python's `maxtasksperchild`): what it is for is memory a task leaks, or state it leaves.
    ///
    /// Tasks are counted as items. A batch is never split, so with `map`'s automatic chunking a
    /// worker may run one batch past `n`; use `submit` or `Chunk::Size(1)` for an exact count.
    /// Zero is refused by `build`, with [`Error::ZeroTasksPerWorker`].
    pub fn max_tasks_per_worker(mut self, n: usize) -> Self {
        self.max_tasks = Some(n);
        self
    }

    /// Starts the workers and waits until every one has connected.
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`]; [`Error::ZeroTasksPerWorker`] for `max_tasks_per_worker(0)`;
    /// [`Error::InitializerPanicked`] if the initializer panicked in a worker;
    /// [`Error::Serde`] if `initializer_with`'s argument does not encode or decode;
    /// [`Error::Spawn`] if [`crate::init`] was never called in this program (the message says
    /// so), or if a worker cannot be started or does not connect within the handshake timeout
    /// (the others are then stopped too).
    pub fn build(self) -> Result<ProcessPool, Error> {
        if !crate::init_was_called() {
            // In a copy of this program started as a worker, this is where a fork storm would
            // begin: stop here, and tell the pool that started us why.
            worker::refuse_if_worker();
            return Err(Error::Spawn(NOT_INITIALIZED.into()));
        }
        if self.workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        if self.max_tasks == Some(0) {
            return Err(Error::ZeroTasksPerWorker);
        }
        let initializer = match self.initializer {
            None => None,
            Some(Init::Plain(f)) => Some(Initializer::Plain(call::encode_plain(f))),
            Some(Init::Frame(frame)) => Some(Initializer::Frame(frame)),
            Some(Init::Unencodable(error)) => return Err(error),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                lines: (0..self.workers).map(|_| Default::default()).collect(),
                targeted: (0..self.workers).map(|_| Default::default()).collect(),
                ..State::default()
            }),
            wake: Condvar::new(),
            nudge: (0..self.workers).map(|_| Condvar::new()).collect(),
            timeline: Timeline::new(self.record_timeline),
            pids: Mutex::new(vec![None; self.workers]),
            handshake_timeout: self.handshake_timeout,
            env: self.env,
            initializer,
            max_tasks: self.max_tasks,
            task_timeout: self.task_timeout,
            retries: self.retries,
            sent: Arc::default(),
        });
        let (ready_tx, ready) = crossbeam_channel::bounded(self.workers);
        let pool = ProcessPool {
            shared: Arc::clone(&shared),
            supervisors: Mutex::new(Vec::new()),
        };
        for index in 0..self.workers {
            let (shared, ready_tx) = (Arc::clone(&shared), ready_tx.clone());
            // Each worker is spawned by its supervisor thread, which outlives it: the worker's
            // PR_SET_PDEATHSIG fires when the thread that spawned it ends.
            let thread = std::thread::Builder::new()
                .name(format!("pool-supervisor-{index}"))
                .spawn(move || Supervisor::start(shared, index, ready_tx))
                .map_err(|e| Error::Spawn(format!("supervisor thread: {e}")))?;
            pool.supervisors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(thread);
        }
        drop(ready_tx);
        // Each supervisor reports once, within its handshake timeout, so this loop is bounded.
        for _ in 0..self.workers {
            match ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e), // dropping `pool` stops the workers that did start
                Err(_) => return Err(Error::Spawn("a supervisor thread ended early".into())),
            }
        }
        Ok(pool)
    }
}
