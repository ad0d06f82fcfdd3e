//! `ProcessPool`: workers are copies of this very program, each in its own process.
//!
//! Words, one meaning each, in every file of this module:
//!
//! - *worker*: a process running tasks; *supervisor*: the pool's thread that owns one worker.
//! - *line*: one worker's socket pair and who holds it (`lend.rs`'s `Line`); *link*: the bytes
//!   on it, read and written (`link.rs`'s `Link`).
//! - *slot* (`Slot`): where one task's result waits for its caller. A supervisor's place in the
//!   pool (0, 1, ...) is its index, not a slot.
//! - *lent*, *held*, *handed over*, *ticket*: the lent line's states and counters (`lend.rs`).
//! - *taken*: only a result taken out of its slot (`Error::AlreadyTaken`); a supervisor that
//!   takes its line back from a caller *reclaims* it.
//! - *batch*: items sent together; *frame*: a batch's bytes; *job*: a batch in the queue with
//!   where its answer goes.
//!
//! How it fits together, file by file:
//!
//! - `builder.rs`: settings, and the start: each worker is started from `/proc/self/exe` (see
//!   [`crate::child`]); [`crate::init`], the first line of `main`, notices that it was started as
//!   a worker and serves the pool instead of running the program (`worker.rs`). This is Rust's
//!   analogue of Python's `if __name__ == "__main__":`. A worker encodes each answer into a
//!   buffer it keeps, sent in one `write` (`answer.rs`).
//! - `call.rs`, `wire.rs`: a task `fn(A) -> R` travels as two code addresses made relative to
//!   the executable (`call.rs` explains why that is sound); its arguments and results as bytes,
//!   one MessagePack record per item (`src/codec.rs` says why, and what it costs).
//! - `link.rs`, `message.rs`: each worker's private line, one end of a socket pair handed to it
//!   alone as its standard input; no file, no name, nothing another user could reach.
//! - `supervisor.rs`: each worker has a *supervisor* thread in the pool's process. It takes
//!   batches from the pool's queue (`prefetch.rs` decides how many), sends them, and reads the
//!   answers, which come back in order. Because answers are in order, when a worker dies the
//!   supervisor knows exactly which batch was running: that batch gets [`Error::WorkerDied`];
//!   batches queued behind it go back to the pool's queue.
//! - `lend.rs`, `park.rs`: a task submitted to an idle pool skips the supervisor. With nothing
//!   to do, a supervisor parks its worker where a caller can borrow it; `submit` writes the
//!   task to an idle worker itself, and the task's `wait` reads the answer: two hops, like a
//!   plain ping-pong with a child, where the supervisor's way takes four (measured: 1.71x the
//!   ping-pong hot, 2.5x after idling; `benches/compare/NOTES.md` gives the numbers). The
//!   supervisor reads it instead when it has other work, when the pool closes, or when nobody
//!   waits. `lend.rs` holds the protocol's table of states and transitions, and its model
//!   check (`lend/model.rs`).
//! - `spawn.rs`: starting a worker with a bounded handshake, and replacing one that died or
//!   retired, retrying with back-off while the pool lives.
//! - Large payloads (each file gives the measurement that called for it): `big_buffer.rs` asks
//!   for huge pages for buffers that grow large; `owned_bytes.rs` receives a batch of one large
//!   byte string (a `ByteBuf`) apart from its head, into a buffer that becomes the value itself;
//!   `streamed.rs` encodes a large lone argument or result straight onto the socket; and
//!   `kept.rs` keeps a large buffer once it is sent, to receive the next large message on its
//!   line into warm memory (the pool keeps a running batch's frame, `release_running_frame`).
//! - Every wait has a bound: a worker must finish its handshake within a timeout, a child that
//!   exits first is noticed at once, and every blocked read or write checks the worker's pid.
//! - Workers never outlive the pool: `PR_SET_PDEATHSIG` kills them if the pool's process dies,
//!   even by `SIGKILL`; they also exit when their line closes.
//!
//! What a process pool can do that a thread pool cannot: [`ProcessPool::terminate`] kills
//! running tasks. The kernel reclaims a dead process's memory, files and locks, so nothing in
//! the pool's own process is left half-done. The same makes two knobs possible that a thread
//! pool cannot have: a time limit per task (`ProcessPoolBuilder::task_timeout`: the worker of
//! a task past it is killed and replaced, in `supervisor.rs` and `lend/read.rs`), and retries
//! after a worker's death (`ProcessPoolBuilder::retries`, in `spawn.rs`'s `replace`).
//!
//! At most once, or at least once? By default a task whose worker died is reported
//! ([`Error::WorkerDied`]) and never run again: at most once, as Python's pools do, which is
//! right for a task with effects outside the worker (a payment, an append to a file), since
//! the pool cannot know how far it got. With `retries(n)` it is sent again, up to `n` more
//! times: at least once, as Ray does by default, which is right for a task that only computes
//! (its worker killed for memory, or by a node going away), and bounded, as Dask bounds it,
//! so that a task that kills every worker it touches fails after `1 + n` deaths instead of
//! killing workers for ever.

