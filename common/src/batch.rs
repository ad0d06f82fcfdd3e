//! A batch's way back: its results, and the sink a pool delivers them to; how `map` cuts items
//! into batches and joins their results in order.

use crate::handle::{CancelToken, Slot};
use crate::pool::{Pool, Task};
use crate::Error;
use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Acquire};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One batch's results, in item order, starting at item index `first`.
#[derive(Debug)]
pub struct BatchResult<R> {
    /// Index (in the caller's sequence) of the first item of the batch.
    pub first: usize,
    /// One result per item of the batch.
    pub results: Results<R>,
}

impl<R> BatchResult<R> {
    /// A batch of `len` items that all failed with `error`.
    pub fn failed(first: usize, len: usize, error: &Error) -> BatchResult<R> {
        BatchResult {
            first,
            results: Results::failed(len, error),
        }
    }
}

/// The results of one batch. Nearly every batch succeeds whole, so that case is a plain
/// `Vec<R>`: no `Result` per item to build, and `map` can append it to its output in one move.
#[derive(Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Results<R> {
    /// Every item succeeded.
    Values(Vec<R>),
    /// At least one item failed; one result per item.
    Each(Vec<Result<R, Error>>),
}

impl<R> Results<R> {
    /// `len` copies of `error`, for a batch that failed as a whole.
    pub fn failed(len: usize, error: &Error) -> Results<R> {
        Results::Each((0..len).map(|_| Err(error.clone())).collect())
    }

    /// How many items the batch had.
    pub fn len(&self) -> usize {
        match self {
            Results::Values(v) => v.len(),
            Results::Each(e) => e.len(),
        }
    }

    /// The first item's result (`None` for an empty batch).
    pub fn into_first(self) -> Option<Result<R, Error>> {
        match self {
            Results::Values(v) => v.into_iter().next().map(Ok),
            Results::Each(e) => e.into_iter().next(),
        }
    }

    /// Whether the batch had no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One `Result` per item.
    pub fn into_vec(self) -> Vec<Result<R, Error>> {
        match self {
            Results::Values(v) => v.into_iter().map(Ok).collect(),
            Results::Each(e) => e,
        }
    }
}

/// Where a pool delivers a batch's results: the channel that `map` collects from, or the
/// one-result slot behind a [`TaskHandle`](crate::TaskHandle).
///
/// Dropping a sink without sending (a pool that was terminated) wakes whoever waits on it with
/// [`Error::Cancelled`], so a waiter can never hang on a batch that nobody will answer.
///
/// # For pool implementors: cancellation
///
/// A batch can be cancelled while it waits in a pool's queue ([`TaskHandle::cancel`](crate::TaskHandle::cancel), the
/// deadline of [`Pool::map_timeout`](crate::Pool::map_timeout), a dropped [`crate::MapIter`]). A pool honours that by
/// calling [`Sink::try_start`] right before it runs the batch (or sends it to a worker
/// process): on `false` it must not run it, and drops the sink (or sends
/// [`BatchResult::failed`] with [`Error::Cancelled`]; either reaches nobody who still waits).
/// Once `try_start` has returned `true`, the batch counts as running and can no longer be
/// cancelled. A pool that keeps its jobs type-erased can take a [`CancelToken`] from the sink
/// at dispatch and ask it instead. A pool that never asks still works: a cancelled batch then
/// runs, and its result is thrown away.
#[derive(Debug)]
pub struct Sink<R>(pub(crate) SinkTo<R>);

#[derive(Debug)]
pub(crate) enum SinkTo<R> {
    /// One batch of a map; the flag, shared by every batch of that map, cancels them all.
    Channel(Sender<BatchResult<R>>, Arc<AtomicBool>),
    Slot(Arc<Slot<R>>),
}

impl<R> Sink<R> {
    /// Delivers the batch's results. A receiver that is gone (a dropped handle, an abandoned
    /// iterator) simply does not want them.
    pub fn send(self, batch: BatchResult<R>) {
        match &self.0 {
            SinkTo::Channel(channel, _) => {
                let _ = channel.send(batch);
            }
            SinkTo::Slot(slot) => {
                slot.fill(batch.results.into_first().unwrap_or(Err(Error::Cancelled)))
            }
        }
    }

    /// Claims the batch for running: `false` if it was cancelled, and then it must not run
    /// (see the type's docs). Call it once, right before running or sending the batch.
    pub fn try_start(&self) -> bool {
        match &self.0 {
            SinkTo::Channel(_, cancelled) => !cancelled.load(Acquire),
            SinkTo::Slot(slot) => slot.try_start(),
        }
    }

