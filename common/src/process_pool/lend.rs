//! Lending the line: a task submitted to an idle pool goes from the caller's thread straight to
//! an idle worker, and the caller's `wait` reads the answer itself.
//!
//! What it wins, measured: a task's round trip takes two hops (caller, worker, caller) instead of
//! four through the supervisor: 1.07-1.10x a raw socket ping-pong hot, against 1.8-2.1x before
//! (the numbers and how they were measured: `benches/compare/NOTES.md`). A reader may skip this
//! module: with it removed, every task goes through the supervisor, correct and slower.
//!
//! # Words
//!
//! - *line*: one worker's socket pair and who holds it ([`Line`]); the bytes on it are the
//!   worker's [`Link`](super::link::Link).
//! - *lent*: a caller's task is on the line and its answer waits for a reader.
//! - *held*: someone (a caller, not the supervisor) has the worker in hand, writing or reading;
//!   the state is [`Line::Held`].
//! - *handed over*: the task's handle said it will not read ([`HasSlot::release`](crate::pool::HasSlot::release)); the
//!   supervisor reads instead.
//! - *ticket*: counts lendings on a line, so a handle knows whether the lent task is its own.
//!
//! # States and transitions
//!
//! Each line is in one state, under the pool's lock. Everything that moves a line is below, with
//! the function that does it; nothing else touches `Desk::line`.
//!
//! | from | to | who, in which function | when |
//! |---|---|---|---|
//! | `Busy` | `Idle` | supervisor, `Supervisor::park` | nothing queued or in flight |
//! | `Idle` | `Busy` | supervisor, `park` | work queued (the pool's, or a broadcast's for this worker), or the pool closing (drop, `shutdown`) or terminated |
//! | `Idle` | `Busy` | supervisor, `park` (its idle check) | the idle worker exited: it replaces it |
//! | `Idle` | `Held` | caller, [`ProcessPool::lend`] | `submit` with nothing queued (for the pool or for this worker): it writes the task |
//! | `Held` | `Lent` | caller, `lend` (after the write) or `read::read_lent` (deadline first) | the task is on the line; part of its answer may be read and kept ([`Link`](super::link::Link)'s partial read) |
//! | `Held` | `Dead` | caller, `lend` (the write failed) or `read::deliver` | the worker died; the task is requeued (not written, or with `retries` left) or fails with `WorkerDied` |
//! | `Held` | `Dead` | caller, `read::read_lent` | the task passed `task_timeout` with no answer begun: the caller kills the worker, the task fails with `TaskTimedOut` |
//! | `Held` | `Idle` | caller, `read::deliver` | the answer is read and delivered |
//! | `Lent` | `Held` | caller, `read::read_lent` | `wait`, `wait_timeout`, `is_finished` of *its own* task (ticket matches) |
//! | `Lent` | `Busy` | supervisor, `park` | work queued, closing, terminated, handed over, or [`LEND_GRACE`] passed: the task goes in flight and the supervisor reads it (*reclaimed*), its `task_timeout` counted from when it was written |
//! | `Dead` | `Busy` | supervisor, `park` | always: it replaces the worker |
//!
//! Why nothing is lost:
//!
//! 1. *Every lent answer is read exactly once.* Only the holder of a line reads it, and a line
//!    has one holder: the state changes under the lock, and `Lent` carries the task with the
//!    worker, so whoever takes the worker takes the task. A reader whose deadline comes first
//!    puts the line back `Lent` with what it read kept in the `Link`; the next holder resumes.
//! 2. *No wake-up is lost.* The supervisor sleeps with `parked` (waiting for a reason to take
//!    its line back) or `wanted` (waiting for a caller to put it back) set, under the lock.
//!    [`put_back`] wakes it when it is `wanted`, or `parked` with a reason (work queued, a dead
//!    worker); `release` wakes a `parked` one when its task is handed over; `enqueue` and
//!    closing wake one or all. Each sets the reason before it wakes, under the same lock, so a
//!    supervisor that checks its reasons and then sleeps cannot miss one.
//! 3. *Nothing waits for ever.* A supervisor's every sleep also ends after
//!    [`IDLE_CHECK`](super::IDLE_CHECK), and a lent task left unread is reclaimed after
//!    [`LEND_GRACE`]. A caller never waits for the supervisor: it reads, or finds the task
//!    not on the line (someone else reads it and fills its slot), or waits on its slot with
//!    its own limit. A caller's read with a limit stops at the limit even half-way through a
//!    message (`link/receive.rs`).
//!
//! `lend/model.rs` model-checks this table with loom (the socket replaced by a channel): every
//! interleaving of a caller that waits, waits with a limit or drops its handle, a supervisor,
//! a worker that answers or dies, and the pool closing; each answer delivered once, the line
//! back with its supervisor, no thread stuck. Its knock-out tests remove one transition each
//! and show the check fail. The `Held` -> `Dead` of a timed-out task is, to the model, the
//! worker dying while its caller reads (a kill is a death), which it checks.
//!
//! With `retries` the worker says `Started` as it begins each task; a reader reads past it
//! (`read::read_lent`, the supervisor's `receive`) and notes it on the task, which moves no
//! line.

