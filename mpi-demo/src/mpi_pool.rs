//! `MpiPool`: the `common::Pool` interface over MPI worker ranks.
//!
//! It implements `dispatch`, like `ThreadPool` and `ProcessPool`, and the calls that need to
//! know the workers: `shutdown` (this pool's batches, not the ranks, which a later pool
//! reuses), `broadcast` (one batch addressed to each rank) and `share` (a value sent once to
//! each rank); `map`, `map_unordered` and `submit` come from the trait unchanged. A batch is
//! encoded exactly as for a process pool (`common::plumbing::encode_batch`), travels to a
//! worker rank as one MPI message, and comes back as one; results are put in order by the
//! index of each batch's first item.
//!
//! A shared value cannot be a file the ranks open (a rank may be on another host), so `share`
//! encodes it once and sends it to each of the pool's ranks once, under a key unique in the
//! job; a batch names it by that key (about 10 bytes), each rank decodes it on first use and
//! keeps it, and when the last handle on rank 0 goes, each rank is told to drop it
//! (`common::plumbing`'s keyed copies; `mpi_thread/traffic.rs` says why the value always
//! reaches a rank before the batches that name it).
//!
//! What differs from `ProcessPool` is the failure model: a worker rank that dies ends the whole
//! MPI job (Open MPI has no recovery here), where a process pool reports `WorkerDied` for one
//! task and replaces the worker. So there is no `retries(n)` here: no rank survives to rerun
//! the task on, and the job that would rerun it has ended.

use crate::session::{self, Done, Order, Queued, RankInfo, To, Traffic};
use common::plumbing::{
    decode_results, encode_batch, encode_broadcast, BatchResult, Results, Sink,
};
use common::plumbing::{encode_for_keyed_workers, share_keyed, share_slice_keyed, SharedKey, Task};
use common::{Error, Pool, Shared, Span};
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long `new` waits for its worker ranks (spawning takes a few hundred ms).
const START_LIMIT: Duration = Duration::from_secs(60);

/// Numbers for pools and for shared values, unique in the job: only rank 0 makes pools, and
/// every pool of the job reaches the same ranks, whose kept values are one set per rank.
static NEXT_POOL: AtomicU64 = AtomicU64::new(1);
static NEXT_SHARED: AtomicU64 = AtomicU64::new(1);

/// What an [`MpiPool`] has sent to its worker ranks, in bytes ([`MpiPool::bytes_sent`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BytesSent {
    /// Batch frames, each to the one rank that ran it: a task's arguments, and the key of each
    /// shared value it names (about 10 bytes).
    pub batches: u64,
    /// What [`Pool::share`] and [`Pool::share_slice`] sent: each value's encoding and key once
    /// to each rank, and 8 bytes to each rank to forget it.
    pub shared: u64,
}

/// A pool whose workers are MPI ranks of this same executable.
#[derive(Debug)]
pub struct MpiPool {
    ranks: Vec<RankInfo>,
    orders: Sender<Order>,
    /// What `shutdown` needs: whether the pool still takes work, and its batches not yet
    /// answered. (The ranks outlive the pool: a later pool reuses them.)
    books: Arc<Books>,
    /// Which pool this is: its batches name its shared values by key, other pools' batches
    /// carry them whole (this pool's ranks keep them; another pool may have more ranks).
    id: u64,
    /// Bytes sent to the ranks, counted as the MPI thread sends them.
    traffic: Arc<Traffic>,
}

/// A pool's open batches, and whether it is shut down. Each batch holds a [`Ticket`] until it
/// is answered or dropped; `shutdown` waits for the count to reach 0.
#[derive(Debug, Default)]
struct Books {
    /// (shut down, batches dispatched and not yet answered).
    state: Mutex<(bool, usize)>,
    answered: Condvar,
    /// Set by `shutdown(true)`: the MPI thread drops this pool's queued batches unsent.
    cancelled: Arc<AtomicBool>,
}

impl Books {
    fn state(&self) -> std::sync::MutexGuard<'_, (bool, usize)> {
        // Each critical section is a plain read or increment: a poisoned lock holds a whole value.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A ticket for one more batch, or `None` once the pool is shut down.
    fn open(self: &Arc<Self>) -> Option<Ticket> {
        let mut state = self.state();
        if state.0 {
            return None;
        }
        state.1 += 1;
        Some(Ticket(Arc::clone(self)))
    }
}

/// One open batch: dropped when its answer has been handed over, or its order dropped unsent.
struct Ticket(Arc<Books>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.state().1 -= 1;
        self.0.answered.notify_all();
    }
}

