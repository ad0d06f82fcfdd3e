//! Results in completion order, from [`crate::Pool::map_unordered`].

use crate::batch::BatchResult;
use crate::Error;
use crossbeam_channel::Receiver;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Release};
use std::sync::Arc;

/// Results in completion order, from [`Pool::map_unordered`](crate::Pool::map_unordered): `(item index, result)`.
///
/// Every item is yielded exactly once, with its value or its error. Dropping it before the end
/// cancels the batches that have not started, as dropping a [`crate::MapIter`] does.
#[derive(Debug)]
#[must_use = "results arrive only as the stream is iterated; dropping it cancels what has not started"]
pub struct Unordered<R> {
    pub(crate) results: Receiver<BatchResult<R>>,
    /// Cancels every batch not yet started (the flag `send_batches` gave every batch's sink);
    /// set when the stream is dropped.
    pub(crate) cancel: Arc<AtomicBool>,
    /// Batches not yet answered, `first -> len`.
    pub(crate) pending: BTreeMap<usize, usize>,
    pub(crate) ready: VecDeque<(usize, Result<R, Error>)>,
}

impl<R> Iterator for Unordered<R> {
    type Item = (usize, Result<R, Error>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        if self.pending.is_empty() {
            return None;
        }
        match self.results.recv() {
            Ok(batch) => {
                self.pending.remove(&batch.first);
                self.ready
                    .extend((batch.first..).zip(batch.results.into_vec()));
            }
            Err(_) => {
                // The pool was terminated: whatever is still pending will never run.
                for (first, len) in std::mem::take(&mut self.pending) {
                    self.ready
                        .extend((first..first + len).map(|i| (i, Err(Error::Cancelled))));
                }
            }
        }
        self.next()
    }
}

impl<R> Drop for Unordered<R> {
    fn drop(&mut self) {
        // Nobody will read what is still to come: batches not yet started need not run.
        self.cancel.store(true, Release);
    }
}
