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
//! Measured with this built (`cargo bench -p common --bench compare -- --only transport`, ten runs
//! on the 2-core development machine at load 1.5-5, each interleaving ours and the ping-pong,
//! alternating with runs of the build before it): hot 1.07-1.10x the ping-pong (before 1.8-2.1x),
//! after 1 ms idle 1.2-1.5x (before 2.1-4.9x), after 10 ms idle 1.4-1.8x, mostly 1.55x (before
//! 2.2-4.7x); with `lend/frame.rs`, eight runs alternating with the build before it (load
//! 0.9-1.4), after 10 ms idle 1.57x, median of eight (1.66x before it, lower in all eight pairs),
//! hot 1.09x and after 1 ms idle 1.17x (1.10x, 1.19x). A trace shows the caller's thread making
//! the same two system calls as the ping-pong (`sendto`, `recvfrom`) and the supervisor none; a
//! task timed alone (no ping-pong between) is 1.23x after 10 ms idle. What is left after idling is
//! work on cold caches, which the ping-pong does not do. Timed inside (400 rounds after 10 ms
//! idle, load 1.7; medians): the caller works 6.1 µs before the write (2.9 µs to lock and find an
//! idle line, 2.8 µs to encode; it was 9 µs before `lend/frame.rs`); the worker starts running 28
//! µs after the write, runs 6.5 µs (decode, call, encode), and 11.6 µs later the caller has the
//! answer's head; the caller then takes 4.5 µs to read, record and deliver it. The same syscalls
//! as the ping-pong, and no page faults (`strace -f -c`, `perf stat`): the rest of the gap is the
//! worker's side, cold.
//!
//! How. Each worker's line is in one of five states, under the pool's lock ([`Line`]): the
//! supervisor holds the worker (`Busy`); the supervisor is parked and the worker waits, idle
//! (`Idle`); a caller's task is on the line, waiting for a reader (`Lent`); someone holds the
//! worker to write or read (`Taken`); or a caller found it dead (`Dead`). `submit`, when the queue
//! is empty and a line is idle, takes the worker, writes the task's frame and leaves it `Lent`.
//! Whoever takes a `Lent` line reads the answer, delivers it and puts the worker back: the task's
//! own `wait` (two hops, the point of all this), or the supervisor, as soon as it has something
//! else to do (a batch queued, the pool closing or terminated), when the handle says it will not
//! block in `wait` (polled as a `Future`, `is_finished`, dropped: see
//! [`HasSlot::release`](crate::pool::HasSlot::release)), or when it was left untouched
//! ([`LEND_GRACE`]). A reader that finds the worker dead fails the task with
//! [`Error::WorkerDied`](crate::Error::WorkerDied) (or `Cancelled` after `terminate`) and hands the
//! worker to its supervisor to replace (`Dead`). The supervisor's side is in `park.rs`.
//!
//! Nobody ever abandons half a message: a waiter with a timeout only starts reading once the
//! answer has begun to arrive, and then reads it whole, with the same pid-checked reads as the
//! supervisor.

mod frame;
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
    Taken,
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
        let idle = state
            .lines
            .iter()
            .position(|d| matches!(d.line, Line::Idle(_)) && d.lent_done < d.room);
        let (Some(line), true) = (idle, open && state.broken.is_none()) else {
            return Err(arg);
        };
        let desk = &mut state.lines[line];
        let Line::Idle(mut worker) = std::mem::take(&mut desk.line) else {
            unreachable!("found idle just above");
        };
        desk.line = Line::Taken;
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
        // Never sent again once delivered: if the worker dies, this task is the one it ran.
        // Once sent, the frame's buffer goes back to the line, for its next lent task.
        let (frame, kept) = if sent {
            (Vec::new(), frame)
        } else {
            (frame, Vec::new())
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
    let busy = !state.queue.is_empty() || state.closing || state.cancelled;
    let desk = &mut state.lines[line];
    let dead = matches!(now, Line::Dead(_));
    desk.line = now;
    if desk.wanted || (desk.parked && (busy || dead)) {
        desk.parked = false;
        shared.nudge[line].notify_one();
    }
}
