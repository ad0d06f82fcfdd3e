//! Settings for a [`ProcessPool`], and the start of its workers.

use super::supervisor::Supervisor;
use super::{call, worker, ProcessPool, Shared, State};
use crate::pool::Timeline;
use crate::Error;
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
    initializer: Option<fn()>,
    max_tasks: Option<usize>,
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
    /// returns [`Error::Spawn`] naming the panic, and a supervisor that cannot restart its worker retries with
    /// back-off while tasks fail at once with that error (never a hang, never a silent loop).
    pub fn initializer(mut self, f: fn()) -> Self {
        self.initializer = Some(f);
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
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                lines: (0..self.workers).map(|_| Default::default()).collect(),
                ..State::default()
            }),
            wake: Condvar::new(),
            nudge: (0..self.workers).map(|_| Condvar::new()).collect(),
            timeline: Timeline::new(self.record_timeline),
            pids: Mutex::new(vec![None; self.workers]),
            handshake_timeout: self.handshake_timeout,
            env: self.env,
            initializer: self.initializer.map(call::encode_plain),
            max_tasks: self.max_tasks,
        });
        let (ready_tx, ready) = crossbeam_channel::bounded(self.workers);
        let mut pool = ProcessPool {
            shared: Arc::clone(&shared),
            supervisors: Vec::new(),
        };
        for index in 0..self.workers {
            let (shared, ready_tx) = (Arc::clone(&shared), ready_tx.clone());
            // Each worker is spawned by its supervisor thread, which outlives it: the worker's
            // PR_SET_PDEATHSIG fires when the thread that spawned it ends.
            let thread = std::thread::Builder::new()
                .name(format!("pool-supervisor-{index}"))
                .spawn(move || Supervisor::start(shared, index, ready_tx))
                .map_err(|e| Error::Spawn(format!("supervisor thread: {e}")))?;
            pool.supervisors.push(thread);
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
