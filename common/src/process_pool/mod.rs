//! `ProcessPool`: workers are copies of this very program, each in its own process.
//!
//! How it fits together:
//!
//! - Each worker is started from `/proc/self/exe` (see [`crate::child`]); [`crate::init`], the
//!   first line of `main`, notices that it was started as a worker and serves the pool instead
//!   of running the program. This is Rust's analogue of Python's `if __name__ == "__main__":`.
//! - A task `fn(A) -> R` travels as two code addresses made relative to the executable
//!   (`src/process_pool/call.rs` explains why that is sound); its arguments and results travel as bytes (postcard).
//! - Each worker has a *supervisor* thread in the pool's process. It takes batches from the
//!   pool's queue, sends them over ipc-channel, and reads the answers, which come back in order.
//!   Because answers are in order, when a worker dies the supervisor knows exactly which batch
//!   was running: that batch gets [`Error::WorkerDied`]; batches queued behind it go back to the
//!   pool's queue; a new worker takes the dead one's place.
//! - Every wait has a bound: a worker must finish its handshake within a timeout, and a child
//!   that exits before connecting is noticed within milliseconds (ipc-channel's `accept` has no
//!   timeout of its own, so it runs on a helper thread that the pool can wake).
//! - Workers never outlive the pool: `PR_SET_PDEATHSIG` kills them if the pool's process dies,
//!   even by `SIGKILL`; they also exit when their channel closes.
//!
//! What a process pool can do that a thread pool cannot: [`ProcessPool::terminate`] kills
//! running tasks. The kernel reclaims a dead process's memory, files and locks, so nothing in
//! the pool's own process is left half-done.

pub(crate) mod call;
mod link;
mod wire;
pub(crate) mod worker;

use crate::child::{self_command, Child};
use crate::pool::{BatchResult, Pool, Results, Sink, Span, Task, Timeline};
use crate::{sys, Error};
use link::{FromWorker, Link, ENV_INIT, ENV_WORKER};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches larger than this travel alone: never queued behind another batch in a worker's
/// socket, so that a large send can never wait on a worker that is itself waiting to send.
const ALONE_BYTES: usize = 8 * 1024;
/// Most batches queued at one worker when tasks are short (see `Supervisor::window`).
const MAX_WINDOW: usize = 8;
/// A batch that runs longer than this gets no company: prefetching it would only unbalance.
const SHORT_TASK: Duration = Duration::from_millis(1);
/// How often an idle supervisor checks that its worker is still alive.
const IDLE_CHECK: Duration = link::WATCH;
/// How long a worker may take to exit after its channel closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);
/// The first pause between attempts to start a replacement worker; it doubles up to
/// [`RESPAWN_MAX_PAUSE`]. A slot never gives up while the pool lives: a fork that fails for a
/// moment (a full process table, a memory spike) must not cost the pool a worker for good.
const RESPAWN_FIRST_PAUSE: Duration = Duration::from_millis(20);
/// The longest pause between attempts to start a replacement worker.
const RESPAWN_MAX_PAUSE: Duration = Duration::from_secs(1);

/// What `ProcessPool::new` says when the program never called `common::init()`.
const CANNOT_SERVE: &str = "common::init() was not called: call it as the first line of `main`; \
    a worker is this program started again, and init() is where it serves the pool instead \
    of running `main` (without it, every worker would start workers of its own)";

/// A batch waiting for, or running on, a worker.
struct Job {
    /// The call and its encoded items, ready to send (see [`wire::frame`]).
    frame: Vec<u8>,
    first: usize,
    len: usize,
    /// Delivers the answer to whoever waits for it; type-erased so the queue is not generic.
    done: Box<dyn FnOnce(Answer) + Send>,
}

enum Answer {
    Output(Vec<u8>),
    Failed(Error),
}

