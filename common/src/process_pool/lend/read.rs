//! The reading half of lending the line (see `lend.rs`): a lent task's `wait` reads its own
//! answer; whoever reads a lent line delivers what it read and puts the line back.

use super::super::job::{Answer, Job};
use super::super::link::{FromWorker, WATCH};
use super::super::spawn::Worker;
use super::super::{Shared, EXIT_GRACE};
use super::{put_back, Line, Ticket};
use crate::pool::{HasSlot, Slot};
use crate::Error;
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A submitted task whose answer its caller may read itself (see the module comment).
pub(super) struct LentTask<R> {
    slot: Arc<Slot<R>>,
    ticket: Ticket,
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
            Err(Error::Timeout(_)) => Err(Error::Timeout(
                timeout.expect("only a wait with a limit times out"),
            )),
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
            if desk.parked {
                desk.parked = false;
                shared.nudge[*line].notify_one();
            }
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
fn deliver(
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
    // A dead worker wakes its supervisor, to be replaced.
    put_back(shared, &mut shared.state(), line, now);
}
