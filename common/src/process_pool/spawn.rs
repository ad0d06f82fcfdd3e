//! Starting a worker process with a bounded handshake, and replacing one that died or retired.

use super::link::{FromWorker, Link, ENV_ANNOUNCE, ENV_INIT, ENV_WORKER, INIT_FRAME};
use super::supervisor::Supervisor;
use super::Initializer;
use super::{Job, Shared, EXIT_GRACE};
use crate::child::{self_command, Child};
use crate::{sys, Error};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first pause between attempts to start a replacement worker; it doubles up to
/// [`RESPAWN_MAX_PAUSE`]. A supervisor never gives up while the pool lives: a fork that fails for a
/// moment (a full process table, a memory spike) must not cost the pool a worker for good.
const RESPAWN_FIRST_PAUSE: Duration = Duration::from_millis(20);
/// The longest pause between attempts to start a replacement worker.
const RESPAWN_MAX_PAUSE: Duration = Duration::from_secs(1);

/// One live worker process and its line.
pub(super) struct Worker {
    pub(super) child: Child,
    pub(super) link: Link,
}

impl Worker {
    /// Starts a worker and waits, with a bound, for its handshake.
    pub(super) fn start(shared: &Arc<Shared>, index: usize) -> Result<Worker, Error> {
        let spawn_error = |what: &str, e: &dyn std::fmt::Display| {
            Error::Spawn(format!("worker {index}: {what}: {e}"))
        };
        let (mut link, theirs) =
            Link::pair(Arc::clone(&shared.sent)).map_err(|e| spawn_error("socket pair", &e))?;
        let mut cmd = self_command();
        cmd.env(ENV_WORKER, "1")
            .stdin(std::process::Stdio::from(OwnedFd::from(theirs)));
        cmd.envs(shared.env.iter().map(|(k, v)| (k, v)));
        if shared.retries > 0 {
            cmd.env(ENV_ANNOUNCE, "1");
        }
        match &shared.initializer {
            Some(Initializer::Plain(init)) => {
                cmd.env(ENV_INIT, init.to_string());
            }
            Some(Initializer::Frame(_)) => {
                cmd.env(ENV_INIT, INIT_FRAME);
            }
            None => {}
        }
        let mut child = Child::spawn_group(&mut cmd).map_err(|e| spawn_error("spawn", &e))?;
        // Whoever reaps this worker (its supervisor, or a caller reading a lent answer), the
        // pid leaves `worker_pids` first, while the worker is a zombie: `terminate` never kills
        // a reaped pid (see `crate::child`). A weak reference: a parked worker lives in `Shared`.
        let book = Arc::downgrade(shared);
        child.strike_before_reaping(move |pid| {
            if let Some(shared) = book.upgrade() {
                shared.strike_pid(index, pid);
            }
        });
        // Our copy of the worker's end goes with `cmd`: from here on only the worker holds it,
        // so its death shows on our end as end of file.
        drop(cmd);
        let pid = child.pid();
        let limit = shared.handshake_timeout;
        let deadline = crate::handle::deadline_in(limit);
        let mut alive = || match child.try_wait()? {
            Some(status) => Err(io::Error::other(format!(
                "{} before its handshake",
                sys::describe_exit(status)
            ))),
            None if Instant::now() >= deadline => Err(io::Error::other(format!(
                "gave no handshake within {limit:?}"
            ))),
            None => Ok(()),
        };
        // The initializer's call and argument go first, for the worker to run before its hello.
        // A worker that exits instead of reading them shows in the hello below.
        let sent = match &shared.initializer {
            Some(Initializer::Frame(frame)) => link.send(&[frame], &mut alive),
            _ => Ok(()),
        };
        let hello = sent.and_then(|()| link.hello(pid, &mut alive));
        match hello {
            Ok(FromWorker::Hello { pid: said }) if said == pid => Ok(Worker { child, link }),
            Ok(FromWorker::CannotServe(why)) => Err(Error::Spawn(format!("worker {index}: {why}"))),
            Ok(FromWorker::InitFailed(error)) => Err(error),
            Ok(_) => Err(spawn_error("handshake", &"not a hello from our worker")),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                // The worker closed its end before saying hello: it is exiting. Say how.
                let how = match child.finish(EXIT_GRACE) {
                    Ok(status) => sys::describe_exit(status),
                    Err(e) => format!("could not be reaped ({e})"),
                };
                Err(Error::Spawn(format!(
                    "worker {index} {how} before its handshake \
                     (does `main` call common::init() first?)"
                )))
            }
            // Dropping `child` kills and reaps it.
            Err(e) => Err(spawn_error("handshake", &e)),
        }
    }

    /// Sends batches: a single batch's frame as it is (then its large argument, if it has one,
    /// see `streamed.rs`), several small ones in one write (large batches travel alone, see
    /// `ALONE_BYTES`).
    pub(super) fn send(&mut self, jobs: &[Job]) -> Result<(), SendError> {
        let Worker { child, link } = self;
        let mut alive = || watch(child);
        match jobs {
            [job] => {
                link.send(&[&job.frame], &mut alive)
                    .map_err(|_| SendError::Line)?;
                let Some(tail) = &job.tail else {
                    return Ok(());
                };
                let mut line = link.watched(&mut alive);
                match tail.write_to(&mut line) {
                    Ok(()) => Ok(()),
                    Err(_) if line.broke() => Err(SendError::Line),
                    Err(e) => Err(SendError::Value(Error::Serde(format!(
                        "encoding an argument: {e}"
                    )))),
                }
            }
            _ => {
                // Only small batches travel together, and a small batch has no tail.
                debug_assert!(jobs.iter().all(|j| j.tail.is_none()));
                let joined: Vec<u8> = jobs.iter().flat_map(|j| j.frame.iter().copied()).collect();
                link.send(&[&joined], &mut alive)
                    .map_err(|_| SendError::Line)
            }
        }
    }

    /// Waits for the worker's next message, for as long as the worker lives.
    pub(super) fn receive(&mut self) -> io::Result<FromWorker> {
        let Worker { child, link } = self;
        link.receive(&mut || watch(child))
    }

    /// As [`Worker::receive`], until `deadline`: `None` if the message is not all in by then
    /// (what came is kept on the link, see `link/receive.rs`).
    pub(super) fn receive_until(&mut self, deadline: Instant) -> io::Result<Option<FromWorker>> {
        let Worker { child, link } = self;
        link.receive_until(deadline, &mut || watch(child))
    }
}

