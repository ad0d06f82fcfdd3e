//! A batch's way back: its results, and the sink a pool delivers them to; how `map` cuts items
//! into batches and joins their results in order.

use crate::feed::Fed;
use crate::handle::{CancelToken, Slot};
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
    /// One batch of a map, items `first..first + len`; the flag, shared by every batch of that
    /// map, cancels them all. The sender is taken when the batch is answered: a sink dropped
    /// with it still there answers `Cancelled` for its items, so a map's stream always hears
    /// from every batch it dispatched (see `feed.rs`: its own sender keeps the channel open).
    Channel {
        to: Option<Sender<BatchResult<R>>>,
        cancel: Arc<AtomicBool>,
        first: usize,
        len: usize,
    },
    Slot(Arc<Slot<R>>),
}

impl<R> SinkTo<R> {
    /// The sink of one batch of a map (see [`SinkTo::Channel`]).
    pub(crate) fn channel(
        to: Sender<BatchResult<R>>,
        cancel: &Arc<AtomicBool>,
        first: usize,
        len: usize,
    ) -> SinkTo<R> {
        SinkTo::Channel {
            to: Some(to),
            cancel: Arc::clone(cancel),
            first,
            len,
        }
    }
}

impl<R> Sink<R> {
    /// Delivers the batch's results. A receiver that is gone (a dropped handle, an abandoned
    /// iterator) simply does not want them.
    pub fn send(mut self, batch: BatchResult<R>) {
        match &mut self.0 {
            SinkTo::Channel { to, .. } => {
                if let Some(to) = to.take() {
                    let _ = to.send(batch);
                }
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
            SinkTo::Channel { cancel, .. } => !cancel.load(Acquire),
            SinkTo::Slot(slot) => slot.try_start(),
        }
    }

    /// Whether the batch was cancelled. Unlike [`Sink::try_start`] it claims nothing: a pool
    /// may use it to skip a cancelled batch early.
    pub fn is_cancelled(&self) -> bool {
        match &self.0 {
            SinkTo::Channel { cancel, .. } => cancel.load(Acquire),
            SinkTo::Slot(slot) => slot.is_cancelled(),
        }
    }
}

impl<R: Send + 'static> Sink<R> {
    /// The batch's cancellation state as a cheap, cloneable value that is not generic, for a
    /// pool whose queue holds type-erased jobs: ask it instead of the sink.
    pub fn cancel_token(&self) -> CancelToken {
        match &self.0 {
            SinkTo::Channel { cancel, .. } => CancelToken::flag(Arc::clone(cancel)),
            SinkTo::Slot(slot) => CancelToken::task(Arc::clone(slot)),
        }
    }
}

impl<R> Drop for Sink<R> {
    fn drop(&mut self) {
        match &mut self.0 {
            SinkTo::Slot(slot) => slot.abandon(), // no effect if the result was sent
            SinkTo::Channel { to, first, len, .. } => {
                // Unanswered (a pool terminated, or one that dropped a cancelled batch): its
                // items are cancelled, and the stream that waits for them hears so.
                if let Some(to) = to.take() {
                    let _ = to.send(BatchResult::failed(*first, *len, &Error::Cancelled));
                }
            }
        }
    }
}

/// The index of each batch's first item.
pub(crate) fn firsts(sizes: &[usize]) -> impl Iterator<Item = usize> + '_ {
    sizes.iter().scan(0, |first, size| {
        let this = *first;
        *first += size;
        Some(this)
    })
}

/// Feeds a map to its end and joins its results in item order: batches come back in any
/// order, are kept until every batch before them is in, and the input is pulled as they land.
///
/// # Errors
/// The first failed item's error, after every item has run; [`Error::Cancelled`] for items
/// the pool will never run (it was terminated); `Error::Timeout(limit)` if the
/// `(deadline, limit)` passed first.
pub(crate) fn collect_in_order<R>(
    feed: &mut Fed<'_>,
    results: &Receiver<BatchResult<R>>,
    deadline: Option<(Instant, Duration)>,
) -> Result<Vec<R>, Error> {
    let mut out = Vec::new();
    let mut early: BTreeMap<usize, Results<R>> = BTreeMap::new();
    let mut failed: Option<Error> = None;
    while feed.in_flight() > 0 {
        let batch = match deadline {
            // The feed keeps a sender, and every batch it dispatched answers once (a dropped
            // sink answers `Cancelled`): this ends.
            None => results.recv().map_err(|_| Error::Cancelled),
            Some((deadline, limit)) => results.recv_deadline(deadline).map_err(|e| match e {
                crossbeam_channel::RecvTimeoutError::Timeout => Error::Timeout(limit),
                crossbeam_channel::RecvTimeoutError::Disconnected => Error::Cancelled,
            }),
        }?;
        feed.landed();
        // Every item runs, even after one failed (the contract of `map`).
        feed.top_up();
        early.insert(batch.first, batch.results);
        // Append every batch that is next in item order.
        while let Some(entry) = early.first_entry() {
            if *entry.key() != out.len() || failed.is_some() {
                break;
            }
            match entry.remove() {
                Results::Values(mut values) => out.append(&mut values),
                Results::Each(each) => {
                    for result in each {
                        match result {
                            Ok(value) => out.push(value),
                            Err(error) => {
                                failed = Some(error);
                                break;
                            }
                        }
                    }
                }
            }
        }
        if failed.is_some() {
            // Later batches need not be kept: the map fails with this item's error.
            early.clear();
        }
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(out),
    }
}
