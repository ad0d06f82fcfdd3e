//! The MPI thread itself: it starts MPI, spawns or greets the worker ranks, hands out batches
//! and collects answers, and stops everything at the end.
//!
//! Load balancing is dynamic: queued batches wait here, and each goes to whichever worker rank
//! is idle first (one batch in flight per rank), the way mpi4py.futures hands out tasks.
//! Three files: this one holds the thread's state and its loop; `ranks` brings worker ranks
//! in (spawn, hello); `traffic` moves batches, answers and pings.

mod ranks;
mod traffic;

use crate::backoff::{Backoff, Pause, PROGRAM_CAP};
use crate::session::{tag, Done, Mode, Order, Queued, RankInfo, To, Traffic};
use crate::session::{DRAIN_LIMIT, LIVENESS_EVERY};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mpi::point_to_point::{Message, Status};
use mpi::topology::{InterCommunicator, Process, SimpleCommunicator};
use mpi::traits::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A communicator that reaches worker ranks: the world under `mpirun`, or the
/// inter-communicator of one spawn.
enum Comm {
    World(SimpleCommunicator),
    Spawned(InterCommunicator),
}

impl Comm {
    fn process(&self, rank: i32) -> Process<'_> {
        match self {
            Comm::World(c) => c.process_at_rank(rank),
            Comm::Spawned(c) => c.process_at_rank(rank),
        }
    }

    fn probe(&self) -> Option<(Message, Status)> {
        match self {
            Comm::World(c) => c.any_process().immediate_matched_probe(),
            Comm::Spawned(c) => c.any_process().immediate_matched_probe(),
        }
    }
}

/// One worker rank: how to reach it, who it is, and the batch it runs (at most one at a time,
/// so the next batch goes to whichever rank answers first).
struct Worker {
    /// Index into `State::comms`, and the rank within that communicator.
    comm: usize,
    rank: i32,
    info: RankInfo,
    running: Option<Done>,
    /// Shared values to send it, and forgets, in order: sent while it is idle, and always
    /// before its next batch (`traffic::flush`).
    outbox: VecDeque<Control>,
}

/// A message for a worker rank that is not a batch (`MpiPool::share` and its forget).
enum Control {
    /// Keep this value: its encoding, then its key.
    Put {
        key: u64,
        message: Arc<Vec<u8>>,
        traffic: Arc<Traffic>,
    },
    /// Drop the value kept under `key`.
    Forget { key: u64, traffic: Arc<Traffic> },
}

/// Everything the MPI thread owns.
struct State {
    mode: Mode,
    comms: Vec<Comm>,
    workers: Vec<Worker>,
    /// Batches no worker has taken yet, broadcasts' first.
    queue: VecDeque<Queued>,
    /// Shared values put and not yet forgotten: to how many workers (the first n), and whose
    /// count of bytes the forgets add to.
    shared_with: HashMap<u64, (usize, Arc<Traffic>)>,
    /// This host's name: only a rank here can be checked for life.
    here: String,
}

pub(crate) fn mpi_thread(
    mode: Mode,
    inbox: &Receiver<Order>,
    started: &Sender<Result<(), String>>,
) {
    // Funneled: this thread, and only it, calls MPI, from initialisation to finalisation.
    let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Funneled) else {
        let _ = started.send(Err("MPI was already initialised in this process".into()));
        return;
    };
    let mut state = State {
        mode,
        comms: Vec::new(),
        workers: Vec::new(),
        queue: VecDeque::new(),
        shared_with: HashMap::new(),
        here: crate::launch::host_name(),
    };
    if let Mode::World { size } = state.mode {
        state.comms.push(Comm::World(universe.world()));
        if let Err(why) = state.hellos(0, 1..size as i32, 1) {
            let _ = started.send(Err(why));
            return;
        }
    }
    let _ = started.send(Ok(()));
    state.serve(&universe, inbox);
    for worker in &state.workers {
        let process = state.comms[worker.comm].process(worker.rank);
        process.send_with_tag(&[0u8][..], tag::STOP);
    }
    // Freeing the inter-communicators, then finalising (dropping the universe), ends MPI for
    // this process; each worker rank does the same on STOP.
    drop(state);
    drop(universe);
}

impl State {
    fn busy(&self) -> bool {
        !self.queue.is_empty() || self.workers.iter().any(|w| w.running.is_some())
    }