impl Job {
    fn fail(self, error: Error) {
        (self.done)(Answer::Failed(error));
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// The pool is being dropped: finish the queue, then stop.
    closing: bool,
    /// The pool was terminated: stop now.
    cancelled: bool,
    /// Set while no slot has a worker and the last attempt to start one failed: new batches fail
    /// at once with it, rather than wait for a worker that may never come. Cleared as soon as a
    /// worker starts again.
    broken: Option<Error>,
    /// Slots with a running worker.
    live: usize,
    /// Supervisors asleep on `wake`. Waking a condition variable is a system call even when
    /// nobody sleeps on it, so `dispatch` only does it when somebody does.
    sleeping: usize,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    timeline: Timeline,
    pids: Mutex<Vec<Option<u32>>>,
    handshake_timeout: Duration,
    env: Vec<(OsString, OsString)>,
    /// The initializer's code distance (see `call::encode_plain`), run by every new worker.
    initializer: Option<i64>,
    /// Items a worker may run before it is retired and replaced.
    max_tasks: Option<usize>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Supervisors never panic while holding the lock (no user code runs under it).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_pid(&self, slot: usize, pid: Option<u32>) {
        self.pids.lock().unwrap_or_else(|p| p.into_inner())[slot] = pid;
    }
}

/// A pool of worker processes running [`Pool`] tasks.
///
/// The program must call [`crate::init`] first thing in `main`, so that a copy started as a
/// worker serves the pool instead of running the program again:
///
/// ```no_run
/// use common::{Pool, ProcessPool};
///
/// fn main() {
///     common::init(); // a worker process never returns from here
///     let pool = ProcessPool::new(2).expect("workers start");
///     let pids = pool.map(|_: u32| std::process::id(), 0..4).unwrap();
///     assert!(pids.iter().all(|&pid| pid != std::process::id()));
/// }
/// ```
pub struct ProcessPool {
    shared: Arc<Shared>,
    supervisors: Vec<JoinHandle<()>>,
}

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
    /// The number of worker processes (default: `num_cpus::get()`).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Records a [`Span`] per batch, for [`Pool::timeline`] (default: off).
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
    /// returns [`Error::Spawn`] naming the panic, and a slot that cannot restart retries with
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
    /// Zero is refused by `build`.
    pub fn max_tasks_per_worker(mut self, n: usize) -> Self {
        self.max_tasks = Some(n);
        self
    }

    /// Starts the workers and waits until every one has connected.
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`]; [`Error::Spawn`] if [`crate::init`] was never called in this
    /// program (the message says so), or if a worker cannot be started or does not connect
    /// within the handshake timeout (the others are then stopped too).
    pub fn build(self) -> Result<ProcessPool, Error> {
        if !crate::init_was_called() {
            // In a copy of this program started as a worker, this is where a fork storm would
            // begin: stop here, and tell the pool that started us why.
            worker::refuse_if_worker();
            return Err(Error::Spawn(CANNOT_SERVE.into()));
        }
        if self.workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        if self.max_tasks == Some(0) {
            return Err(Error::Spawn(
                "max_tasks_per_worker(0): a worker must be allowed at least one task".into(),
            ));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
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
        for slot in 0..self.workers {
            let (shared, ready_tx) = (Arc::clone(&shared), ready_tx.clone());
            // Each worker is spawned by its supervisor thread, which outlives it: the worker's
            // PR_SET_PDEATHSIG fires when the thread that spawned it ends.
            let thread = std::thread::Builder::new()
                .name(format!("pool-supervisor-{slot}"))
                .spawn(move || Supervisor::start(shared, slot, ready_tx))
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

impl ProcessPool {
    /// A pool of `workers` processes, ready when this returns.
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`], or [`Error::Spawn`].
    pub fn new(workers: usize) -> Result<ProcessPool, Error> {
        ProcessPool::builder().workers(workers).build()
    }

    /// Settings with their defaults: `num_cpus::get()` workers, no timeline, 5 s handshake.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder {
            workers: num_cpus::get(),
            record_timeline: false,
            handshake_timeout: Duration::from_secs(5),
            env: Vec::new(),
            initializer: None,
            max_tasks: None,
        }
    }

    /// The process ids of the current workers (a replaced worker has a new pid).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared
            .pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .flatten()
            .copied()
            .collect()
    }

    /// Stops at once: kills every worker (running tasks end with [`Error::Cancelled`]),
    /// cancels the queued tasks, and reaps every worker before returning.
    pub fn terminate(mut self) {
        let queued = {
            let mut state = self.shared.state();
            state.cancelled = true;
            std::mem::take(&mut state.queue)
        };
        self.shared.wake.notify_all();
        for pid in self.worker_pids() {
            // A worker that already exited makes this fail harmlessly; its supervisor reaps it.
            // Each worker leads its own process group: a copy a task forked goes with it.
            let _ = sys::kill_group(pid);
            let _ = sys::send_signal(pid, libc::SIGKILL);
        }
        queued
            .into_iter()
            .for_each(|job| job.fail(Error::Cancelled));
        self.join_supervisors();
    }

    fn join_supervisors(&mut self) {
        for thread in self.supervisors.drain(..) {
            // Supervisors catch nothing and run no user code, so a panic there is a bug in this
            // module; propagating it would abort the drop of a pool, so report and go on.
            if thread.join().is_err() {
                eprintln!("common: a pool supervisor panicked (a bug in common)");
            }
        }
    }
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.workers())
            .field("worker_pids", &self.worker_pids())
            .finish()
    }
}

