//! `MpiPool`: the `common::Pool` interface over MPI worker ranks.
//!
//! It implements only `dispatch`, like `ThreadPool` and `ProcessPool`; `map`, `map_unordered`
//! and `submit` come from the trait unchanged. A batch is encoded exactly as for a process pool
//! (`common::plumbing::encode_batch`), travels to a worker rank as one MPI message, and comes
//! back as one; results are put in order by the index of each batch's first item.
//!
//! What differs from `ProcessPool` is the failure model: a worker rank that dies ends the whole
//! MPI job (Open MPI has no recovery here), where a process pool reports `WorkerDied` for one
//! task and replaces the worker.

use crate::session::{self, Order, RankInfo};
use common::plumbing::Task;
use common::plumbing::{decode_results, encode_batch, BatchResult, Results, Sink};
use common::{Error, Pool, Span};
use crossbeam_channel::Sender;
use std::time::Duration;

/// How long `new` waits for its worker ranks (spawning takes a few hundred ms).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A pool whose workers are MPI ranks of this same executable.
#[derive(Debug)]
pub struct MpiPool {
    ranks: Vec<RankInfo>,
    orders: Sender<Order>,
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
        Ok(MpiPool { ranks, orders })
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
        let frame = match encode_batch(f, &items) {
            Ok(frame) => frame,
            Err(e) => return sink.send(BatchResult::failed(first, len, &e)),
        };
        let done = Box::new(move |answer: Result<Vec<u8>, String>| {
            let results = match answer {
                Ok(bytes) => decode_results::<R>(&bytes, len),
                // The rank refused the batch (a frame from another build, say) and said why:
                // the batch could not be moved to it, so every item gets that error.
                Err(why) => Results::failed(len, &Error::Serde(why)),
            };
            sink.send(BatchResult { first, results });
        });
        // If the MPI thread is gone, the order (and its sink) is dropped: the caller sees
        // `Error::Cancelled`, never a hang.
        let _ = self.orders.send(Order::Batch {
            limit: self.ranks.len(),
            frame,
            done,
        });
    }

    /// Not recorded: worker ranks may run on other hosts, whose clocks are not ours.
    fn timeline(&self) -> Vec<Span> {
        Vec::new()
    }
}