    /// Whether the batch was cancelled. Unlike [`Sink::try_start`] it claims nothing: a pool
    /// may use it to skip a cancelled batch early.
    pub fn is_cancelled(&self) -> bool {
        match &self.0 {
            SinkTo::Channel(_, cancelled) => cancelled.load(Acquire),
            SinkTo::Slot(slot) => slot.is_cancelled(),
        }
    }
}

impl<R: Send + 'static> Sink<R> {
    /// The batch's cancellation state as a cheap, cloneable value that is not generic, for a
    /// pool whose queue holds type-erased jobs: ask it instead of the sink.
    pub fn cancel_token(&self) -> CancelToken {
        match &self.0 {
            SinkTo::Channel(_, cancelled) => CancelToken::flag(Arc::clone(cancelled)),
            SinkTo::Slot(slot) => CancelToken::task(Arc::clone(slot)),
        }
    }
}

impl<R> Drop for Sink<R> {
    fn drop(&mut self) {
        if let SinkTo::Slot(slot) = &self.0 {
            slot.abandon(); // no effect if the result was sent
        }
    }
}

/// Cuts `items` into batches of `sizes` (from [`Chunk::batches_for`](crate::Chunk::batches_for)),
/// dispatches each, and returns where the results arrive and the flag that cancels every batch
/// not yet started.
pub(crate) fn send_batches<P: Pool + ?Sized, A: Task, R: Task>(
    pool: &P,
    f: fn(A) -> R,
    mut items: Vec<A>,
    sizes: &[usize],
) -> (Receiver<BatchResult<R>>, Arc<AtomicBool>) {
    let (sink, results) = crossbeam_channel::unbounded();
    let cancel = Arc::new(AtomicBool::new(false));
    // Cut from the back with `split_off`, which moves each tail with one memcpy; the first
    // batch keeps the caller's own buffer. (Taking items one by one cost a third of `map`.)
    let mut tails = Vec::new();
    let firsts: Vec<usize> = firsts(sizes).collect();
    for &first in firsts.iter().skip(1).rev() {
        tails.push((first, items.split_off(first)));
    }
    if !items.is_empty() {
        tails.push((0, items));
    }
    for (first, batch) in tails.into_iter().rev() {
        let to = SinkTo::Channel(sink.clone(), Arc::clone(&cancel));
        pool.dispatch(f, first, batch, Sink(to));
    }
    (results, cancel)
}

/// The index of each batch's first item.
pub(crate) fn firsts(sizes: &[usize]) -> impl Iterator<Item = usize> + '_ {
    sizes.iter().scan(0, |first, size| {
        let this = *first;
        *first += size;
        Some(this)
    })
}

/// Waits for every batch of a map and joins their results in item order.
///
/// # Errors
/// The first failed item's error; [`Error::Cancelled`] if the pool was terminated;
/// `Error::Timeout(limit)` if the `(deadline, limit)` passed first.
pub(crate) fn collect_in_order<R>(
    results: &Receiver<BatchResult<R>>,
    sizes: &[usize],
    deadline: Option<(Instant, Duration)>,
) -> Result<Vec<R>, Error> {
    // Batches come back in any order; slot each by its position, then join them in order.
    // Sizes differ (`Chunk::Auto` decreases), so the position is found among the firsts.
    let firsts: Vec<usize> = firsts(sizes).collect();
    let mut batches: Vec<Option<Results<R>>> = Vec::new();
    batches.resize_with(sizes.len(), || None);
    for _ in 0..batches.len() {
        let batch = match deadline {
            None => results.recv().map_err(|_| Error::Cancelled),
            Some((deadline, limit)) => results.recv_deadline(deadline).map_err(|e| match e {
                crossbeam_channel::RecvTimeoutError::Timeout => Error::Timeout(limit),
                crossbeam_channel::RecvTimeoutError::Disconnected => Error::Cancelled,
            }),
        };
        // Disconnected: every sender was dropped unanswered, the pool was terminated.
        let batch = batch?;
        // A pool answers each batch it was given, with the `first` it was given.
        let position = firsts.binary_search(&batch.first);
        let position = position.expect("a pool answers a batch with the first it was given");
        batches[position] = Some(batch.results);
    }
    let mut out = Vec::with_capacity(sizes.iter().sum());
    for batch in batches.into_iter().flatten() {
        match batch {
            Results::Values(mut values) => out.append(&mut values),
            Results::Each(each) => {
                for result in each {
                    out.push(result?);
                }
            }
        }
    }
    Ok(out)
}

/// `first -> len` of every batch that `send_batches` will send.
pub(crate) fn batch_ranges(sizes: &[usize]) -> BTreeMap<usize, usize> {
    firsts(sizes).zip(sizes.iter().copied()).collect()
}