impl Drop for ProcessPool {
    /// Finishes every submitted task, then stops and reaps every worker.
    fn drop(&mut self) {
        self.shared.state().closing = true;
        self.shared.wake.notify_all();
        self.join_supervisors();
    }
}

impl Pool for ProcessPool {
    fn workers(&self) -> usize {
        self.shared
            .pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn kind(&self) -> &'static str {
        "process"
    }

    fn dispatch<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        first: usize,
        items: Vec<A>,
        sink: Sink<R>,
    ) {
        let len = items.len();
        // Arguments are encoded here, on the caller's thread, so that an encoding error
        // reaches the caller at once and the supervisors only move bytes.
        let frame = match wire::frame(call::encode(f), &items) {
            Ok(frame) => frame,
            Err(e) => {
                let error = Error::Serde(format!("encoding arguments: {e}"));
                sink.send(BatchResult::failed(first, len, &error));
                return;
            }
        };
        let done = Box::new(move |answer: Answer| {
            let results = match answer {
                Answer::Output(bytes) => call::decode_results::<R>(&bytes, len),
                Answer::Failed(error) => Results::failed(len, &error),
            };
            sink.send(BatchResult { first, results });
        });
        let job = Job {
            frame,
            first,
            len,
            done,
        };
        let mut state = self.shared.state();
        if let Some(error) = state.broken.clone() {
            drop(state);
            return job.fail(error);
        }
        state.queue.push_back(job);
        let someone_sleeps = state.sleeping > 0;
        drop(state);
        if someone_sleeps {
            self.shared.wake.notify_one();
        }
    }

    fn timeline(&self) -> Vec<Span> {
        self.shared.timeline.spans()
    }
}

/// One live worker process and its line.
struct Worker {
    child: Child,
    link: Link,
}