impl MpiPool {
    /// A pool of `workers` worker ranks: ranks `1..=workers` of `mpirun`, or spawned ranks if
    /// the program was started alone (spawned once, then reused by later pools).
    ///
    /// # Errors
    /// [`Error::ZeroWorkers`]; [`Error::Spawn`] if MPI does not start, the ranks cannot be
    /// spawned, or `mpirun` started fewer.
    pub fn new(workers: usize) -> Result<MpiPool, Error> {
        if workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        let orders = session::orders().map_err(Error::Spawn)?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        orders
            .send(Order::Ranks { workers, reply })
            .map_err(|_| Error::Spawn("the MPI thread has stopped".into()))?;
        let ranks = answer
            .recv_timeout(START_LIMIT)
            .map_err(|_| Error::Spawn("no worker ranks within 60 s".into()))?
            .map_err(Error::Spawn)?;
        Ok(MpiPool {
            ranks,
            orders,
            books: Arc::default(),
            id: NEXT_POOL.fetch_add(1, Relaxed),
            traffic: Arc::default(),
        })
    }

    /// How many bytes this pool has sent to its worker ranks so far, by what carried them
    /// (`ProcessPool::bytes_sent` counts one sum: its shared values never cross a socket).
    pub fn bytes_sent(&self) -> BytesSent {
        BytesSent {
            batches: self.traffic.batches.load(Relaxed),
            shared: self.traffic.shared.load(Relaxed),
        }
    }

    /// Who the worker ranks are: rank, pid and host of each.
    pub fn ranks(&self) -> &[RankInfo] {
        &self.ranks
    }

    /// Sends 8 bytes to worker rank `rank` and back, `rounds` times; the time per round trip.
    ///
    /// # Errors
    /// No such rank, or the MPI thread has stopped.
    pub fn ping_pong(&self, rank: usize, rounds: u64) -> Result<Duration, Error> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let order = Order::Ping {
            worker: rank.wrapping_sub(1),
            rounds,
            reply,
        };
        self.orders
            .send(order)
            .map_err(|_| Error::Spawn("the MPI thread has stopped".into()))?;
        let total = answer
            .recv_timeout(START_LIMIT)
            .map_err(|_| Error::Spawn("no answer to the ping-pong within 60 s".into()))?
            .map_err(Error::Spawn)?;
        Ok(total / rounds.max(1) as u32)
    }
}

impl Pool for MpiPool {
    fn workers(&self) -> usize {
        self.ranks.len()
    }

