//! Lending the line: a task submitted to an idle pool goes from the caller's thread straight to
//! an idle worker, and the caller's `wait` reads the answer itself.
//!
//! Measured reason. Through the supervisor, one task's round trip takes four hops: caller,
//! supervisor thread, worker, supervisor, caller. A ping-pong with a child over a socket takes
//! two. On an idle machine each hop is a wake-up of a sleeping thread, so the pool's round trip
//! was 1.71x a raw socket ping-pong hot (24.1 µs against 14.1 µs on a quiet 16-core host) and
//! 2.5x after 1 or 10 ms idle (140 µs against 56 µs, 206 µs against 81 µs). A prototype in
//! which the caller wrote to an idle worker and read its own answer took 1.09x the ping-pong
//! after 10 ms idle; keeping the supervisor as the reader (three hops) was unstable (68-171 µs).
//!
//! How. Each worker's line is in one of four states, under the pool's lock ([`Line`]): the
//! supervisor holds the worker (`Busy`); the supervisor is parked and the worker waits, idle
//! (`Idle`); a caller's task is on the line, waiting for a reader (`Lent`); or someone holds
//! the worker to write or read (`Taken`). `submit`, when the queue is empty and a line is
//! idle, takes the worker, writes the task's frame and leaves it `Lent`. Whoever takes a `Lent`
//! line reads the answer, delivers it and puts the worker back: the task's own `wait` (two
//! hops, the point of all this), or the supervisor, as soon as it has something else to do
//! (a batch queued, the pool closing or terminated), when the handle says it will not block in
//! `wait` (polled as a `Future`, `is_finished`, dropped: see [`HasSlot::release`]), or when it
//! was left untouched ([`LEND_GRACE`]). A reader that finds the worker dead fails the task with
//! [`Error::WorkerDied`] (or [`Error::Cancelled`] after `terminate`) and hands the worker to its
//! supervisor to replace (`Dead`). The supervisor's side is in `park.rs`.
//!
//! Nobody ever abandons half a message: a waiter with a timeout only starts reading once the
//! answer has begun to arrive, and then reads it whole, with the same pid-checked reads as the
//! supervisor.

use super::job::{Answer, Job};
use super::link::{FromWorker, WATCH};
use super::spawn::{watch, Worker};
use super::{ProcessPool, Shared, State, EXIT_GRACE};
use crate::pool::{HasSlot, Sink, SinkTo, Slot, Task, TaskHandle};
use crate::Error;
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a lent task's answer may wait for its caller's `wait` before the supervisor reads
/// it itself: a handle kept and not looked at. (One that is polled, checked or dropped is read
/// by the supervisor at once.) The supervisor notices at its next wake-up, within
/// [`IDLE_CHECK`](super::IDLE_CHECK) after that.
pub(super) const LEND_GRACE: Duration = Duration::from_millis(10);

/// Who holds one worker's line (see the module comment).
#[derive(Default)]
pub(super) enum Line {
    #[default]
    Busy,
    Idle(Worker),
    Lent {
        worker: Worker,
        job: Job,
        since: Instant,
    },
    Taken,
    Dead(Worker),
}

/// One worker's line and what lending it needs, in the pool's state.
#[derive(Default)]
pub(super) struct Desk {
    pub(super) line: Line,
    /// Counts lendings, so that a handle knows whether the task on the line is its own.
    pub(super) ticket: u64,
    /// Tasks the worker may still run before it retires (`max_tasks_per_worker`), as of parking.
    pub(super) room: usize,
    /// Lent tasks answered since the supervisor parked: they count against `room`.
    pub(super) lent_done: usize,
    /// The handle of the task on the line will not read it: the supervisor should.
    pub(super) handed_over: bool,
    /// The supervisor waits on its `returned` condition variable for the worker to come back.
    pub(super) wanted: bool,
}

/// Where a lent task is: its pool, the line and the lending.
pub(super) struct Ticket {
    shared: Arc<Shared>,
    line: usize,
    id: u64,
}

impl ProcessPool {
    /// Writes a task's `frame` straight onto an idle worker's line, if the queue is empty and
    /// a line is idle, and returns its handle; otherwise gives the frame back, to be queued.
    ///
    /// The task's record (its slot, where the answer goes) is built after the write, while
    /// the worker wakes: measured after 10 ms idle, the caller's work before the write was
    /// 10 µs of a 70 µs round trip, most of it cold caches.
    pub(super) fn lend<R: Task>(&self, frame: Vec<u8>) -> Result<TaskHandle<R>, Vec<u8>> {
        let shared = &self.shared;
        let mut state = shared.state();
        let open = state.queue.is_empty() && !state.closing && !state.cancelled;
        let idle = state
            .lines
            .iter()
            .position(|d| matches!(d.line, Line::Idle(_)) && d.lent_done < d.room);
        let (Some(line), true) = (idle, open && state.broken.is_none()) else {
            return Err(frame);
        };
        let desk = &mut state.lines[line];
        let Line::Idle(mut worker) = std::mem::take(&mut desk.line) else {
            unreachable!("found idle just above");
        };
        desk.line = Line::Taken;
        desk.ticket += 1;
        desk.handed_over = false;
        let id = desk.ticket;
        drop(state);
        let sent = worker
            .link
            .send(&[&frame], &mut || watch(&mut worker.child));
        let slot = Arc::new(Slot::default());
        let sink = Sink(SinkTo::Slot(Arc::clone(&slot)));
        let sent = sent.is_ok();
        // Never sent again once delivered: if the worker dies, this task is the one it ran.
        let frame = if sent { Vec::new() } else { frame };
        let mut job = Job::framed(frame, None, 0, 1, sink);
        // Nobody else holds the slot yet, so nobody can have cancelled it: this claims it.
        let claimed = job.claim();
        debug_assert!(claimed, "a fresh task is claimed");
        let mut state = shared.state();
        if sent {
            let since = Instant::now();
            put_back(shared, &mut state, line, Line::Lent { worker, job, since });
            let ticket = Ticket {
                shared: Arc::clone(shared),
                line,
                id,
            };
            return Ok(TaskHandle::new(Arc::new(LentTask::new(slot, ticket))));
        }
        // Not delivered, so not to blame: queued for another worker, or this one's
        // replacement.
        state.queue.push_front(job);
        put_back(shared, &mut state, line, Line::Dead(worker));
        drop(state);
        shared.wake.notify_all();
        Ok(TaskHandle::new(slot))
    }
}