impl Worker {
    /// Starts a worker and waits, with a bound, for its handshake.
    fn start(shared: &Shared, slot: usize) -> Result<Worker, Error> {
        let spawn_error = |what: &str, e: &dyn std::fmt::Display| {
            Error::Spawn(format!("worker {slot}: {what}: {e}"))
        };
        let (mut link, theirs) = Link::pair().map_err(|e| spawn_error("socket pair", &e))?;
        let mut cmd = self_command();
        cmd.env(ENV_WORKER, "1")
            .stdin(std::process::Stdio::from(OwnedFd::from(theirs)));
        cmd.envs(shared.env.iter().map(|(k, v)| (k, v)));
        if let Some(init) = shared.initializer {
            cmd.env(ENV_INIT, init.to_string());
        }
        let mut child = Child::spawn_group(&mut cmd).map_err(|e| spawn_error("spawn", &e))?;
        // Our copy of the worker's end goes with `cmd`: from here on only the worker holds it,
        // so its death shows on our end as end of file.
        drop(cmd);
        let pid = child.pid();
        let limit = shared.handshake_timeout;
        let deadline = Instant::now() + limit;
        let hello = link.hello(pid, &mut || match child.try_wait()? {
            Some(status) => Err(io::Error::other(format!(
                "{} before its handshake",
                sys::describe_exit(status)
            ))),
            None if Instant::now() >= deadline => Err(io::Error::other(format!(
                "gave no handshake within {limit:?}"
            ))),
            None => Ok(()),
        });
        match hello {
            Ok(FromWorker::Hello { pid: said }) if said == pid => Ok(Worker { child, link }),
            Ok(FromWorker::CannotServe(why)) => Err(Error::Spawn(format!("worker {slot}: {why}"))),
            Ok(_) => Err(spawn_error("handshake", &"not a hello from our worker")),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                // The worker closed its end before saying hello: it is exiting. Say how.
                let how = match child.finish(EXIT_GRACE) {
                    Ok(status) => sys::describe_exit(status),
                    Err(e) => format!("could not be reaped ({e})"),
                };
                Err(Error::Spawn(format!(
                    "worker {slot} {how} before its handshake \
                     (does `main` call common::init() first?)"
                )))
            }
            // Dropping `child` kills and reaps it.
            Err(e) => Err(spawn_error("handshake", &e)),
        }
    }

    /// Sends batches: a single batch's frame as it is, several small ones in one write (large
    /// batches travel alone, see `ALONE_BYTES`).
    fn send(&mut self, jobs: &[Job]) -> io::Result<()> {
        let Worker { child, link } = self;
        let mut alive = || watch(child);
        match jobs {
            [job] => link.send(&[&job.frame], &mut alive),
            _ => {
                let joined: Vec<u8> = jobs.iter().flat_map(|j| j.frame.iter().copied()).collect();
                link.send(&[&joined], &mut alive)
            }
        }
    }

    /// Waits for the worker's next message, for as long as the worker lives.
    fn receive(&mut self) -> io::Result<FromWorker> {
        let Worker { child, link } = self;
        link.receive(&mut || watch(child))
    }
}

/// Called while a read or write waits: an error once the worker process has ended.
fn watch(child: &mut Child) -> io::Result<()> {
    match child.try_wait()? {
        Some(status) => Err(io::Error::other(sys::describe_exit(status))),
        None => Ok(()),
    }
}

enum Take {
    Jobs(Vec<Job>),
    /// Nothing to do for a while; check on the worker.
    Idle,
    /// The pool is closing and the queue is empty.
    Stop,
    /// The pool was terminated.
    Cancel,
    /// The worker has run its `max_tasks_per_worker`: replace it with a fresh one.
    Retire,
}

/// The thread that owns one worker process: feeds it, reads its answers, replaces it.
struct Supervisor {
    shared: Arc<Shared>,
    slot: usize,
    /// Batches sent to the worker and not yet answered, oldest (the running one) first.
    in_flight: VecDeque<Job>,
    /// Whether the last batch was short enough to make prefetching worthwhile.
    short_tasks: bool,
    /// Items the current worker has finished (for `max_tasks_per_worker`).
    finished: usize,
}