mod answer;
pub(crate) mod big_buffer;
mod builder;
pub(crate) mod call;
mod job;
pub(crate) mod kept;
mod lend;
mod link;
mod message;
mod owned_bytes;
mod park;
mod prefetch;
mod spawn;
mod streamed;
mod supervisor;
pub(crate) mod wire;
pub(crate) mod worker;

pub use builder::ProcessPoolBuilder;

use crate::pool::{Pool, Sink, SinkTo, Slot, Span, Task, TaskHandle, Timeline};
use crate::{sys, Error};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use job::{Answer, Job};

/// How often an idle supervisor checks that its worker is still alive.
const IDLE_CHECK: Duration = link::WATCH;
/// How long a worker may take to exit after its channel closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// What every new worker runs before its hello (see `worker.rs`).
pub(crate) enum Initializer {
    /// A plain `fn()`: its code distance (see `call::encode_plain`), in the worker's
    /// environment.
    Plain(i64),
    /// `initializer_with(f, arg)`: the frame of the batch `f(arg)`, sent first on the line.
    Frame(Vec<u8>),
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// The pool is being dropped: finish the queue, then stop.
    closing: bool,
    /// The pool was terminated: stop now.
    cancelled: bool,
    /// Set while no supervisor has a worker and the last attempt to start one failed: new batches fail
    /// at once with it, rather than wait for a worker that may never come. Cleared as soon as a
    /// worker starts again.
    broken: Option<Error>,
    /// Slots with a running worker.
    live: usize,
    /// Each worker's line: who holds it, and whether it is lent to a caller (see `lend.rs`).
    lines: Vec<lend::Desk>,
    /// Per supervisor, batches for its worker alone (a `broadcast`'s): taken before `queue`.
    targeted: Vec<VecDeque<Job>>,
}

impl State {
    /// Whether supervisor `index` has queued work: its own, or the pool's.
    fn has_work(&self, index: usize) -> bool {
        !self.queue.is_empty() || !self.targeted[index].is_empty()
    }
}

struct Shared {
    state: Mutex<State>,
    /// Where supervisors wait between attempts to start a worker (see `spawn.rs`).
    wake: Condvar,
    /// Per worker: where its supervisor sleeps while parked, or waits for a caller to give
    /// its line back (see `park.rs`). Waking a condition variable is a system call even when
    /// nobody sleeps on it, so the pool wakes only the supervisor that can use it.
    nudge: Vec<Condvar>,
    timeline: Timeline,
    pids: Mutex<Vec<Option<u32>>>,
    handshake_timeout: Duration,
    env: Vec<(OsString, OsString)>,
    /// Run by every new worker before its first task.
    initializer: Option<Initializer>,
    /// Items a worker may run before it is retired and replaced.
    max_tasks: Option<usize>,
    /// How long one item may run before its worker is killed (`task_timeout`).
    task_timeout: Option<Duration>,
    /// How many times a batch whose worker died is sent again (`retries`).
    retries: u32,
    /// Bytes written to the workers' lines, counted by each `Link` (see `bytes_sent`).
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Supervisors never panic while holding the lock (no user code runs under it).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_pid(&self, index: usize, pid: Option<u32>) {
        self.pids()[index] = pid;
    }

