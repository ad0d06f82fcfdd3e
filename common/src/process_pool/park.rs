//! The supervisor's side of lending the line (see `lend.rs`): with nothing to do, it parks its
//! worker where a caller can borrow it, and takes it back when it has work, when the pool
//! closes or is terminated, or when a lent task's answer is left for it to read.

use super::lend::{Line, LEND_GRACE};
use super::spawn::Worker;
use super::supervisor::Supervisor;
use super::{Shared, State, IDLE_CHECK};
use std::sync::Arc;
use std::time::Instant;

/// How a parked supervisor got its worker back.
pub(super) enum Parked {
    /// Alive, as far as anyone knows; a lent task it reclaimed is now in flight.
    Back(Worker),
    /// Dead (a caller's read or write found it so, or the idle check did): replace it.
    Dead(Worker),
}

impl Supervisor {
    /// Parks `worker` on the line, idle, and sleeps until there is a reason to take it back.
    ///
    /// Reclaimed at once: with work queued, or the pool closing or terminated. A lent task
    /// goes in flight, so that its answer is read in order before anything else is sent. Every
    /// [`IDLE_CHECK`] it checks that an idle worker still lives, in place.
    pub(super) fn park(&mut self, worker: Worker) -> Parked {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.state();
        let room = shared
            .max_tasks
            .map_or(usize::MAX, |max| max.saturating_sub(self.finished));
        let desk = &mut state.lines[self.index];
        desk.line = Line::Idle(worker);
        desk.room = room;
        desk.lent_done = 0;
        loop {
            let busy = state.cancelled || state.closing || state.has_work(self.index);
            let desk = &mut state.lines[self.index];
            let ripe = match &desk.line {
                Line::Lent { since, .. } => desk.handed_over || since.elapsed() >= LEND_GRACE,
                _ => false,
            };
            match std::mem::take(&mut desk.line) {
                Line::Dead(worker) => {
                    self.finished += desk.lent_done;
                    return Parked::Dead(worker);
                }
                Line::Idle(worker) if busy => {
                    self.finished += desk.lent_done;
                    return Parked::Back(worker);
                }
                Line::Lent { worker, job, since } if busy || ripe => {
                    self.finished += desk.lent_done;
                    self.in_flight.push_back(job);
                    // It has run since it was written (its worker was idle).
                    self.running_since = Some(since);
                    return Parked::Back(worker);
                }
                Line::Held if busy => {
                    desk.line = Line::Held;
                    // A caller holds the worker, to write or read: wait for it to come back.
                    // A nudge for queued work may have reached this one while its line was held:
                    // pass it on, since this one cannot feed its worker until then.
                    if !state.queue.is_empty() {
                        nudge_one(&shared, &mut state);
                    }
                    state.lines[self.index].wanted = true;
                    state = shared.nudge[self.index]
                        .wait_timeout(state, IDLE_CHECK)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    state.lines[self.index].wanted = false;
                    continue;
                }
                other => desk.line = other,
            }
            // Sleep until woken, until a lent task's grace is over, or until the idle check.
            let limit = match &state.lines[self.index].line {
                Line::Lent { since, .. } => (*since + LEND_GRACE)
                    .saturating_duration_since(Instant::now())
                    .min(IDLE_CHECK),
                _ => IDLE_CHECK,
            };
            state.lines[self.index].parked = true;
            let (guard, waited) = shared.nudge[self.index]
                .wait_timeout(state, limit)
                .unwrap_or_else(|p| p.into_inner());
            state = guard;
            state.lines[self.index].parked = false;
            if waited.timed_out() {
                if let Line::Idle(worker) = &mut state.lines[self.index].line {
                    if !matches!(worker.child.try_wait(), Ok(None)) {
                        let desk = &mut state.lines[self.index];
                        let Line::Idle(worker) = std::mem::take(&mut desk.line) else {
                            unreachable!("matched just above");
                        };
                        self.finished += desk.lent_done;
                        return Parked::Dead(worker);
                    }
                }
            }
        }
    }
}

/// Wakes one parked supervisor whose worker can take work now (its line idle, or lent and
/// so to be reclaimed), if any: for a batch just queued. Each supervisor sleeps on its own
/// condition variable, so a wake-up reaches one that can use it, and nobody else.
pub(super) fn nudge_one(shared: &Shared, state: &mut State) {
    if let Some(index) = choose_one(state) {
        shared.nudge[index].notify_one();
    }
}

/// The supervisor [`nudge_one`] would wake, marked as woken: the caller wakes it (after letting
/// go of the lock, so that it does not wake only to wait for the lock).
pub(super) fn choose_one(state: &mut State) -> Option<usize> {
    let free = state
        .lines
        .iter()
        .position(|d| d.parked && matches!(d.line, Line::Idle(_) | Line::Lent { .. }))?;
    state.lines[free].parked = false;
    Some(free)
}

/// Wakes every supervisor, parked or waiting for its line: the pool closes or is terminated.
pub(super) fn nudge_all(shared: &Shared) {
    shared.wake.notify_all(); // those waiting to start a worker again
    shared
        .nudge
        .iter()
        .for_each(|supervisor| supervisor.notify_one());
}
