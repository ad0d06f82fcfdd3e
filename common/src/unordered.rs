//! Results in completion order, from [`crate::Pool::map_unordered`].

use crate::batch::BatchResult;
use crate::feed::{self, Fed};
use crate::pool::{Pool, Task};
use crate::{Chunk, Error};
use crossbeam_channel::Receiver;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::Release};
use std::sync::Arc;

/// Results in completion order, from [`Pool::map_unordered`](crate::Pool::map_unordered): `(item index, result)`.
///
/// Every item is yielded exactly once, with its value or its error. Like a
/// [`MapIter`](crate::iter::MapIter) it borrows its pool and pulls its input lazily, at most
/// [`Unordered::in_flight`] batches ahead; dropping it stops pulling and cancels the batches
/// that have not started.
#[must_use = "results arrive only as the stream is iterated; dropping it cancels what has not started"]
pub struct Unordered<'a, R> {
    feed: Fed<'a>,
    results: Receiver<BatchResult<R>>,
    /// Cancels every batch not yet started; set when the stream is dropped.
    cancel: Arc<AtomicBool>,
    ready: VecDeque<(usize, Result<R, Error>)>,
}

impl<R> std::fmt::Debug for Unordered<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unordered")
            .field("in_flight", &self.feed.in_flight())
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl<'a, R: Task> Unordered<'a, R> {
    /// Starts feeding `items` in batches cut by `chunk`.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`].
    pub(crate) fn start<P, A, I>(
        pool: &'a P,
        f: fn(A) -> R,
        items: I,
        chunk: Chunk,
    ) -> Result<Unordered<'a, R>, Error>
    where
        P: Pool + ?Sized,
        A: Task,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        let (feed, results, cancel) = feed::stream(pool, f, items, chunk)?;
        Ok(Unordered {
            feed,
            results,
            cancel,
            ready: VecDeque::new(),
        })
    }
}

impl<R> Unordered<'_, R> {
    /// Keeps at most `batches` batches in flight (at least 1), from now on: Python's
    /// `buffersize` (see [`MapIter::in_flight`](crate::iter::MapIter::in_flight)).
    pub fn in_flight(mut self, batches: usize) -> Self {
        self.feed.set_window(batches);
        self
    }
}

impl<R> Iterator for Unordered<'_, R> {
    type Item = (usize, Result<R, Error>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.feed.in_flight() == 0 {
                return None; // the input is exhausted, and every batch was yielded
            }
            // Every batch the feed dispatched answers once (see `MapIter::next`).
            let batch = self.results.recv().ok()?;
            self.feed.landed();
            self.feed.top_up();
            self.ready
                .extend((batch.first..).zip(batch.results.into_vec()));
        }
    }
}

impl<R> Drop for Unordered<'_, R> {
    fn drop(&mut self) {
        // Nobody will read what is still to come: batches not yet started need not run, and
        // the feed pulls nothing more.
        self.cancel.store(true, Release);
    }
}