mod frame;
#[cfg(all(test, loom))]
mod model;
mod read;

use super::job::Job;
use super::spawn::{watch, Worker};
use super::{ProcessPool, Shared, State};
use crate::pool::{Sink, SinkTo, Slot, Task, TaskHandle};
use read::LentTask;
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
    /// The supervisor holds the worker: feeding it, reading its answers, or replacing it.
    #[default]
    Busy,
    /// The supervisor is parked, nothing is queued or in flight: a caller may borrow it.
    Idle(Worker),
    /// A caller's task is on the line, written `since`; its answer waits for a reader.
    Lent {
        worker: Worker,
        job: Job,
        since: Instant,
    },
    /// A caller holds the worker, writing its task or reading its answer.
    Held,
    /// A caller found the worker dead: its supervisor replaces it.
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
    /// The supervisor sleeps, parked, free to take work (see `park.rs`).
    pub(super) parked: bool,
    /// The supervisor waits for a caller to give the worker back.
    pub(super) wanted: bool,
    /// The buffer a lent task's frame is encoded into, kept from task to task (see `frame.rs`).
    frame: Vec<u8>,
}

/// Where a lent task is: its pool, the line and the lending.
pub(super) struct Ticket {
    shared: Arc<Shared>,
    line: usize,
    id: u64,
}

impl ProcessPool {
    /// Writes the task `f(arg)` straight onto an idle worker's line, if the queue is empty and
    /// a line is idle, and returns its handle; otherwise gives `arg` back, to be queued.
    ///
    /// Before the write the caller only encodes, into the line's own buffer (`frame.rs`); the
    /// task's record (its slot, where the answer goes) is built after it, while the worker
    /// wakes: measured after 10 ms idle, the caller's work before the write was 10 µs of a
    /// 70 µs round trip, most of it cold caches.
    pub(super) fn lend<A: Task, R: Task>(&self, f: fn(A) -> R, arg: A) -> Result<TaskHandle<R>, A> {
        let shared = &self.shared;
        let mut state = shared.state();
        let open = state.queue.is_empty() && !state.closing && !state.cancelled;
        let idle = (0..state.lines.len()).find(|&i| {
            let desk = &state.lines[i];
            matches!(desk.line, Line::Idle(_))
                && desk.lent_done < desk.room
                && state.targeted[i].is_empty()
        });
        let (Some(line), true) = (idle, open && state.broken.is_none()) else {
            return Err(arg);
        };
        let desk = &mut state.lines[line];
        let Line::Idle(mut worker) = std::mem::take(&mut desk.line) else {
            unreachable!("found idle just above");
        };
        desk.line = Line::Held;
        desk.ticket += 1;
        desk.handed_over = false;
        let id = desk.ticket;
        let mut frame = std::mem::take(&mut desk.frame);
        drop(state);
        if !frame::encode_into(&mut frame, f, &arg) {
            let mut state = shared.state();
            state.lines[line].frame = frame;
            put_back(shared, &mut state, line, Line::Idle(worker));
            return Err(arg);
        }
        let sent = worker
            .link
            .send(&[&frame], &mut || watch(&mut worker.child));
        let slot = Arc::new(Slot::default());
        let sink = Sink(SinkTo::Slot(Arc::clone(&slot)));
        let sent = sent.is_ok();
        // Never sent again once delivered, if the pool has no retries: if the worker dies,
        // this task is the one it ran. Once sent, the frame's buffer goes back to the line,
        // for its next lent task; with retries the task keeps a copy, to be sent again.
        let (frame, kept) = match (sent, shared.retries) {
            (true, 0) => (Vec::new(), frame),
            (true, _) => (frame.clone(), frame),
            (false, _) => (frame, Vec::new()),
        };
        let mut job = Job::framed(frame, None, 0, 1, sink);
        // Nobody else holds the slot yet, so nobody can have cancelled it: this claims it.
        let claimed = job.claim();
        debug_assert!(claimed, "a fresh task is claimed");
        let mut state = shared.state();
        state.lines[line].frame = kept;
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
        super::park::nudge_one(shared, &mut state);
        Ok(TaskHandle::new(slot))
    }
}

/// Puts a worker's line back in `state`, and wakes its supervisor if it waits for it, or if it
/// is parked and now has something to do: a dead worker to replace, or work queued meanwhile.
pub(super) fn put_back(shared: &Shared, state: &mut State, line: usize, now: Line) {
    let busy = state.has_work(line) || state.closing || state.cancelled;
    let desk = &mut state.lines[line];
    let dead = matches!(now, Line::Dead(_));
    desk.line = now;
    if desk.wanted || (desk.parked && (busy || dead)) {
        desk.parked = false;
        shared.nudge[line].notify_one();
    }
}
