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
pub(crate) mod wire;
pub(crate) mod worker;

use crate::child::{self_command, Child};
use crate::cleanup::PathGuard;
use crate::pool::{BatchResult, Pool, Results, Sink, Span, Task, Timeline};
use crate::{sys, Error};
use ipc_channel::ipc::{IpcBytesSender, IpcOneShotServer, IpcReceiver, IpcSender};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wire::{FromWorker, ENV_SERVER, ENV_TOKEN};

/// Batches larger than this travel alone: never queued behind another batch in a worker's
/// socket, so that a large send can never wait on a worker that is itself waiting to send.
const ALONE_BYTES: usize = 8 * 1024;
/// Most batches queued at one worker when tasks are short (see `Supervisor::window`).
const MAX_WINDOW: usize = 8;
/// A batch that runs longer than this gets no company: prefetching it would only unbalance.
const SHORT_TASK: Duration = Duration::from_millis(1);
/// How often an idle supervisor checks that its worker is still alive.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// How long a worker may take to exit after its channel closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);
/// Attempts to start a replacement worker before the slot gives up.
const RESPAWN_TRIES: u32 = 3;

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
    /// Set when no worker can be started any more; new batches fail at once with it.
    broken: Option<Error>,
    /// Supervisors still running a worker.
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

    /// Starts the workers and waits until every one has connected.
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`]; [`Error::Spawn`] if a worker cannot be started or does not
    /// connect within the handshake timeout (the others are then stopped too).
    pub fn build(self) -> Result<ProcessPool, Error> {
        if self.workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            timeline: Timeline::new(self.record_timeline),
            pids: Mutex::new(vec![None; self.workers]),
            handshake_timeout: self.handshake_timeout,
            env: self.env,
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

/// One live worker process and its two channels.
struct Worker {
    child: Child,
    tasks: IpcBytesSender,
    answers: IpcReceiver<FromWorker>,
}

impl Worker {
    /// Starts a worker and waits, with a bound, for its handshake.
    fn start(shared: &Shared, slot: usize) -> Result<Worker, Error> {
        let spawn_error = |what: &str, e: &dyn std::fmt::Display| {
            Error::Spawn(format!("worker {slot}: {what}: {e}"))
        };
        let (server, name) = IpcOneShotServer::<FromWorker>::new()
            .map_err(|e| spawn_error("one-shot server", &e))?;
        // The server's socket lives in a fresh directory under the temp dir until `accept`
        // returns; if an interrupt ends the program meanwhile, the cleanup removes it.
        let socket_dir = Path::new(&name).parent();
        let _socket_dir = socket_dir.map(PathGuard::new);
        // Only this user may enter the directory, whatever the umask: nobody else can reach
        // the socket, let alone connect to it before our worker does.
        if let Some(dir) = socket_dir {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| spawn_error("securing the socket's directory", &e))?;
        }
        let token = random_token();
        let mut cmd = self_command();
        cmd.env(ENV_SERVER, &name)
            .env(ENV_TOKEN, token.to_string())
            .stdin(std::process::Stdio::null());
        cmd.envs(shared.env.iter().map(|(k, v)| (k, v)));
        let mut child = Child::spawn(&mut cmd).map_err(|e| spawn_error("spawn", &e))?;

        // `accept` blocks until someone connects and sends one message, with no timeout, so it
        // runs on a helper thread while this one watches the clock and the child.
        let (accepted_tx, accepted) = crossbeam_channel::bounded(1);
        let acceptor = std::thread::Builder::new()
            .name(format!("pool-accept-{slot}"))
            .spawn(move || {
                let _ = accepted_tx.send(server.accept());
            })
            .map_err(|e| spawn_error("accept thread", &e))?;
        let deadline = Instant::now() + shared.handshake_timeout;
        let outcome = loop {
            match accepted.recv_timeout(Duration::from_millis(5)) {
                Ok(Ok((
                    answers,
                    FromWorker::Hello {
                        token: t,
                        pid,
                        tasks,
                    },
                ))) if t == token && pid == child.pid() => {
                    break Ok(Worker {
                        child,
                        tasks,
                        answers,
                    });
                }
                Ok(Ok(_)) => {
                    break Err(Error::Spawn(format!(
                        "worker {slot}: wrong handshake (not our worker)"
                    )))
                }
                Ok(Err(e)) => break Err(spawn_error("handshake", &e)),
                Err(_) => {}
            }
            match child.try_wait() {
                Ok(Some(status)) => {
                    let how = sys::describe_exit(status);
                    break Err(Error::Spawn(format!(
                        "worker {slot} {how} before its handshake"
                    )));
                }
                Err(e) => break Err(spawn_error("waitpid", &e)),
                Ok(None) if Instant::now() >= deadline => {
                    let limit = shared.handshake_timeout;
                    break Err(Error::Spawn(format!(
                        "worker {slot} gave no handshake within {limit:?}"
                    )));
                }
                Ok(None) => {}
            }
        };
        if outcome.is_err() {
            // Wake the acceptor if it still waits: a connection of our own with one message.
            if let Ok(waker) = IpcSender::<FromWorker>::connect(name) {
                let _ = waker.send(FromWorker::Unblock);
            }
            // Dropping `child` (inside `outcome` or here) kills and reaps it; the killed child's
            // socket closing also ends an `accept` stuck waiting for its hello.
        }
        let _ = acceptor.join();
        outcome
    }

    /// Sends batches in one message: a single batch's frame as it is, several concatenated
    /// (small ones only: large batches travel alone, see `ALONE_BYTES`).
    fn send(&self, jobs: &[Job]) -> std::io::Result<()> {
        match jobs {
            [job] => self.tasks.send(&job.frame),
            _ => self.tasks.send(
                &jobs
                    .iter()
                    .flat_map(|j| j.frame.iter().copied())
                    .collect::<Vec<u8>>(),
            ),
        }
    }
}

/// A token the worker must echo, so that a stray connection to our socket is not taken for it.
fn random_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's random source once per process, then incremented.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(sys::monotonic_nanos());
    h.finish()
}

enum Take {
    Jobs(Vec<Job>),
    /// Nothing to do for a while; check on the worker.
    Idle,
    /// The pool is closing and the queue is empty.
    Stop,
    /// The pool was terminated.
    Cancel,
}

/// The thread that owns one worker process: feeds it, reads its answers, replaces it.
struct Supervisor {
    shared: Arc<Shared>,
    slot: usize,
    /// Batches sent to the worker and not yet answered, oldest (the running one) first.
    in_flight: VecDeque<Job>,
    /// Whether the last batch was short enough to make prefetching worthwhile.
    short_tasks: bool,
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
        };
        me.run(worker);
    }

    fn run(&mut self, mut worker: Worker) {
        loop {
            let alive = match self.take() {
                Take::Stop => return self.stop(worker),
                Take::Cancel => return self.cancel(worker),
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
                    !self.in_flight.is_empty() && self.receive(&worker)
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
    fn receive(&mut self, worker: &Worker) -> bool {
        match worker.answers.recv() {
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
            Ok(FromWorker::Hello { .. } | FromWorker::Unblock) | Err(_) => false,
        }
    }

    /// The oldest batch in flight is done: record it and deliver its answer.
    fn finish_front(&mut self, worker: &Worker, start: u64, end: u64, output: Vec<u8>) {
        // Answers come in the order batches were sent, and one is in flight (we waited for it).
        let Some(job) = self.in_flight.pop_front() else {
            return;
        };
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
                if big && (!self.in_flight.is_empty() || !jobs.is_empty()) {
                    break;
                }
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
        let mut last_error = None;
        for attempt in 0..RESPAWN_TRIES {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(20 << attempt));
            }
            match Worker::start(&self.shared, self.slot) {
                Ok(worker) => {
                    self.shared.set_pid(self.slot, Some(worker.child.pid()));
                    return Some(worker);
                }
                Err(e) => last_error = Some(e),
            }
        }
        self.give_up(last_error.unwrap_or_else(|| Error::Spawn("no attempt made".into())));
        None
    }

    /// This slot cannot start workers any more. If it was the last, fail everything queued.
    fn give_up(&self, error: Error) {
        eprintln!(
            "common: pool worker {} cannot be replaced: {error}",
            self.slot
        );
        let orphans = {
            let mut state = self.shared.state();
            state.live -= 1;
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
        let Worker {
            mut child,
            tasks,
            answers,
        } = worker;
        drop(tasks); // the worker's `recv` fails, and it exits with status 0
        let _ = child.finish(EXIT_GRACE);
        drop(answers); // only now, so the worker never writes to a closed socket
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
