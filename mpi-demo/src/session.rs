//! The MPI thread: the one thread of the program that calls MPI.
//!
//! MPI can be initialised once per process, and most builds want one thread to make every call
//! (`MPI_THREAD_FUNNELED`). So the program starts one thread that initialises MPI, owns every
//! communicator, and takes orders over a channel: "make sure N worker ranks exist", "run this
//! batch", "ping-pong with rank r", "shut down". Pools are handles that send it orders.
//!
//! This module is the program's side of that channel; `mpi_thread` is the thread itself.

use crate::mpi_thread::mpi_thread;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Message tags between the program and its worker ranks.
pub(crate) mod tag {
    /// Program to worker: a batch frame (`common::plumbing::encode_batch`).
    pub const TASK: i32 = 1;
    /// Worker to program: `0` then the results, or `1` then an error message.
    pub const DONE: i32 = 2;
    /// Program to worker: stop serving and finalise.
    pub const STOP: i32 = 3;
    /// Program to worker: ping-pong this many rounds (a `u64`).
    pub const PING: i32 = 4;
    /// Worker to program: the answer to a ping.
    pub const PONG: i32 = 5;
    /// Worker to program, once: `pid` and host name, tab-separated.
    pub const HELLO: i32 = 6;
    /// Program to worker: a shared value to keep, its encoding then its key (8 bytes, little
    /// endian), from `MpiPool::share`.
    pub const PUT: i32 = 7;
    /// Program to worker: drop the shared value kept under this key (a `u64`).
    pub const FORGET: i32 = 8;
}

/// How long the program waits for spawned ranks to say hello.
pub(crate) const HELLO_LIMIT: Duration = Duration::from_secs(30);
/// How long a shutdown waits for batches still running.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// How often a busy MPI thread checks that its worker ranks on this host are alive.
pub(crate) const LIVENESS_EVERY: Duration = Duration::from_millis(50);

/// Spawned ranks, which Ctrl-C kills at once with the program. They are not children that a
/// `common::demo::child::Child` guards (Open MPI's daemon started them), so they are registered with
/// `common::demo::cleanup` by pid; `untrack_all` forgets them at the end. (Anything of the run that
/// starts or survives outside this list is ended by the run's janitor, see `launch`.)
static TRACKED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub(crate) fn track(pid: u32) {
    common::demo::cleanup::track_child(pid);
    lock(&TRACKED).push(pid);
}

/// Forgets the tracked processes (after a normal shutdown, when they have ended or are ending).
pub(crate) fn untrack_all() {
    for pid in lock(&TRACKED).drain(..) {
        common::demo::cleanup::untrack_child(pid);
    }
}

/// The command name of process `pid` (empty if it is gone).
pub(crate) fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|n| n.trim().to_string())
        .unwrap_or_default()
}

/// Who a worker rank is, as it said in its hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankInfo {
    /// Its rank in the pool's numbering: rank 0 is the program, workers are 1, 2, ...
    pub rank: usize,
    /// Its process id (on its own host).
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
}

/// What to do with a batch's answer: the results bytes, or why there are none.
pub(crate) type Done = Box<dyn FnOnce(Result<Vec<u8>, String>) + Send>;

/// Which worker ranks may run a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum To {
    /// Whichever of the first `n` worker ranks is idle first: a pool's ordinary batch.
    AnyOf(usize),
    /// Worker `w` (0-based) alone, ahead of the queue: a broadcast's batch.
    Only(usize),
}

/// A batch waiting for a worker rank.
pub(crate) struct Queued {
    pub(crate) to: To,
    pub(crate) frame: Vec<u8>,
    pub(crate) done: Done,
    /// Its pool's "cancel what is still queued" (`Pool::shutdown(true)`).
    pub(crate) cancelled: Arc<std::sync::atomic::AtomicBool>,
    /// Its pool's count of bytes sent, which the MPI thread adds to when it sends the frame.
    pub(crate) traffic: Arc<Traffic>,
}

/// What a pool has sent to its worker ranks, counted by the MPI thread as it sends
/// (`MpiPool::bytes_sent`).
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    /// Batch frames, each to one rank.
    pub(crate) batches: AtomicU64,
    /// Shared values (`PUT`, once per rank) and their `FORGET`s.
    pub(crate) shared: AtomicU64,
}