/// Why batches could not be sent.
pub(super) enum SendError {
    /// The line broke (the worker died): the batches were not delivered, and go back to the
    /// queue.
    Line,
    /// A large argument failed to encode a second time, after part of it was sent (see
    /// `streamed.rs`): the batch fails with this error, and the worker must be replaced.
    Value(Error),
}

/// Called while a read or write waits: an error once the worker process has ended.
pub(super) fn watch(child: &mut Child) -> io::Result<()> {
    match child.try_wait()? {
        Some(status) => Err(io::Error::other(sys::describe_exit(status))),
        None => Ok(()),
    }
}

impl Supervisor {
    /// The worker died (or misbehaved, or was killed for running past `task_timeout`): blame
    /// the running batch, requeue the rest, start anew. Returns `None` when this supervisor
    /// should end.
    ///
    /// The running batch fails with [`Error::TaskTimedOut`] if it timed out; after a death it
    /// goes back to the queue's front while it has retries left (`retries`), and fails with
    /// [`Error::WorkerDied`], counting its attempts, after the last.
    pub(super) fn replace(&mut self, mut worker: Worker) -> Option<Worker> {
        let timed_out = std::mem::take(&mut self.timed_out);
        self.running_since = None;
        let pid = worker.child.pid();
        // A child we cannot reap is one whose end we cannot know.
        let cause = worker
            .child
            .finish(EXIT_GRACE)
            .map_or(crate::Exit::Unknown, crate::Exit::from);
        drop(worker);
        self.shared.set_pid(self.index, None);
        if self.shared.state().cancelled {
            self.in_flight
                .drain(..)
                .for_each(|job| job.fail(Error::Cancelled));
            return None;
        }
        let mut again = Vec::new();
        if let Some(mut running) = self.in_flight.pop_front() {
            match self.shared.task_timeout {
                Some(limit) if timed_out => running.fail(Error::TaskTimedOut { limit }),
                // With retries the worker says when it begins a batch: one it never began is
                // sent again without counting an attempt (see `Job::blame`).
                _ if !running.blame(self.shared.retries) => again.push(running),
                _ => {
                    if running.deaths <= self.shared.retries {
                        again.push(running); // sent again first, before the others
                    } else {
                        let attempts = running.deaths;
                        running.fail(Error::WorkerDied {
                            pid,
                            cause,
                            attempts,
                        });
                    }
                }
            }
        }
        again.extend(self.in_flight.drain(..));
        again.iter_mut().for_each(|job| job.started = false);
        self.requeue(again);
        self.respawn()
    }

    /// Starts a worker in this supervisor's place, retrying with back-off for as long as the pool lives and
    /// needs one. `None` when the pool was terminated or is closing meanwhile.
    ///
    /// While it has no worker it does not count as live. If no supervisor has a worker, queued batches fail
    /// with the last start error (nobody would run them) and new ones fail at once; the first
    /// worker that starts again clears that, so the pool never keeps failing with a stale error.
    pub(super) fn respawn(&mut self) -> Option<Worker> {
        let mut pause = RESPAWN_FIRST_PAUSE;
        let mut down = false;
        loop {
            match Worker::start(&self.shared, self.index) {
                Ok(worker) => {
                    self.shared.set_pid(self.index, Some(worker.child.pid()));
                    self.finished = 0;
                    if down {
                        let mut state = self.shared.state();
                        state.live += 1;
                        state.broken = None;
                        eprintln!("common: pool worker {} is running again", self.index);
                    }
                    return Some(worker);
                }
                Err(error) => {
                    if !down {
                        eprintln!(
                            "common: pool worker {} cannot start a worker ({error}); \
                             retrying every {RESPAWN_MAX_PAUSE:?} at most",
                            self.index
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
            // Closing: the supervisors that are live finish the queue; with none live it was failed.
            if state.cancelled || state.closing {
                return None;
            }
            pause = (pause * 2).min(RESPAWN_MAX_PAUSE);
        }
    }

    /// A start failed. `first` marks this supervisor as no longer live; if none is live, the queue
    /// fails with `error` and so do new batches until some worker starts again. Batches for
    /// this worker alone (a broadcast's) fail with it at once, since no other worker may run
    /// them.
    fn mark_down(&self, error: Error, first: bool) {
        let orphans = {
            let mut state = self.shared.state();
            let mut orphans: Vec<Job> = state.targeted[self.index].drain(..).collect();
            if first {
                state.live -= 1;
            }
            if state.live == 0 {
                state.broken = Some(error.clone());
                orphans.extend(std::mem::take(&mut state.queue));
            }
            orphans
        };
        orphans.into_iter().for_each(|job| job.fail(error.clone()));
    }
}