impl Supervisor {
    fn start(
        shared: Arc<Shared>,
        slot: usize,
        ready: crossbeam_channel::Sender<Result<(), Error>>,
    ) {
        let worker = Worker::start(&shared, slot);
        let worker = match worker {
            Ok(worker) => worker,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        shared.set_pid(slot, Some(worker.child.pid()));
        shared.state().live += 1;
        let _ = ready.send(Ok(()));
        let mut me = Supervisor {
            shared,
            slot,
            in_flight: VecDeque::new(),
            short_tasks: false,
            finished: 0,
        };
        me.run(worker);
    }

    fn run(&mut self, mut worker: Worker) {
        loop {
            let alive = match self.take() {
                Take::Stop => return self.stop(worker),
                Take::Cancel => return self.cancel(worker),
                Take::Retire => {
                    self.stop(worker);
                    match self.respawn() {
                        Some(w) => worker = w,
                        None => return,
                    }
                    continue;
                }
                // Nothing to do for a while: check that the worker still lives.
                Take::Idle => matches!(worker.child.try_wait(), Ok(None)),
                Take::Jobs(jobs) => {
                    if !jobs.is_empty() {
                        if worker.send(&jobs).is_ok() {
                            self.in_flight.extend(jobs);
                        } else {
                            // Never delivered, so not to blame: back to the queue. The
                            // worker's death shows below.
                            self.requeue(jobs);
                        }
                    }
                    // Nothing in flight means every send failed: the worker is gone.
                    !self.in_flight.is_empty() && self.receive(&mut worker)
                }
            };
            if !alive {
                match self.replace(worker) {
                    Some(w) => worker = w,
                    None => return,
                }
            }
        }
    }

    /// Waits for the worker's next answer and delivers it; `false` if the worker is dead.
    fn receive(&mut self, worker: &mut Worker) -> bool {
        match worker.receive() {
            Ok(FromWorker::Done { start, end, output }) => {
                self.finish_front(worker, start, end, output);
                true
            }
            Ok(FromWorker::Refused(why)) => {
                // Cannot happen with a worker of our own executable; treat it as a death.
                eprintln!(
                    "common: worker {} refused a batch: {why}",
                    worker.child.pid()
                );
                false
            }
            Ok(FromWorker::Hello { .. } | FromWorker::CannotServe(_)) | Err(_) => false,
        }
    }

    /// The oldest batch in flight is done: record it and deliver its answer.
    fn finish_front(&mut self, worker: &Worker, start: u64, end: u64, output: Vec<u8>) {
        // Answers come in the order batches were sent, and one is in flight (we waited for it).
        let Some(job) = self.in_flight.pop_front() else {
            return;
        };
        self.finished += job.len;
        self.short_tasks = sys::nanos_between(start, end) < SHORT_TASK;
        let pid = worker.child.pid();
        self.shared
            .timeline
            .record(self.slot, pid, job.first, job.len, start, end);
        (job.done)(Answer::Output(output));
    }

    /// How many batches may wait at the worker: several when tasks are short (the trip would
    /// dominate), one when they are long (prefetching would leave other workers idle).
    fn window(&self) -> usize {
        if self.short_tasks {
            MAX_WINDOW
        } else {
            1
        }
    }

    fn take(&mut self) -> Take {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.state();
        loop {
            if state.cancelled {
                return Take::Cancel;
            }
            // Refill only once the window is half empty, then fill it: several batches then go
            // in one message, instead of one message for each answer that comes back.
            if !self.in_flight.is_empty() && self.in_flight.len() > self.window() / 2 {
                return Take::Jobs(Vec::new());
            }
            // Items this worker may still be given before it retires (unbounded without a limit).
            let in_flight_items: usize = self.in_flight.iter().map(|j| j.len).sum();
            let mut allowance = self.shared.max_tasks.map_or(usize::MAX, |max| {
                max.saturating_sub(self.finished + in_flight_items)
            });
            if allowance == 0 {
                if !self.in_flight.is_empty() {
                    return Take::Jobs(Vec::new()); // finish what it has first
                }
                if state.closing && state.queue.is_empty() {
                    return Take::Stop;
                }
                return Take::Retire;
            }
            let has_big = self.in_flight.iter().any(|j| j.frame.len() > ALONE_BYTES);
            // Never more than a fair share of what is queued: the window was sized from the
            // last batch, and the next ones may be long. Taking them all would leave the other
            // workers idle while this one works through them in turn.
            let fair_share = state.queue.len().div_ceil(state.live.max(1)).max(1);
            let limit = self.window().min(self.in_flight.len() + fair_share);
            let mut jobs = Vec::new();
            while !has_big && self.in_flight.len() + jobs.len() < limit {
                let Some(next) = state.queue.front() else {
                    break;
                };
                let big = next.frame.len() > ALONE_BYTES;
                let first = self.in_flight.is_empty() && jobs.is_empty();
                // A big batch, or one past the allowance, goes only as the first thing in flight.
                if (big || next.len > allowance) && !first {
                    break;
                }
                allowance = allowance.saturating_sub(next.len);
                jobs.extend(state.queue.pop_front());
                if big {
                    break;
                }
            }
            if !jobs.is_empty() || !self.in_flight.is_empty() {
                return Take::Jobs(jobs);
            }
            if state.closing && state.queue.is_empty() {
                return Take::Stop;
            }
            state.sleeping += 1;
            let (guard, waited) = shared
                .wake
                .wait_timeout(state, IDLE_CHECK)
                .unwrap_or_else(|p| p.into_inner());
            state = guard;
            state.sleeping -= 1;
            if waited.timed_out() && state.queue.is_empty() && !state.closing && !state.cancelled {
                return Take::Idle;
            }
        }
    }

    fn requeue(&self, jobs: Vec<Job>) {
        let mut state = self.shared.state();
        for job in jobs.into_iter().rev() {
            state.queue.push_front(job);
        }
        drop(state);
        self.shared.wake.notify_all();
    }

    /// The worker died (or misbehaved): blame the running batch, requeue the rest, start anew.
    /// Returns `None` when this supervisor should end.
    fn replace(&mut self, mut worker: Worker) -> Option<Worker> {
        let pid = worker.child.pid();
        let cause = match worker.child.finish(EXIT_GRACE) {
            Ok(status) => sys::describe_exit(status),
            Err(e) => format!("could not be reaped: {e}"),
        };
        drop(worker);
        self.shared.set_pid(self.slot, None);
        if self.shared.state().cancelled {
            self.in_flight
                .drain(..)
                .for_each(|job| job.fail(Error::Cancelled));
            return None;
        }
        if let Some(running) = self.in_flight.pop_front() {
            running.fail(Error::WorkerDied {
                pid,
                cause: cause.clone(),
            });
        }
        let waiting: Vec<Job> = self.in_flight.drain(..).collect();
        self.requeue(waiting);
        self.respawn()
    }

    /// Starts a worker in this slot, retrying with back-off for as long as the pool lives and
    /// needs one. `None` when the pool was terminated or is closing meanwhile.
    ///
    /// While the slot is down it does not count as live. If no slot is live, queued batches fail
    /// with the last start error (nobody would run them) and new ones fail at once; the first
    /// worker that starts again clears that, so the pool never keeps failing with a stale error.
    fn respawn(&mut self) -> Option<Worker> {
        let mut pause = RESPAWN_FIRST_PAUSE;
        let mut down = false;
        loop {
            match Worker::start(&self.shared, self.slot) {
                Ok(worker) => {
                    self.shared.set_pid(self.slot, Some(worker.child.pid()));
                    self.finished = 0;
                    if down {
                        let mut state = self.shared.state();
                        state.live += 1;
                        state.broken = None;
                        eprintln!("common: pool worker slot {} is running again", self.slot);
                    }
                    return Some(worker);
                }
                Err(error) => {
                    if !down {
                        eprintln!(
                            "common: pool worker slot {} cannot start a worker ({error}); \
                             retrying every {RESPAWN_MAX_PAUSE:?} at most",
                            self.slot
                        );
                    }
                    self.mark_down(error, !down);
                    down = true;
                }
            }
            // Wait before the next attempt, but wake at once if the pool closes or is terminated.
            let state = self.shared.state();
            let (state, _) = self
                .shared
                .wake
                .wait_timeout_while(state, pause, |s| !s.cancelled && !s.closing)
                .unwrap_or_else(|p| p.into_inner());
            // Closing: the slots that are live finish the queue; with none live it was failed.
            if state.cancelled || state.closing {
                return None;
            }
            pause = (pause * 2).min(RESPAWN_MAX_PAUSE);
        }
    }

    /// A start failed. `first` marks this slot as no longer live; if no slot is live, the queue
    /// fails with `error` and so do new batches until some worker starts again.
    fn mark_down(&self, error: Error, first: bool) {
        let orphans = {
            let mut state = self.shared.state();
            if first {
                state.live -= 1;
            }
            if state.live > 0 {
                return;
            }
            state.broken = Some(error.clone());
            std::mem::take(&mut state.queue)
        };
        orphans.into_iter().for_each(|job| job.fail(error.clone()));
    }

    /// The pool is closing and all work is done: let the worker exit, then reap it.
    fn stop(&mut self, worker: Worker) {
        let Worker { mut child, link } = worker;
        link.hang_up(); // the worker reads end of file, and exits with status 0
        let _ = child.finish(EXIT_GRACE);
        drop(link); // only now, so the worker never writes to a closed socket
        self.shared.set_pid(self.slot, None);
    }

    /// The pool was terminated: kill the worker and cancel what it was doing.
    fn cancel(&mut self, mut worker: Worker) {
        let _ = worker.child.kill();
        self.shared.set_pid(self.slot, None);
        self.in_flight
            .drain(..)
            .for_each(|job| job.fail(Error::Cancelled));
    }
}