/// Puts a worker's line back in `state` and wakes its supervisor if it waits for it.
pub(super) fn put_back(shared: &Shared, state: &mut State, line: usize, now: Line) {
    let desk = &mut state.lines[line];
    desk.line = now;
    if desk.wanted {
        shared.returned[line].notify_one();
    }
}

/// A submitted task whose answer its caller may read itself (see the module comment).
pub(super) struct LentTask<R> {
    pub(super) slot: Arc<Slot<R>>,
    pub(super) ticket: Ticket,
    /// Set once the handle said it will not read: the supervisor was told.
    released: AtomicBool,
}

impl<R> LentTask<R> {
    pub(super) fn new(slot: Arc<Slot<R>>, ticket: Ticket) -> LentTask<R> {
        let released = AtomicBool::new(false);
        LentTask {
            slot,
            ticket,
            released,
        }
    }
}

impl<R: Send> HasSlot<R> for LentTask<R> {
    fn slot(&self) -> &Slot<R> {
        &self.slot
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<R, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        if !self.slot.settled.load(Acquire) && !self.released.load(Relaxed) {
            read_lent(&self.ticket, deadline);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match self.slot.wait(left) {
            // The error names the caller's limit, not what was left of it.
            Err(Error::Timeout(_)) => Err(Error::Timeout(timeout.unwrap_or_default())),
            outcome => outcome,
        }
    }

    fn release(&self) {
        if self.slot.settled.load(Acquire) || self.released.swap(true, Relaxed) {
            return;
        }
        let Ticket { shared, line, id } = &self.ticket;
        let mut state = shared.state();
        let desk = &mut state.lines[*line];
        if desk.ticket == *id && matches!(desk.line, Line::Lent { .. }) {
            desk.handed_over = true;
            drop(state);
            // Supervisors share one condition variable; this one must hear it.
            shared.wake.notify_all();
        }
    }
}

/// The caller's read: if the task of `ticket` is still on its line, waiting for a reader, takes
/// the line, reads the answer (once it begins to arrive before `deadline`), delivers it and puts
/// the line back. Otherwise returns: the supervisor reads it (or did).
fn read_lent(ticket: &Ticket, deadline: Option<Instant>) {
    let Ticket { shared, line, id } = ticket;
    let mut state = shared.state();
    let desk = &mut state.lines[*line];
    if desk.ticket != *id || !matches!(desk.line, Line::Lent { .. }) {
        return;
    }
    let Line::Lent {
        mut worker,
        job,
        since,
    } = std::mem::replace(&mut desk.line, Line::Taken)
    else {
        unreachable!("matched just above");
    };
    drop(state);
    if let Some(deadline) = deadline {
        if !answer_begins(&mut worker, deadline) {
            let mut state = shared.state();
            put_back(shared, &mut state, *line, Line::Lent { worker, job, since });
            return;
        }
    }
    let answer = worker.receive();
    deliver(shared, *line, worker, job, answer);
}

/// Waits until the worker's answer begins to arrive (or its line closes), at most until
/// `deadline`; whether it did.
fn answer_begins(worker: &mut Worker, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match worker.link.readable(left.min(WATCH)) {
            Ok(false) if matches!(worker.child.try_wait(), Ok(None)) => {}
            // Readable, or the worker is gone: `receive` says which.
            _ => return true,
        }
    }
}

/// Delivers what a reader read from a lent line, and puts the line back: `Idle` after an
/// answer, `Dead` (for the supervisor to replace) after anything else.
pub(super) fn deliver(
    shared: &Shared,
    line: usize,
    mut worker: Worker,
    job: Job,
    answer: std::io::Result<FromWorker>,
) {
    let pid = worker.child.pid();
    let now = match answer {
        Ok(FromWorker::Done { start, end, output }) => {
            shared
                .timeline
                .record(line, pid, job.first, job.len, start, end);
            // Decoding runs the result's `Deserialize`, user code that may panic: the line must
            // go back even then, or its supervisor would wait for it forever.
            let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (job.done)(Answer::Output(output))
            }));
            let mut state = shared.state();
            state.lines[line].lent_done += 1;
            put_back(shared, &mut state, line, Line::Idle(worker));
            drop(state);
            if let Err(panic) = delivered {
                std::panic::resume_unwind(panic);
            }
            return;
        }
        other => {
            if let Ok(FromWorker::Refused(why)) = other {
                // Cannot happen with a worker of our own executable; treat it as a death.
                eprintln!("common: worker {pid} refused a batch: {why}");
            }
            let cause = worker
                .child
                .finish(EXIT_GRACE)
                .map_or(crate::Exit::Unknown, crate::Exit::from);
            let error = if shared.state().cancelled {
                Error::Cancelled
            } else {
                Error::WorkerDied { pid, cause }
            };
            job.fail(error);
            Line::Dead(worker)
        }
    };
    let mut state = shared.state();
    put_back(shared, &mut state, line, now);
    drop(state);
    // Its supervisor may be parked on the shared condition variable: it must hear it.
    shared.wake.notify_all();
}
