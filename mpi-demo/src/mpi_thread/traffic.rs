//! Batches out to idle worker ranks, answers back to their sinks, shared values out (and
//! their forgets), and the ping-pong.
//!
//! Why a shared value reaches a rank before any batch that names it: both go from this one
//! thread to that rank on one communicator, the value first (`flush` runs before each batch
//! is sent), and the rank receives whatever comes first from rank 0 with any tag (`worker`
//! probes with `MPI_ANY_TAG`). MPI's messages do not overtake each other between one pair of
//! processes on one communicator when one receive could match both, so the rank reads the
//! `PUT` before the `TASK`. Forgets go the same way, after the last batch that named the key
//! was answered (the batches pin the handle until then).
//!
//! Why only to an idle rank: a shared value is large, and a large `MPI_Send` waits until the
//! rank receives it (rendezvous). An idle rank is in its probe loop and receives it within
//! its back-off (1 ms at most); a busy one may be sending its own large answer, waiting for
//! us to receive it: both would wait for ever (the ring deadlock of `ring-deadlock`, between
//! two ranks).
//!
//! Why every batch and value goes out through [`State::send_watched`]: a large `MPI_Send` to a
//! rank that has just died waits for ever, since nobody will ever receive it (measured here: a
//! 64 MiB send to a killed spawned rank had not returned after 20 s). Started alone, nothing
//! else would end the job (under `mpirun`, `mpirun` does), so the wait checks the ranks' lives.
//! The ping-pong's receive is watched the same way ([`State::wait_watched`]), spinning.

use super::{Control, State, Worker};
use crate::backoff::{Backoff, Pause, PROGRAM_CAP};
use crate::session::{tag, To, LIVENESS_EVERY};
use mpi::datatype::Buffer;
use mpi::request::{Request, Scope};
use mpi::traits::*;
use mpi::Tag;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

impl State {
    /// Hands queued batches to idle workers, oldest batch first (broadcasts are queued ahead
    /// of the rest); drops those whose pool cancelled them; whether any was sent.
    pub(super) fn assign(&mut self) -> bool {
        let mut sent = false;
        let mut i = 0;
        while i < self.queue.len() {
            let no_such_rank = matches!(self.queue[i].to, To::Only(w) if w >= self.workers.len());
            if self.queue[i].cancelled.load(Relaxed) || no_such_rank {
                // Dropping its `done` answers its caller `Error::Cancelled`.
                drop(self.queue.remove(i));
                continue;
            }
            let idle = |w: &Worker| w.running.is_none();
            let w = match self.queue[i].to {
                To::AnyOf(n) => self.workers[..n.min(self.workers.len())]
                    .iter()
                    .position(idle),
                To::Only(w) => self.workers.get(w).filter(|&w| idle(w)).map(|_| w),
            };
            let Some(w) = w else {
                i += 1;
                continue;
            };
            // `i < self.queue.len()` was checked just above.
            let queued = self.queue.remove(i).expect("i is in the queue");
            self.flush(w); // the shared values it may name go first (module doc)
            self.send_watched(w, &queued.frame[..], tag::TASK);
            let len = queued.frame.len() as u64;
            queued.traffic.batches.fetch_add(len, Relaxed);
            self.workers[w].running = Some(queued.done);
            sent = true;
        }
        sent
    }

    /// Sends worker `w` what waits in its outbox, in order; only while it is idle (module doc).
    pub(super) fn flush(&mut self, w: usize) {
        if self.workers[w].running.is_some() {
            return;
        }
        while let Some(control) = self.workers[w].outbox.pop_front() {
            match control {
                Control::Put {
                    message, traffic, ..
                } => {
                    self.send_watched(w, &message[..], tag::PUT);
                    traffic.shared.fetch_add(message.len() as u64, Relaxed);
                }
                Control::Forget { key, traffic } => {
                    self.send_watched(w, &key, tag::FORGET);
                    traffic.shared.fetch_add(8, Relaxed);
                }
            }
        }
    }

    /// Sends `message` to worker `w`, checking every [`LIVENESS_EVERY`] while the send waits
    /// that no rank here has died (module doc): the send is started, then tested, with the
    /// serve loop's back-off in between. A small message is done at the first test.
    fn send_watched<B: Buffer + ?Sized>(&self, w: usize, message: &B, tag: Tag) {
        let worker = &self.workers[w];
        let process = self.comms[worker.comm].process(worker.rank);
        let mut backoff = Backoff::new(PROGRAM_CAP);
        mpi::request::scope(|scope| {
            let request = process.immediate_send_with_tag(scope, message, tag);
            self.wait_watched(request, || {
                if let Pause::Sleep(d) = backoff.pause() {
                    std::thread::sleep(d);
                }
            });
        });
    }

    /// Tests `request` until it is done, calling `pause` between tests, and checking every
    /// [`LIVENESS_EVERY`] that no rank here has died (ending the job if one has).
    fn wait_watched<'a, D: ?Sized, S: Scope<'a>>(
        &self,
        mut request: Request<'a, D, S>,
        mut pause: impl FnMut(),
    ) {
        let mut checked = Instant::now();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(waiting) => request = waiting,
            }
            if checked.elapsed() >= LIVENESS_EVERY {
                checked = Instant::now();
                self.end_if_a_rank_died(); // does not return if one has
            }
            pause();
        }
    }

    /// [`State::flush`] for every idle worker: a value shared or dropped goes out at once.
    pub(super) fn flush_idle(&mut self) {
        for w in 0..self.workers.len() {
            self.flush(w);
        }
    }

    /// Takes every answer that has arrived; whether there was any.
    pub(super) fn collect(&mut self) -> bool {
        let mut got = false;
        for (c, comm) in self.comms.iter().enumerate() {
            while let Some(message) = comm.probe() {
                let (source, tag) = (message.1.source_rank(), message.1.tag());
                let (answer, _) = message.matched_receive_vec::<u8>();
                got = true;
                let worker = self
                    .workers
                    .iter_mut()
                    .find(|w| w.comm == c && w.rank == source);
                let (Some(worker), tag::DONE) = (worker, tag) else {
                    continue; // not an answer to a batch: nothing waits for it
                };
                let Some(done) = worker.running.take() else {
                    continue;
                };
                done(match answer.split_first() {
                    Some((0, results)) => Ok(results.to_vec()),
                    Some((_, why)) => Err(String::from_utf8_lossy(why).into_owned()),
                    None => Err("an empty answer".to_string()),
                });
            }
        }
        got
    }

    pub(super) fn ping(&mut self, worker: usize, rounds: u64) -> Result<Duration, String> {
        let w = self
            .workers
            .get(worker)
            .ok_or_else(|| format!("no worker rank {}", worker + 1))?;
        if w.running.is_some() || rounds == 0 {
            return Err("ping-pong needs an idle worker and at least one round".into());
        }
        let process = self.comms[w.comm].process(w.rank);
        let started = Instant::now();
        process.send_with_tag(&rounds, tag::PING);
        let mut byte = 0u64;
        for round in 0..rounds {
            // Spinning, as Open MPI's blocking receive does inside, which is what makes it fast;
            // but watched, since a blocking receive from a rank that died never returns.
            mpi::request::scope(|scope| {
                let request = process.immediate_receive_into_with_tag(scope, &mut byte, tag::PONG);
                self.wait_watched(request, std::hint::spin_loop);
            });
            if round + 1 < rounds {
                process.send_with_tag(&round, tag::PING);
            }
        }
        Ok(started.elapsed())
    }
}