    fn serve(&mut self, universe: &mpi::environment::Universe, inbox: &Receiver<Order>) {
        let mut backoff = Backoff::new(PROGRAM_CAP);
        let mut draining: Option<Instant> = None;
        let mut checked = Instant::now();
        loop {
            if self.busy() && checked.elapsed() >= LIVENESS_EVERY {
                checked = Instant::now();
                self.end_if_a_rank_died();
            }
            let order = if draining.is_some() {
                None
            } else if !self.busy() {
                // Nothing outstanding: no MPI message can come, so block on the channel alone.
                match inbox.recv() {
                    Ok(order) => Some(order),
                    Err(_) => {
                        draining = Some(Instant::now());
                        None
                    }
                }
            } else {
                match backoff.pause() {
                    Pause::Spin => inbox.try_recv().ok(),
                    // Sleeping on the channel, not in `thread::sleep`: a new order wakes us.
                    Pause::Sleep(d) => match inbox.recv_timeout(d) {
                        Ok(order) => Some(order),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => {
                            draining = Some(Instant::now());
                            None
                        }
                    },
                }
            };
            if let Some(order) = order {
                backoff.reset();
                self.obey(universe, order);
            }
            if self.assign() | self.collect() {
                backoff.reset();
            }
            self.flush_idle();
            if let Some(since) = draining {
                if !self.busy() || since.elapsed() > DRAIN_LIMIT {
                    // Whatever is still queued is dropped: its sinks answer `Cancelled`.
                    return;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    fn obey(&mut self, universe: &mpi::environment::Universe, order: Order) {
        match order {
            Order::Ranks { workers, reply } => {
                let _ = reply.send(self.ensure(universe, workers));
            }
            Order::Batch(queued) => match queued.to {
                // Behind the broadcasts already queued, ahead of every ordinary batch.
                To::Only(_) => {
                    let at = self
                        .queue
                        .iter()
                        .take_while(|q| matches!(q.to, To::Only(_)));
                    let at = at.count();
                    self.queue.insert(at, queued);
                }
                To::AnyOf(_) => self.queue.push_back(queued),
            },
            Order::Ping {
                worker,
                rounds,
                reply,
            } => {
                let _ = reply.send(self.ping(worker, rounds));
            }
            Order::Put {
                key,
                message,
                workers,
                traffic,
            } => {
                let workers = workers.min(self.workers.len());
                for worker in &mut self.workers[..workers] {
                    worker.outbox.push_back(Control::Put {
                        key,
                        message: Arc::clone(&message),
                        traffic: Arc::clone(&traffic),
                    });
                }
                self.shared_with.insert(key, (workers, traffic));
            }
            Order::Forget { key } => {
                let Some((workers, traffic)) = self.shared_with.remove(&key) else {
                    return; // never put (the put failed to arrive here): nothing to forget
                };
                for worker in &mut self.workers[..workers] {
                    // A put still waiting here never needs to go at all.
                    let waiting =
                        |c: &Control| matches!(c, Control::Put { key: k, .. } if *k == key);
                    match worker.outbox.iter().position(waiting) {
                        Some(at) => drop(worker.outbox.remove(at)),
                        None => worker.outbox.push_back(Control::Forget {
                            key,
                            traffic: Arc::clone(&traffic),
                        }),
                    }
                }
            }
        }
    }

    /// A worker rank on this host has died: the job cannot go on, so it ends here, with a
    /// message that says why (and the run's folder removed).
    ///
    /// Under `mpirun`, `mpirun` itself ends the job about a second after a rank dies. A program
    /// started alone has no `mpirun`: Open MPI ends the spawned ranks' job, but leaves the
    /// program waiting for an answer that will never come. This check is what `mpirun` does.
    /// It runs every [`LIVENESS_EVERY`] while a batch is out, and while a send waits
    /// (`traffic::send_watched`).
    fn end_if_a_rank_died(&self) {
        let dead = self
            .workers
            .iter()
            .find(|w| w.info.host == self.here && !common::demo::sys::is_alive(w.info.pid));
        let Some(dead) = dead else { return };
        eprintln!(
            "error: {} (pid {}) died; an MPI job cannot go on without it, so it ends",
            crate::rank_tag(dead.info.rank),
            dead.info.pid
        );
        if let Mode::Spawn { job } = &self.mode {
            let _ = std::fs::remove_dir_all(job);
        }
        // Not finalising: MPI_Finalize waits for every connected rank, the dead one included.
        std::process::exit(1);
    }
}
