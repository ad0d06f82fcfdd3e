//! `ThreadPool`'s own `map`: batches of one shared [`InPlace`] job on the queue, and the
//! caller's wait for their answers, with its deadline.
//!
//! The contract is the generic `map`'s (`src/batch.rs`): results in item order; the error of
//! the first failed item, after every item ran; `Error::Cancelled` when the pool is
//! terminated; at a deadline, batches not started are cancelled and running ones finish in the
//! background. Only where the items and results live differs (see `in_place.rs`, with the
//! measurement that made it worth its `unsafe`).

use super::in_place::InPlace;
use super::{Job, ThreadPool, Worker};
use crate::pool::Task;
use crate::Error;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Maps `items` in batches of `sizes` and returns the results in order. `f` is a `fn(A) -> R`
/// for `map`, or an inlinable closure for `map_inline` (`src/inline.rs`).
///
/// # Errors
/// The first failed item's error (in item order); [`Error::Cancelled`] if the pool was
/// terminated; `Error::Timeout(limit)` if the `(deadline, limit)` passed first.
pub(super) fn map<A: Task, R: Task, C: Fn(A) -> R + Send + Sync + 'static>(
    pool: &ThreadPool,
    f: C,
    items: Vec<A>,
    sizes: &[usize],
    deadline: Option<(Instant, Duration)>,
) -> Result<Vec<R>, Error> {
    let bounds = crate::batch::firsts(sizes).chain([items.len()]).collect();
    let job = Arc::new(InPlace::new(f, items, bounds));
    let (all_answered, answered) = crossbeam_channel::bounded(1);
    let tally = Arc::new(Tally {
        left: AtomicUsize::new(job.batches()),
        first_failed: Mutex::new(None),
        all_answered,
    });
    for batch in 0..job.batches() {
        let (job, tally) = (Arc::clone(&job), Arc::clone(&tally));
        pool.enqueue(Job::Batch(Box::new(move |worker: &Worker| {
            if worker.shared.cancelled.load(Acquire) {
                // Terminated: the batch never runs, unless its caller cancelled it first.
                if job.cancel(batch) {
                    tally.answer(batch, Err(Error::Cancelled));
                }
                return;
            }
            let start = worker.span_start();
            // `None`: its caller cancelled it at the deadline, and is gone.
            if let Some(outcome) = job.run(batch) {
                let range = job.range(batch);
                worker.record(range.start, range.len(), start);
                tally.answer(batch, outcome);
            }
        })));
    }
    // Only the batches hold the sender now: if all are dropped unanswered, `recv` says so.
    drop(tally);
    let first_failed = match deadline {
        _ if job.batches() == 0 => Ok(None),
        None => answered.recv().map_err(|_| Error::Cancelled),
        Some((deadline, limit)) => answered.recv_deadline(deadline).map_err(|e| match e {
            RecvTimeoutError::Timeout => Error::Timeout(limit),
            RecvTimeoutError::Disconnected => Error::Cancelled,
        }),
    };
    match first_failed {
        Ok(Some(e)) => Err(e),
        // Every batch answered `Ok`, which each does only after publishing DONE.
        Ok(None) => Ok(job.take_output().expect("every batch is done")),
        Err(e) => {
            // Batches not started never will; running ones finish in the background, and
            // the job's last owner drops their results (in_place.rs, 4.).
            for batch in 0..job.batches() {
                job.cancel(batch);
            }
            Err(e)
        }
    }
}

/// The batches' answers: the caller is woken once, when the last batch has answered (a wake-up
/// per batch cost more than the work of a small map).
struct Tally {
    left: AtomicUsize,
    /// The failed batch with the lowest index, and its first error.
    first_failed: Mutex<Option<(usize, Error)>>,
    /// Carries the first failure (in item order) to the caller, if any.
    all_answered: Sender<Option<Error>>,
}

impl Tally {
    fn answer(&self, batch: usize, outcome: Result<(), Error>) {
        // The lock guards a plain swap; no code that can panic runs while it is held.
        let mut first = self.first_failed.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = outcome {
            if first.as_ref().is_none_or(|(b, _)| batch < *b) {
                *first = Some((batch, e));
            }
        }
        // Under the lock, so the last batch to answer sees every failure recorded.
        if self.left.fetch_sub(1, AcqRel) == 1 {
            let _ = self.all_answered.send(first.take().map(|(_, e)| e));
        }
    }
}
