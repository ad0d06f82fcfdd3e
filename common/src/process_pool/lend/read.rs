//! The reading half of lending the line (see `lend.rs`): a lent task's `wait` reads its own
//! answer; whoever reads a lent line delivers what it read and puts the line back.

use super::super::job::{Answer, Job};
use super::super::link::FromWorker;
use super::super::spawn::{watch, Worker};
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
        // A limit too far to name (`Duration::MAX`) is no limit.
        let deadline = timeout.and_then(crate::handle::deadline_after);
        if !self.slot.settled.load(Acquire) && !self.released.load(Relaxed) {
            let _ = read_lent(&self.ticket, deadline);
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

    /// Reads the answer if it is all in already, without waiting: a finished task's
    /// `is_finished` is then true at once, though nobody had read its line yet.
    ///
    /// If another thread is reading this task's answer at this moment (the supervisor took it
    /// over, or another thread asked), waits for it at most [`READER_GRACE`]: once the answer
    /// is in, reading and delivering it is work for the CPU, not a wait for the worker.
    fn settle_now(&self) {
        if self.slot.settled.load(Acquire) {
            return;
        }
        if read_lent(&self.ticket, Some(Instant::now())) == Read::Elsewhere {
            self.slot.settles_within(READER_GRACE);
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
/// the line, reads the answer (or what of it arrives before `deadline`), and puts the line back:
/// `Idle` with the answer delivered, `Lent` with what was read kept on the line for the next
/// reader (`link/receive.rs`), or `Dead`. Otherwise returns: the supervisor reads it (or did).
fn read_lent(ticket: &Ticket, deadline: Option<Instant>) -> Read {
    let Ticket { shared, line, id } = ticket;
    let mut state = shared.state();
    let desk = &mut state.lines[*line];
    if desk.ticket != *id {
        return Read::Done; // lent again since: this task's answer was delivered
    }
    if !matches!(desk.line, Line::Lent { .. }) {
        // Its task is current and not on the line, and a delivered task leaves it `Idle` or
        // `Dead` with its slot settled: someone holds the line to read it.
        return match desk.line {
            Line::Busy | Line::Held => Read::Elsewhere,
            _ => Read::Done,
        };
    }
    let Line::Lent {
        mut worker,
        mut job,
        since,
    } = std::mem::replace(&mut desk.line, Line::Held)
    else {
        unreachable!("matched just above");
    };
    drop(state);
    // The pool's limit for this task, if it has one: it has run since it was written (its
    // worker was idle). The read stops there too, and then, unless the answer has begun,
    // the worker is killed and the task fails as timed out.
    let limit = shared.task_timeout;
    let due = limit.and_then(|limit| since.checked_add(limit));
    let until = match (deadline, due) {
        (Some(deadline), Some(due)) => Some(deadline.min(due)),
        (deadline, due) => deadline.or(due),
    };
    let answer = loop {
        let answer = match until {
            None => worker.receive().map(Some),
            Some(until) => {
                let Worker { child, link } = &mut worker;
                link.receive_until(until, &mut || watch(child))
            }
        };
        match answer {
            // Said as the worker begins it (with retries): read on, for the answer.
            Ok(Some(FromWorker::Started)) => job.started = true,
            other => break other,
        }
    };
    let past_due = due.is_some_and(|due| Instant::now() >= due);
    match (answer, limit) {
        (Ok(Some(answer)), _) => deliver(shared, *line, worker, job, Ok(answer)),
        (Ok(None), Some(limit)) if past_due && !worker.link.has_partial() => {
            let _ = worker.child.kill();
            job.fail(Error::TaskTimedOut { limit });
            // Its supervisor replaces the worker.
            put_back(shared, &mut shared.state(), *line, Line::Dead(worker));
        }
        (Ok(None), _) => {
            let mut state = shared.state();
            put_back(shared, &mut state, *line, Line::Lent { worker, job, since });
            return Read::Later;
        }
        (Err(e), _) => deliver(shared, *line, worker, job, Err(e)),
    }
    Read::Done
}

/// What [`read_lent`] found.
#[derive(PartialEq, Eq, Debug)]
enum Read {
    /// The answer is delivered (by this call or an earlier reader), or the task failed.
    Done,
    /// Not all of the answer came before the deadline; what came is kept on the line.
    Later,
    /// Another thread holds the line to read this task's answer.
    Elsewhere,
}

/// How long `is_finished` waits for another thread that is reading its task's answer (see
/// `settle_now`): far longer than reading an answer that is in takes, even on a loaded machine,
/// and short enough that a check never stalls a polling loop.
const READER_GRACE: Duration = Duration::from_millis(20);

/// Delivers what a reader read from a lent line, and puts the line back: `Idle` after an
/// answer, `Dead` (for the supervisor to replace) after anything else. A task whose worker
/// died goes back to the queue while it has retries left (`retries`).
fn deliver(
    shared: &Shared,
    line: usize,
    mut worker: Worker,
    mut job: Job,
    answer: std::io::Result<FromWorker>,
) {
    let pid = worker.child.pid();
    let now = match answer {
        Ok(FromWorker::Done { start, end, output }) => {
            shared
                .timeline
                .record(line, pid, job.first, job.len, start, end);
            // Decoding runs the result's `Deserialize`, user code: `done` catches its panic
            // (see `Job::framed`), so the line always goes back.
            (job.done)(Answer::Output(output));
            let mut state = shared.state();
            state.lines[line].lent_done += 1;
            put_back(shared, &mut state, line, Line::Idle(worker));
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
            let mut state = shared.state();
            if state.cancelled {
                drop(state);
                job.fail(Error::Cancelled);
                return put_back(shared, &mut shared.state(), line, Line::Dead(worker));
            }
            // A task its worker never began (it says so, with retries) costs no attempt.
            if !job.blame(shared.retries) || job.deaths <= shared.retries {
                // Sent again first, by whichever supervisor takes it (its frame was kept).
                state.queue.push_front(job);
                put_back(shared, &mut state, line, Line::Dead(worker));
                return super::super::park::nudge_one(shared, &mut state);
            }
            drop(state);
            let attempts = job.deaths;
            job.fail(Error::WorkerDied {
                pid,
                cause,
                attempts,
            });
            Line::Dead(worker)
        }
    };
    // A dead worker wakes its supervisor, to be replaced.
    put_back(shared, &mut shared.state(), line, now);
}
