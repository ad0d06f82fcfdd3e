//! A pool that waits on itself: a task that submits to its own pool and waits never hangs.
//!
//! Python's `concurrent.futures` documents the trap: in a pool of one thread, a task that
//! submits a second task and waits for it waits for ever, because the only thread that could
//! run the second task is the one waiting. The same holds for any pool whose every thread
//! waits so; rayon's issues #592 and #1105, and aptos-core #19541, met it in production.
//!
//! There are two honest answers: run the awaited task on the waiting thread, or fail the wait
//! with an error that names the deadlock. This pool takes the first, rayon's: a worker of a
//! pool that waits on a task of the same pool which has not started yet takes the task out of
//! the queue's reach (the same claim `cancel` races against) and runs it itself, in place of
//! sleeping. Why not the error: the wait is not a mistake, only a wait in the wrong place. With
//! the error, nested work (a task that maps over its own pool, a recursive split) would fail
//! on a small pool and work on a big one, so a program's correctness would depend on the
//! machine's core count; run inline, it gives the same result on every size, and on a big pool
//! still in parallel, since an idle thread may take the task first.
//!
//! | the caller, a worker of this pool, ... | what happens |
//! |---|---|
//! | waits on a submitted task that has not started | runs it inline, then returns its result |
//! | waits on one that is running or done | waits as anyone would: it is running elsewhere |
//! | calls `map` (or any batch operation) | each batch runs inline as it is dispatched |
//!
//! Who counts as a worker: each worker thread names the pool it serves in a thread-local
//! ([`serve`], set once as the thread starts); a task names its pool by the address of the
//! pool's shared state, which lives as long as any of its threads. A task of another pool, or a
//! caller that is no worker, waits as before: nothing changes for them.
//!
//! What is not covered: `is_finished` polled in a loop, `as_completed` and `.await` from a
//! worker on its own pool's queued task still wait for a thread (there is none); a `map`'s
//! deadline is not enforced while its batches run inline. A `ProcessPool`'s workers are
//! other processes: they cannot reach their parent's pool at all.

use super::{Job, RunOnce, Shared, SingleTask, Worker};
use crate::pool::Task;
use crate::Error;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

thread_local! {
    /// The worker this thread is, if it is one of a `ThreadPool`'s threads.
    static SERVING: RefCell<Option<(usize, Arc<Shared>)>> = const { RefCell::new(None) };
}

/// The identity of the pool whose shared state this is: its address, unique while it lives.
pub(super) fn pool_id(shared: &Arc<Shared>) -> usize {
    Arc::as_ptr(shared) as usize
}

/// Marks the calling thread as worker `worker.index` of its pool (once, as the thread starts).
pub(super) fn serve(worker: &Worker) {
    let me = (worker.index, Arc::clone(&worker.shared));
    SERVING.with(|s| *s.borrow_mut() = Some(me));
}

/// The calling thread as a [`Worker`] of the pool `pool`, if it is one of that pool's threads.
pub(super) fn worker_of(pool: usize) -> Option<Worker> {
    SERVING.with(|s| {
        let serving = s.borrow();
        let (index, shared) = serving.as_ref()?;
        (pool_id(shared) == pool).then(|| Worker {
            index: *index,
            shared: Arc::clone(shared),
        })
    })
}

/// Runs `job` on the calling thread if it is a batch and the thread is a worker of the pool
/// `shared` (its caller is about to wait for it, and may be the pool's only thread); otherwise
/// gives it back, for the queue.
pub(super) fn run_batch_here(shared: &Arc<Shared>, job: Job) -> Option<Job> {
    if !matches!(job, Job::Batch(_)) {
        return Some(job);
    }
    match worker_of(pool_id(shared)) {
        Some(me) => {
            me.run(job);
            None
        }
        None => Some(job),
    }
}

impl<A: Task, R: Task> SingleTask<A, R> {
    /// A wait on this task: from a worker of its own pool, first runs it inline if it has not
    /// started (`run` does nothing if another thread took its argument first); then the slot's
    /// ordinary wait, which returns at once if the task was run here.
    pub(super) fn wait_or_help(&self, timeout: Option<Duration>) -> Result<R, Error> {
        if let Some(worker) = worker_of(self.pool) {
            if !worker
                .shared
                .cancelled
                .load(std::sync::atomic::Ordering::Acquire)
            {
                self.run(&worker);
            }
        }
        self.slot.wait(timeout)
    }
}
