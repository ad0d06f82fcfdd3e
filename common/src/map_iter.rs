//! `MapIter`: the results of [`Pool::map_iter`] in item order, each as soon as it is ready.
//!
//! Every batch is dispatched at once, as by `map`; batches come back in any order. The iterator
//! keeps those that arrive early (`early`) until every batch before them has been yielded, so a
//! slow first item holds back the rest, exactly as in Python's `imap`. For results in
//! completion order use [`Pool::map_unordered`].

use crate::pool::{send_batches, BatchResult, Pool, Results, Task};
use crate::Error;
use crossbeam_channel::Receiver;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Release};
use std::sync::Arc;

/// Results in item order from [`Pool::map_iter`]: one `Result` per item, each yielded as soon
/// as it and every item before it are done.
///
/// Dropping it before the end cancels the batches that have not started.
#[derive(Debug)]
#[must_use = "results arrive only as the iterator is iterated; dropping it cancels what has not started"]
pub struct MapIter<R> {
    results: Receiver<BatchResult<R>>,
    /// Cancels every batch not yet started; set when the iterator is dropped.
    cancel: Arc<AtomicBool>,
    /// Items in all, and the index of the next one to yield.
    len: usize,
    next: usize,
    /// The batch being yielded, item by item.
    current: Current<R>,
    /// Batches that arrived before their turn, by their first index.
    early: BTreeMap<usize, Results<R>>,
}

#[derive(Debug)]
enum Current<R> {
    Values(std::vec::IntoIter<R>),
    Each(std::vec::IntoIter<Result<R, Error>>),
}

impl<R> Current<R> {
    fn from(results: Results<R>) -> Current<R> {
        match results {
            Results::Values(v) => Current::Values(v.into_iter()),
            Results::Each(e) => Current::Each(e.into_iter()),
        }
    }

    fn next(&mut self) -> Option<Result<R, Error>> {
        match self {
            Current::Values(v) => v.next().map(Ok),
            Current::Each(e) => e.next(),
        }
    }
}

impl<R: Task> MapIter<R> {
    /// Dispatches `items` in batches of `sizes` and returns the iterator over their results.
    pub(crate) fn start<P: Pool + ?Sized, A: Task>(
        pool: &P,
        f: fn(A) -> R,
        items: Vec<A>,
        sizes: &[usize],
    ) -> MapIter<R> {
        let len = items.len();
        let (results, cancel) = send_batches(pool, f, items, sizes);
        MapIter {
            results,
            cancel,
            len,
            next: 0,
            current: Current::Values(Vec::new().into_iter()),
            early: BTreeMap::new(),
        }
    }
}

impl<R> Iterator for MapIter<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == self.len {
            return None;
        }
        loop {
            if let Some(result) = self.current.next() {
                self.next += 1;
                return Some(result);
            }
            // The batch that starts at `next` is the one to yield now: wait until it is here.
            if let Some(batch) = self.early.remove(&self.next) {
                self.current = Current::from(batch);
                continue;
            }
            match self.results.recv() {
                Ok(batch) if batch.first == self.next => {
                    self.current = Current::from(batch.results);
                }
                Ok(batch) => {
                    self.early.insert(batch.first, batch.results);
                }
                Err(_) => {
                    // Every sender was dropped unanswered: the pool was terminated, and what is
                    // still missing will never run.
                    self.next += 1;
                    return Some(Err(Error::Cancelled));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

impl<R> ExactSizeIterator for MapIter<R> {}

impl<R> Drop for MapIter<R> {
    fn drop(&mut self) {
        // Nobody will read what is still to come: batches not yet started need not run.
        self.cancel.store(true, Release);
    }
}