    /// The workers' pids, by supervisor. `terminate` signals them while holding this lock, and a
    /// worker's `Child` strikes its pid out under it before reaping (`strike_pid`), so the list
    /// never holds a reaped pid that a signal could reach.
    fn pids(&self) -> MutexGuard<'_, Vec<Option<u32>>> {
        // Each operation under this lock is one store or one read: a panic cannot leave it
        // half-done, so a poisoned lock is still right to use.
        self.pids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Strikes `pid` out of supervisor `index`'s entry if it is still there (a newer worker's is left).
    /// Called by the worker's `Child` once it has ended and before it is reaped.
    fn strike_pid(&self, index: usize, pid: u32) {
        if let Some(entry) = self
            .pids()
            .get_mut(index)
            .filter(|entry| **entry == Some(pid))
        {
            *entry = None;
        }
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
    /// Joined by `shutdown`, `terminate` or the drop, whichever comes first (hence the lock:
    /// `shutdown` takes `&self`).
    supervisors: Mutex<Vec<JoinHandle<()>>>,
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
        ProcessPoolBuilder::with_defaults()
    }

    /// How many bytes this pool has written to its workers' sockets so far: every frame, with
    /// its tasks' arguments. What a task's argument costs to send shows here, and what
    /// [`Pool::share`] saves: a shared value's reference is about 60 bytes per task.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The process ids of the current workers (a replaced worker has a new pid).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared.pids().iter().flatten().copied().collect()
    }

    /// Stops at once: kills every worker (running tasks end with [`Error::Cancelled`]),
    /// cancels the queued tasks, and reaps every worker before returning.
    pub fn terminate(self) {
        let queued = {
            let mut state = self.shared.state();
            state.cancelled = true;
            take_queued(&mut state)
        };
        park::nudge_all(&self.shared);
        // Signal while holding the pids' lock: a worker's pid is struck out under it before the
        // worker is reaped (`strike_pid`), so each pid here is alive or a zombie, never a
        // number the kernel may have handed to an unrelated process (or group) since.
        for &pid in self.shared.pids().iter().flatten() {
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

    /// Joins every supervisor (each reaps its worker first); another caller waits here until
    /// they are all joined.
    fn join_supervisors(&self) {
        // Held only to push or join; a join's panic is caught below.
        let mut supervisors = self.supervisors.lock().unwrap_or_else(|p| p.into_inner());
        for thread in supervisors.drain(..) {
            // Supervisors catch nothing and run no user code, so a panic there is a bug in this
            // module; propagating it would abort the drop of a pool, so report and go on.
            if thread.join().is_err() {
                eprintln!("common: a pool supervisor panicked (a bug in common)");
            }
        }
    }
}

/// Every batch still queued, the pool's and each supervisor's own, taken out of `state`.
fn take_queued(state: &mut State) -> Vec<Job> {
    let mut queued: Vec<Job> = std::mem::take(&mut state.queue).into();
    state
        .targeted
        .iter_mut()
        .for_each(|own| queued.extend(own.drain(..)));
    queued
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
    /// Finishes every submitted task, then stops and reaps every worker (at once, if
    /// `shutdown` or `terminate` did already).
    fn drop(&mut self) {
        self.shared.state().closing = true;
        park::nudge_all(&self.shared);
        self.join_supervisors();
    }
}

impl Pool for ProcessPool {
    fn workers(&self) -> usize {
        self.shared.pids().len()
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
        if let Some(job) = Job::new(f, first, items, sink) {
            self.enqueue(job);
        }
    }

    /// As the trait's `submit`, but a task submitted to an idle pool goes straight to an idle
    /// worker, and its `wait` reads the answer (see `lend.rs`).
    fn submit<A: Task, R: Task>(&self, f: fn(A) -> R, arg: A) -> TaskHandle<R> {
        let arg = match self.lend(f, arg) {
            Ok(handle) => return handle,
            Err(arg) => arg,
        };
        let (framed, pins) =
            crate::shared::for_local_workers(|| wire::frame_owned(call::encode(f), vec![arg]));
        let (frame, tail) = match framed {
            Ok(framed) => framed,
            Err(e) => {
                let slot = Arc::new(Slot::default());
                slot.fill(Err(Error::Serde(format!("encoding arguments: {e}"))));
                return TaskHandle::new(slot);
            }
        };
        let slot = Arc::new(Slot::default());
        let sink = Sink(SinkTo::Slot(Arc::clone(&slot)));
        self.enqueue(Job::framed(frame, tail, 0, 1, sink).pinning(pins));
        TaskHandle::new(slot)
    }

    fn timeline(&self) -> Vec<Span> {
        self.shared.timeline.spans()
    }

    /// As [`Pool::share`] documents: the value is encoded once into a sealed memory file, and
    /// a task's argument carries a reference to it (see [`crate::Shared`]).
    fn share<T: Task + Sync>(&self, value: T) -> Result<crate::Shared<T>, Error> {
        crate::Shared::in_file(value)
    }

    /// As [`Pool::share_slice`] documents: the items' bytes go into a sealed memory file as
    /// they are, and each worker reads them in place from its mapping.
    fn share_slice<P: bytemuck::Pod + Send + Sync>(
        &self,
        values: Vec<P>,
    ) -> Result<crate::Shared<[P]>, Error> {
        crate::Shared::slice_in_file(values)
    }

    /// As [`Pool::shutdown`] documents. "Running" includes the batches already sent to a
    /// worker (several short ones may wait at it, see `prefetch.rs`) and a task lent to one:
    /// they finish; what is still in the pool's queue is cancelled, if asked.
    fn shutdown(&self, cancel_pending: bool) {
        let cancelled = {
            let mut state = self.shared.state();
            state.closing = true;
            if cancel_pending {
                take_queued(&mut state)
            } else {
                Vec::new()
            }
        };
        park::nudge_all(&self.shared);
        cancelled
            .into_iter()
            .for_each(|job| job.fail(Error::Cancelled));
        self.join_supervisors();
    }

    /// As [`Pool::broadcast`] documents: one batch for each supervisor's worker alone, which
    /// it sends before anything from the pool's queue.
    fn broadcast<R: Task>(&self, f: fn() -> R) -> Result<Vec<R>, Error> {
        let frame = wire::frame(call::encode_nullary(f), &[()]).map_err(Error::Serde)?;
        let handles: Vec<TaskHandle<R>> = (0..self.workers())
            .map(|index| {
                let slot = Arc::new(Slot::default());
                let sink = Sink(SinkTo::Slot(Arc::clone(&slot)));
                self.enqueue_to(index, Job::framed(frame.clone(), None, 0, 1, sink));
                TaskHandle::new(slot)
            })
            .collect();
        handles.into_iter().map(TaskHandle::wait).collect()
    }
}
