//! `MapIter`: the results of [`Pool::map_iter`] in item order, each as soon as it is ready.
//!
//! Items are pulled lazily (see `feed.rs`): a bounded window of batches is in flight, and each
//! batch that comes back makes room for the next, so an endless iterator works and memory
//! follows the window. Batches come back in any order; the iterator keeps those that arrive
//! early (`early`) until every batch before them has been yielded, so a slow first item holds
//! back the rest, exactly as in Python's `imap`. For results in completion order use
//! [`Pool::map_unordered`].

use crate::feed::{self, Fed};
use crate::pool::{BatchResult, Pool, Results, Task};
use crate::{Chunk, Error};
use crossbeam_channel::Receiver;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Release};
use std::sync::Arc;

/// Results in item order from [`Pool::map_iter`]: one `Result` per item, each yielded as soon
/// as it and every item before it are done.
///
/// It borrows its pool: items are pulled from the input, and dispatched, as results are read
/// (at most [`MapIter::in_flight`] batches ahead). Dropping it stops pulling and cancels the
/// batches that have not started.
#[must_use = "results arrive only as the iterator is iterated; dropping it cancels what has not started"]
pub struct MapIter<'a, R> {
    feed: Fed<'a>,
    results: Receiver<BatchResult<R>>,
    /// Cancels every batch not yet started; set when the iterator is dropped.
    cancel: Arc<AtomicBool>,
    /// The index of the next item to yield.
    next: usize,
    /// The batch being yielded, item by item.
    current: Current<R>,
    /// Batches that arrived before their turn, by their first index.
    early: BTreeMap<usize, Results<R>>,
}

impl<R> std::fmt::Debug for MapIter<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapIter")
            .field("next", &self.next)
            .field("in_flight", &self.feed.in_flight())
            .finish_non_exhaustive()
    }
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

impl<'a, R: Task> MapIter<'a, R> {
    /// Starts feeding `items` in batches cut by `chunk`, and returns the iterator over their
    /// results.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`].
    pub(crate) fn start<P, A, I>(
        pool: &'a P,
        f: fn(A) -> R,
        items: I,
        chunk: Chunk,
    ) -> Result<MapIter<'a, R>, Error>
    where
        P: Pool + ?Sized,
        A: Task,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        let (feed, results, cancel) = feed::stream(pool, f, items, chunk)?;
        Ok(MapIter {
            feed,
            results,
            cancel,
            next: 0,
            current: Current::Values(Vec::new().into_iter()),
            early: BTreeMap::new(),
        })
    }
}

impl<R> MapIter<'_, R> {
    /// Keeps at most `batches` batches in flight (at least 1) from now on: dispatched and not
    /// yet read, Python's `buffersize`. The default is four per worker, and the first window
    /// goes out when the iterator is made, so work starts at once. More keeps every worker
    /// busy when tasks vary; fewer holds less of the input and of the results at once.
    ///
    /// ```
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(2).unwrap();
    /// // An endless input: only what the window needs is ever pulled.
    /// let squares = pool.map_iter(|n: u64| n * n, 0..).in_flight(2);
    /// assert_eq!(squares.take(4).collect::<Result<Vec<_>, _>>(), Ok(vec![0, 1, 4, 9]));
    /// ```
    pub fn in_flight(mut self, batches: usize) -> Self {
        self.feed.set_window(batches);
        self
    }
}

impl<R> Iterator for MapIter<'_, R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.current.next() {
                self.next += 1;
                return Some(result);
            }
            // The batch that starts at `next` is the one to yield now: wait until it is here.
            // A batch leaves the window when its turn comes, not when it arrives: batches that
            // arrive early wait in `early`, and count, so a slow first item cannot make the
            // feed pull without bound.
            if let Some(batch) = self.early.remove(&self.next) {
                self.current = Current::from(batch);
                self.feed.landed();
                self.feed.top_up();
                continue;
            }
            if self.feed.in_flight() == 0 {
                return None; // the input is exhausted, and every batch was yielded
            }
            // The feed keeps a sender, and every batch it dispatched answers once (a sink
            // dropped unanswered answers `Cancelled`): this returns.
            let batch = self.results.recv().ok()?;
            self.early.insert(batch.first, batch.results);
        }
    }
}

impl<R> Drop for MapIter<'_, R> {
    fn drop(&mut self) {
        // Nobody will read what is still to come: batches not yet started need not run.
        self.cancel.store(true, Release);
    }
}