/// Orders for the MPI thread.
pub(crate) enum Order {
    /// Make sure `workers` worker ranks exist (spawning if allowed) and say who they are.
    Ranks {
        workers: usize,
        reply: Sender<Result<Vec<RankInfo>, String>>,
    },
    /// Run a batch on the worker ranks `to` names; not at all once `cancelled` is set (its
    /// `done` is dropped, so its caller sees `Error::Cancelled`).
    Batch(Queued),
    /// Ping-pong `rounds` times with worker `worker` (0-based); the time for all of them.
    Ping {
        worker: usize,
        rounds: u64,
        reply: Sender<Result<Duration, String>>,
    },
    /// Send a shared value (`message`: its encoding, then `key`) to each of the first
    /// `workers` worker ranks, before any later batch to that rank.
    Put {
        key: u64,
        message: Arc<Vec<u8>>,
        workers: usize,
        traffic: Arc<Traffic>,
    },
    /// The last handle of shared value `key` is gone: tell the ranks that keep it to drop it.
    Forget { key: u64 },
}

/// How worker ranks come to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Started alone: spawn worker ranks when a pool needs them. `job` is the run's folder.
    Spawn { job: std::path::PathBuf },
    /// Under `mpirun -n size`: ranks 1..size exist already.
    World { size: usize },
}

struct Handle {
    orders: Sender<Order>,
    /// Closed when the MPI thread ends: lets a shutdown wait for it with a bound.
    ended: Receiver<()>,
    thread: std::thread::JoinHandle<()>,
}

static SESSION: Mutex<Option<Handle>> = Mutex::new(None);
static MODE: Mutex<Option<Mode>> = Mutex::new(None);

/// Why a message of `len` bytes cannot travel, if it cannot: an MPI count is an `int`, so one
/// message holds less than 2 GiB (rsmpi panics on a longer one, and a panic on the MPI thread
/// or a rank would end the job). `what` names the message.
pub(crate) fn too_large(what: &str, len: usize) -> Option<String> {
    i32::try_from(len)
        .is_err()
        .then(|| format!("{what} of {len} bytes: one MPI message holds less than 2 GiB"))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is a plain read or replace: a poisoned lock still holds a whole value.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records how this program was started (by `crate::init`), before any pool exists.
pub(crate) fn set_mode(mode: Mode) {
    *lock(&MODE) = Some(mode);
}

/// The channel to the MPI thread, starting it (and MPI) on first use.
pub(crate) fn orders() -> Result<Sender<Order>, String> {
    let mut session = lock(&SESSION);
    if let Some(handle) = session.as_ref() {
        return Ok(handle.orders.clone());
    }
    let mode = lock(&MODE)
        .clone()
        .ok_or("mpi_demo::init() was not called at the top of main")?;
    let (orders, inbox) = crossbeam_channel::unbounded();
    let (started, start) = crossbeam_channel::bounded(1);
    let (ending, ended) = crossbeam_channel::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("mpi".into())
        .spawn(move || {
            let _ending = ending; // dropped when this thread ends, however it ends
            mpi_thread(mode, &inbox, &started);
        })
        .map_err(|e| format!("starting the MPI thread: {e}"))?;
    match start.recv_timeout(HELLO_LIMIT) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(why),
        Err(_) => return Err("MPI did not start within 30 s".into()),
    }
    *session = Some(Handle {
        orders: orders.clone(),
        ended,
        thread,
    });
    Ok(orders)
}

/// Tells the MPI thread that the last handle of shared value `key` is gone (the handle's
/// `forget`, which runs wherever that handle drops). Without a session nothing is told: after
/// a shutdown there are no ranks left that keep anything. Never starts MPI.
pub(crate) fn forget(key: u64) {
    let orders = lock(&SESSION).as_ref().map(|h| h.orders.clone());
    if let Some(orders) = orders {
        let _ = orders.send(Order::Forget { key });
    }
}

/// Stops every worker rank and finalises MPI (waiting at most 10 s for running batches).
/// Under `mpirun`, MPI is started just for this if no pool ran, so that the worker ranks,
/// waiting for orders, are told to stop and the job ends cleanly.
pub(crate) fn shutdown() {
    if matches!(*lock(&MODE), Some(Mode::World { .. })) {
        let _ = orders();
    }
    let handle = lock(&SESSION).take();
    if let Some(Handle {
        orders,
        ended,
        thread,
    }) = handle
    {
        drop(orders); // the MPI thread drains, stops the workers and finalises
                      // Bounded: an MPI call can block for good if a rank died at a bad moment (during
                      // MPI_Comm_spawn, say). Then the program ends without finalising.
        let limit = DRAIN_LIMIT + Duration::from_secs(5);
        if let Err(RecvTimeoutError::Disconnected) = ended.recv_timeout(limit) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_message_of_2_gib_or_more_is_refused_before_mpi_sees_it() {
        assert_eq!(super::too_large("a batch", i32::MAX as usize), None);
        let why = super::too_large("a batch", i32::MAX as usize + 1).expect("refused");
        assert_eq!(
            why,
            "a batch of 2147483648 bytes: one MPI message holds less than 2 GiB"
        );
    }
}
