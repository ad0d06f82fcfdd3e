//! The thread that owns one worker process: feeds it, reads its answers in order, replaces it.

use super::job::Group;
use super::kept::Buf;
use super::link::FromWorker;
use super::owned_bytes::Received;
use super::park::Parked;
use super::prefetch::SHORT_TASK;
use super::spawn::{SendError, Worker};
use super::{Answer, Job, Shared, EXIT_GRACE};
use crate::{sys, Error};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

pub(super) enum Take {
    Jobs(Vec<Job>),
    /// Nothing to do: park the worker where a caller may borrow it (see `park.rs`).
    Park,
    /// The pool is closing and the queue is empty.
    Stop,
    /// The pool was terminated.
    Cancel,
    /// The worker has run its `max_tasks_per_worker`: replace it with a fresh one.
    Retire,
}

/// The thread that owns one worker process: feeds it, reads its answers, replaces it.
pub(super) struct Supervisor {
    pub(super) shared: Arc<Shared>,
    /// Its place in the pool (0, 1, ...): which line, nudge and pid entry are its own.
    pub(super) index: usize,
    /// Batches sent to the worker and not yet answered, oldest (the running one) first.
    pub(super) in_flight: VecDeque<Job>,
    /// Whether the last batch was short enough to make prefetching worthwhile.
    pub(super) short_tasks: bool,
    /// The map that last batch belonged to: `short_tasks` says nothing about another map's
    /// batches (see `prefetch.rs`).
    pub(super) learned_from: Group,
    /// Since when the oldest batch in flight may have been running: when it was sent, or
    /// when the answer before it came, whichever is later. `task_timeout` counts from here.
    pub(super) running_since: Option<Instant>,
    /// Set when the worker was killed for running past `task_timeout`: `replace` blames
    /// the running batch for that, not for a death.
    pub(super) timed_out: bool,
    /// Items the current worker has finished (for `max_tasks_per_worker`).
    pub(super) finished: usize,
}