    fn kind(&self) -> &'static str {
        "mpi"
    }

    fn dispatch<A: Task, R: Task>(
        &self,
        f: fn(A) -> R,
        first: usize,
        items: Vec<A>,
        sink: Sink<R>,
    ) {
        let len = items.len();
        let Some(ticket) = self.books.open() else {
            return sink.send(BatchResult::failed(first, len, &Error::ShutDown));
        };
        // This pool's shared values are written as their keys; `pins` holds them until the
        // rank has answered, so that none is forgotten while a batch naming it is on its way.
        let (frame, pins) = encode_for_keyed_workers(self.id, || encode_batch(f, &items));
        // The batch's own handles go now: once its answer is in, only `pins` holds them here.
        drop(items);
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return sink.send(BatchResult::failed(first, len, &e)),
        };
        if let Some(why) = session::too_large("a batch", frame.len()) {
            return sink.send(BatchResult::failed(first, len, &Error::Serde(why)));
        }
        let done = Box::new(move |answer: Result<Vec<u8>, String>| {
            // Let go before the caller hears: a handle the caller drops after its results is
            // then the last one, and its forget is ordered after whatever the caller does next.
            drop(pins);
            let results = match answer {
                Ok(bytes) => decode_results::<R>(&bytes, len),
                // The rank refused the batch (a frame from another build, say) and said why:
                // the batch could not be moved to it, so every item gets that error.
                Err(why) => Results::failed(len, &Error::Serde(why)),
            };
            sink.send(BatchResult { first, results });
            drop(ticket);
        });
        self.send(To::AnyOf(self.ranks.len()), frame, done);
    }

    /// As [`Pool::shutdown`] documents. The worker ranks are not stopped: they belong to the
    /// MPI session, and a later pool uses them again; this waits for this pool's batches.
    fn shutdown(&self, cancel_pending: bool) {
        let mut state = self.books.state();
        state.0 = true;
        if cancel_pending {
            self.books.cancelled.store(true, Relaxed);
        }
        while state.1 > 0 {
            state = self
                .books
                .answered
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// As [`Pool::broadcast`] documents: one batch for each worker rank alone, queued ahead of
    /// every ordinary batch.
    fn broadcast<R: Task>(&self, f: fn() -> R) -> Result<Vec<R>, Error> {
        let frame = encode_broadcast(f)?;
        let (answers, results) = crossbeam_channel::bounded(self.ranks.len());
        for w in 0..self.ranks.len() {
            let Some(ticket) = self.books.open() else {
                return Err(Error::ShutDown);
            };
            let answers = answers.clone();
            let done = Box::new(move |answer: Result<Vec<u8>, String>| {
                let result = match answer {
                    Ok(bytes) => decode_results::<R>(&bytes, 1).into_first(),
                    Err(why) => Some(Err(Error::Serde(why))),
                };
                let _ = answers.send((w, result.unwrap_or(Err(Error::Cancelled))));
                drop(ticket);
            });
            self.send(To::Only(w), frame.clone(), done);
        }
        drop(answers);
        let mut by_rank: Vec<Option<Result<R, Error>>> =
            (0..self.ranks.len()).map(|_| None).collect();
        // Ends when every `done` has answered or been dropped (a dropped one: `Cancelled`).
        for (w, result) in results.iter() {
            by_rank[w] = Some(result);
        }
        by_rank
            .into_iter()
            .map(|r| r.unwrap_or(Err(Error::Cancelled)))
            .collect()
    }

    /// As [`Pool::share`] documents: the value is encoded once and sent once to each of this
    /// pool's worker ranks, which decode it on first use and keep it; a task's batch carries
    /// its key. When the last handle goes (here, on rank 0), each rank is told to drop it.
    ///
    /// # Errors
    /// [`Error::Serde`] if the value cannot be encoded; [`Error::Spawn`] if the MPI thread has
    /// stopped.
    fn share<T: Task + Sync>(&self, value: T) -> Result<Shared<T>, Error> {
        let key = self.next_key();
        let (shared, bytes) = share_keyed(value, key, move || session::forget(key.id))?;
        self.put(key.id, bytes)?;
        Ok(shared)
    }

    /// As [`MpiPool::share`], for plain data: the items' bytes travel as they are, and each
    /// rank copies them into a `Vec<P>` once.
    fn share_slice<P: bytemuck::Pod + Send + Sync>(
        &self,
        values: Vec<P>,
    ) -> Result<Shared<[P]>, Error> {
        let key = self.next_key();
        let (shared, bytes) = share_slice_keyed(values, key, move || session::forget(key.id));
        self.put(key.id, bytes)?;
        Ok(shared)
    }

    /// Not recorded: worker ranks may run on other hosts, whose clocks are not ours.
    fn timeline(&self) -> Vec<Span> {
        Vec::new()
    }
}

impl MpiPool {
    /// Hands one batch to the MPI thread. If that thread is gone, the order (and its `done`,
    /// and the sink inside) is dropped: the caller sees `Error::Cancelled`, never a hang.
    fn send(&self, to: To, frame: Vec<u8>, done: Done) {
        let _ = self.orders.send(Order::Batch(Queued {
            to,
            frame,
            done,
            cancelled: Arc::clone(&self.books.cancelled),
            traffic: Arc::clone(&self.traffic),
        }));
    }

    /// A key for a new shared value of this pool.
    fn next_key(&self) -> SharedKey {
        SharedKey {
            pool: self.id,
            id: NEXT_SHARED.fetch_add(1, Relaxed),
        }
    }

    /// Has the MPI thread send a shared value's `bytes` to each of this pool's ranks, before
    /// any batch sent after this call (the order of this one channel, then of MPI's messages).
    ///
    /// # Errors
    /// [`Error::Serde`] for a value MPI cannot send as one message (its count is an `int`);
    /// [`Error::Spawn`] if the MPI thread has stopped.
    fn put(&self, key: u64, mut bytes: Vec<u8>) -> Result<(), Error> {
        bytes.extend_from_slice(&key.to_le_bytes()); // the rank cuts it off the end
        if let Some(why) = session::too_large("a shared value", bytes.len()) {
            return Err(Error::Serde(why));
        }
        let order = Order::Put {
            key,
            message: Arc::new(bytes),
            workers: self.ranks.len(),
            traffic: Arc::clone(&self.traffic),
        };
        self.orders
            .send(order)
            .map_err(|_| Error::Spawn("the MPI thread has stopped".into()))
    }
}
