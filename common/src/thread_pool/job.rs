//! The jobs a thread pool's queue carries: a batch, or a submitted task with its own slot.

use super::Worker;
use crate::pool::{HasSlot, Slot, Task};
use crate::{panics, Error};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What travels to a worker thread: a batch, or a single submitted task.
pub(super) enum Job {
    Batch(Box<dyn FnOnce(&Worker) + Send>),
    Single(Arc<dyn RunOnce>),
}

/// A submitted task: its function, its argument and its result slot in one allocation, shared
/// by the queue and the caller's handle. A task costs one allocation this way; built from the
/// generic batch machinery it cost four (argument vector, job box, result vector, slot).
pub(super) struct SingleTask<A, R> {
    pub(super) f: fn(A) -> R,
    pub(super) arg: Mutex<Option<A>>,
    pub(super) slot: Slot<R>,
    /// The pool it was submitted to (`nested::pool_id`): its workers may run it inline.
    pub(super) pool: usize,
}

pub(super) trait RunOnce: Send + Sync {
    fn run(&self, worker: &Worker);
    /// Answers the task `Cancelled` without running it (the pool was terminated).
    fn abandon(&self);
    /// Answers the task `ShutDown` without running it (it came after `shutdown`).
    fn refuse(&self);
}

impl<A: Task, R: Task> RunOnce for SingleTask<A, R> {
    fn run(&self, worker: &Worker) {
        // Taken once: the queue hands each task to exactly one worker. Taking it is also the
        // claim that `cancel` races against: a task whose argument is gone was cancelled.
        let Some(arg) = self.arg.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let start = worker.span_start();
        let result = panics::catch(|| (self.f)(arg));
        worker.record(0, 1, start);
        self.slot.fill(result);
    }

    fn abandon(&self) {
        drop(self.arg.lock().unwrap_or_else(|p| p.into_inner()).take());
        self.slot.abandon();
    }

    fn refuse(&self) {
        drop(self.arg.lock().unwrap_or_else(|p| p.into_inner()).take());
        self.slot.fill(Err(Error::ShutDown));
    }
}

impl<A: Task, R: Task> HasSlot<R> for SingleTask<A, R> {
    fn slot(&self) -> &Slot<R> {
        &self.slot
    }

    /// Whoever takes the argument first decides: `run` before it runs the task, or this.
    fn cancel(&self) -> bool {
        let arg = self.arg.lock().unwrap_or_else(|p| p.into_inner()).take();
        if arg.is_none() {
            return false; // running, done, or cancelled already
        }
        self.slot.abandon();
        true
    }

    /// From a worker of its own pool, runs the task inline if it has not started (`nested.rs`).
    fn wait(&self, timeout: Option<Duration>) -> Result<R, Error> {
        self.wait_or_help(timeout)
    }
}