impl Supervisor {
    pub(super) fn start(
        shared: Arc<Shared>,
        index: usize,
        ready: crossbeam_channel::Sender<Result<(), Error>>,
    ) {
        let worker = Worker::start(&shared, index);
        let worker = match worker {
            Ok(worker) => worker,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        shared.set_pid(index, Some(worker.child.pid()));
        shared.state().live += 1;
        let _ = ready.send(Ok(()));
        let mut me = Supervisor {
            shared,
            index,
            in_flight: VecDeque::new(),
            short_tasks: false,
            learned_from: Group::default(),
            running_since: None,
            timed_out: false,
            finished: 0,
        };
        me.run(worker);
        // Stopped: batches left for this worker alone (a broadcast's) get an answer too.
        let (left, error) = {
            let mut state = me.shared.state();
            let error = if state.cancelled {
                Error::Cancelled
            } else {
                Error::ShutDown
            };
            (std::mem::take(&mut state.targeted[index]), error)
        };
        left.into_iter().for_each(|job| job.fail(error.clone()));
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
                Take::Park => match self.park(worker) {
                    Parked::Back(w) => {
                        worker = w;
                        continue;
                    }
                    Parked::Dead(w) => {
                        worker = w;
                        false
                    }
                },
                Take::Jobs(jobs) => {
                    if !jobs.is_empty() {
                        match worker.send(&jobs) {
                            Ok(()) => {
                                if self.in_flight.is_empty() {
                                    self.running_since = Some(Instant::now());
                                }
                                self.in_flight.extend(jobs);
                                self.release_running_frame(&mut worker);
                            }
                            // Never delivered, so not to blame: back to the queue. The
                            // worker's death shows below.
                            Err(SendError::Line) => self.requeue(jobs),
                            Err(SendError::Value(error)) => {
                                // A large argument's encoding failed half-sent: its batch
                                // fails, and the worker, its line out of step, is replaced.
                                let _ = worker.child.kill();
                                jobs.into_iter().for_each(|job| job.fail(error.clone()));
                            }
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

    /// Waits for the worker's next answer and delivers it; `false` if the worker is dead, or
    /// was killed because its running batch passed `task_timeout`.
    fn receive(&mut self, worker: &mut Worker) -> bool {
        loop {
            match self.receive_one(worker) {
                Some(FromWorker::Started) => {
                    // Said as the worker begins a batch: the oldest in flight.
                    if let Some(front) = self.in_flight.front_mut() {
                        front.started = true;
                    }
                }
                Some(answer) => return self.deliver(worker, answer),
                None => return false,
            }
        }
    }

    /// The worker's next message; `None` if it is dead, or was killed for running past
    /// `task_timeout`.
    fn receive_one(&mut self, worker: &mut Worker) -> Option<FromWorker> {
        let answer = match self.running_deadline() {
            None => worker.receive(),
            Some(deadline) => match worker.receive_until(deadline) {
                Ok(Some(answer)) => Ok(answer),
                // Its answer has begun: the batch finished in time; read the rest.
                Ok(None) if worker.link.has_partial() => worker.receive(),
                Ok(None) => {
                    // Past its limit: kill the worker (and any process it forked); `replace`
                    // reports the batch and starts another worker.
                    let _ = worker.child.kill();
                    self.timed_out = true;
                    return None;
                }
                Err(e) => Err(e),
            },
        };
        answer.ok()
    }

    /// Delivers the worker's answer; `false` if it was not one (the worker misbehaved).
    fn deliver(&mut self, worker: &mut Worker, answer: FromWorker) -> bool {
        match answer {
            FromWorker::Done { start, end, output } => {
                self.finish_front(worker, start, end, output);
                true
            }
            FromWorker::Refused(why) => {
                // Cannot happen with a worker of our own executable; treat it as a death.
                eprintln!(
                    "common: worker {} refused a batch: {why}",
                    worker.child.pid()
                );
                false
            }
            _ => false,
        }
    }

    /// The oldest batch in flight is done: record it and deliver its answer.
    fn finish_front(&mut self, worker: &mut Worker, start: u64, end: u64, output: Received) {
        // Answers come in the order batches were sent, and one is in flight (we waited for it).
        let Some(job) = self.in_flight.pop_front() else {
            return;
        };
        self.finished += job.len;
        self.short_tasks = sys::nanos_between(start, end) < SHORT_TASK;
        self.learned_from = job.group.clone();
        // The next batch (if one is in flight) could start only now.
        self.running_since = Some(Instant::now());
        let pid = worker.child.pid();
        self.shared
            .timeline
            .record(self.index, pid, job.first, job.len, start, end);
        (job.done)(Answer::Output(output));
        self.release_running_frame(worker);
    }

    /// Frees the frame of the batch now running (the oldest in flight).
    ///
    /// It is never sent again: if its worker dies, that batch is the one blamed
    /// ([`Error::WorkerDied`]), and only the batches behind it go back to the queue. Measured
    /// reason: a 64 MiB argument's frame otherwise stays alive until its result is decoded, and
    /// the pool's peak memory was twice the payload; taken from the batch here, the frame and
    /// the result's buffers are never alive at once. A large frame (or a `ByteBuf` argument's
    /// own bytes) is kept on the line, to receive this batch's answer into (see `kept.rs`).
    fn release_running_frame(&mut self, worker: &mut Worker) {
        if self.shared.retries > 0 {
            return; // it may be sent again, after its worker's death
        }
        if let Some(running) = self.in_flight.front_mut() {
            let frame = std::mem::take(&mut running.frame);
            let argument = running.tail.take().and_then(|tail| tail.into_buf());
            worker.link.keep(argument.unwrap_or(Buf::Bytes(frame)));
        }
    }

    /// When the running batch passes `task_timeout`, if the pool has one: its limit per item
    /// times its items, from `running_since`.
    fn running_deadline(&self) -> Option<Instant> {
        let limit = self.shared.task_timeout?;
        let items = u32::try_from(self.in_flight.front()?.len).unwrap_or(u32::MAX);
        // A limit too far to name is no limit.
        self.running_since?.checked_add(limit.checked_mul(items)?)
    }

    pub(super) fn requeue(&self, jobs: Vec<Job>) {
        let mut state = self.shared.state();
        let count = jobs.len();
        for job in jobs.into_iter().rev() {
            state.queue.push_front(job);
        }
        for _ in 0..count {
            super::park::nudge_one(&self.shared, &mut state);
        }
    }

    /// The pool is closing and all work is done: let the worker exit, then reap it.
    pub(super) fn stop(&mut self, worker: Worker) {
        let Worker { mut child, link } = worker;
        link.hang_up(); // the worker reads end of file, and exits with status 0
        let _ = child.finish(EXIT_GRACE);
        drop(link); // only now, so the worker never writes to a closed socket
        self.shared.set_pid(self.index, None);
    }

    /// The pool was terminated: kill the worker and cancel what it was doing.
    fn cancel(&mut self, mut worker: Worker) {
        let _ = worker.child.kill();
        self.shared.set_pid(self.index, None);
        self.in_flight
            .drain(..)
            .for_each(|job| job.fail(Error::Cancelled));
    }
}
