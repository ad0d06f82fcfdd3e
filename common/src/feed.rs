//! Lazy, bounded input: items are pulled from the caller's iterator only as batches drain.
//!
//! Why. A map that collects its input first cannot take an endless iterator (it never
//! returns), and holds all of a large input at once: 1 GiB made lazily as 64 KiB buffers raised
//! the caller's peak memory by 1,024 MiB through a `ThreadPool` and 1,225 MiB through a
//! `ProcessPool`. Python met the same trap and fixed it the same way (`Executor.map(buffersize=)`
//! in 3.14, `Pool.imap(buffersize=)`; joblib's `pre_dispatch`). Here a [`Feed`] keeps at most
//! `window` batches in flight: it cuts the next batch from the input and dispatches it each time
//! one comes back, so memory follows the window, and the iterator is pulled no further than
//! the window ahead of what was read.
//!
//! Batch sizes ([`Sizes`]): `Chunk::Size(n)` is `n`. `Chunk::Auto` on an input whose length the
//! iterator states exactly (a `Vec`, a range, a `map` over them) is the decreasing batches of
//! [`Chunk::batches_for`], as before, capped at [`UNKNOWN_CAP`] items for a stream (so that its
//! window bounds its memory); on an input of unknown length (a `filter`, an endless iterator,
//! `from_fn`) it starts with one item, so the first result comes at once, and doubles with each
//! batch up to [`UNKNOWN_CAP`] items, which make a message cheap beside tiny tasks while a slow
//! task's batch stays short.

use crate::batch::{BatchResult, Sink, SinkTo};
use crate::pool::{Pool, Task};
use crate::{Chunk, Error};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The most items an `Auto` batch takes from an input of unknown length.
pub(crate) const UNKNOWN_CAP: usize = 64;

/// Batches in flight by default, per worker: enough that a worker finds its next batch queued
/// when it finishes one (the caller refills as results come back), few enough that memory
/// follows the window. Python's `buffersize` has no default (unbounded); joblib's
/// `pre_dispatch` is `2 * n_jobs`.
pub(crate) const WINDOW_PER_WORKER: usize = 4;

/// The sizes of the batches, in item order, as they are cut.
pub(crate) enum Sizes {
    /// `Size(n)`.
    Fixed(usize),
    /// `Auto` on an input of known length: guided self-scheduling (`chunk.rs`).
    Guided(crate::chunk::Guided),
    /// `Auto` on an input of unknown length: 1, 2, 4, ... up to [`UNKNOWN_CAP`].
    Doubling(usize),
}

/// Whose batches: a map that returns every result at once, or a stream read as it goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Reader {
    /// `map`, `map_timeout`: its output is all kept anyway, so batches are as big as Python's.
    Map,
    /// `map_iter`, `map_unordered`: no batch above [`UNKNOWN_CAP`] items, so that the window
    /// bounds what is held (16,384 items of 64 KiB cut as `map` would cut them are 128 MiB a
    /// batch).
    Stream,
}

impl Sizes {
    /// The sizes for `chunk` over an input whose size hint is `hint`, on `workers` workers.
    ///
    /// # Errors
    /// [`Error::ZeroChunk`] for `Chunk::Size(0)`.
    pub(crate) fn new(
        chunk: Chunk,
        hint: (usize, Option<usize>),
        workers: usize,
        reader: Reader,
    ) -> Result<Sizes, Error> {
        let exact = match hint {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        };
        let max = match reader {
            Reader::Map => usize::MAX,
            Reader::Stream => UNKNOWN_CAP,
        };
        Ok(match (chunk, exact) {
            (Chunk::Size(0), _) => return Err(Error::ZeroChunk),
            (Chunk::Size(n), _) => Sizes::Fixed(n),
            (Chunk::Auto, Some(len)) => Sizes::Guided(crate::chunk::Guided::new(len, workers, max)),
            (Chunk::Auto, None) => Sizes::Doubling(1),
        })
    }

    /// The size of the next batch (a guided plan that ran out, because the iterator stated
    /// less than it holds, goes on one item at a time).
    pub(crate) fn next(&mut self) -> usize {
        match self {
            Sizes::Fixed(n) => *n,
            Sizes::Guided(plan) => plan.next().unwrap_or(1),
            Sizes::Doubling(n) => {
                let size = *n;
                *n = (*n * 2).min(UNKNOWN_CAP);
                size
            }
        }
    }
}

/// What a stream of results needs from its feed, with the item type and the iterator erased.
pub(crate) trait Refill {
    /// Dispatches batches until `window` are in flight or the input is exhausted.
    fn top_up(&mut self);
    /// A batch left the window: it came back (`map`, `Unordered`), or its turn to be read
    /// came (`MapIter`, which keeps batches that arrive early in the window).
    fn landed(&mut self);
    /// Batches in flight.
    fn in_flight(&self) -> usize;
    /// Changes how many batches may be in flight; raising it dispatches more at once.
    fn set_window(&mut self, window: usize);
}

/// Cuts batches from `items` and dispatches them on `pool`, at most `window` in flight.
pub(crate) struct Feed<'a, P: ?Sized, A, R, I> {
    pool: &'a P,
    f: fn(A) -> R,
    items: I,
    sizes: Sizes,
    /// The index of the next item to cut.
    next: usize,
    in_flight: usize,
    window: usize,
    exhausted: bool,
    to: Sender<BatchResult<R>>,
    cancel: Arc<AtomicBool>,
}

impl<'a, P: Pool + ?Sized, A: Task, R: Task, I: Iterator<Item = A>> Feed<'a, P, A, R, I> {
    /// A feed, and where its batches' results arrive. Nothing is pulled yet.
    pub(crate) fn new(
        pool: &'a P,
        f: fn(A) -> R,
        items: I,
        sizes: Sizes,
        cancel: Arc<AtomicBool>,
    ) -> (Self, Receiver<BatchResult<R>>) {
        let (to, results) = crossbeam_channel::unbounded();
        let window = WINDOW_PER_WORKER * pool.workers().max(1);
        let feed = Feed {
            pool,
            f,
            items,
            sizes,
            next: 0,
            in_flight: 0,
            window,
            exhausted: false,
            to,
            cancel,
        };
        (feed, results)
    }

    /// Cuts the next batch; `None` once the input is exhausted.
    fn cut(&mut self) -> Option<(usize, Vec<A>)> {
        if self.exhausted {
            return None;
        }
        let size = self.sizes.next();
        let batch: Vec<A> = self.items.by_ref().take(size).collect();
        if batch.len() < size {
            self.exhausted = true;
        }
        if batch.is_empty() {
            return None;
        }
        let first = self.next;
        self.next += batch.len();
        Some((first, batch))
    }
}

impl<P: Pool + ?Sized, A: Task, R: Task, I: Iterator<Item = A>> Refill for Feed<'_, P, A, R, I> {
    fn top_up(&mut self) {
        // Nobody reads past a cancel (the stream was dropped, or the deadline passed).
        while self.in_flight < self.window
            && !self.cancel.load(std::sync::atomic::Ordering::Acquire)
        {
            let Some((first, batch)) = self.cut() else {
                return;
            };
            self.in_flight += 1;
            let to = SinkTo::channel(self.to.clone(), &self.cancel, first, batch.len());
            self.pool.dispatch(self.f, first, batch, Sink(to));
        }
    }

    fn landed(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn set_window(&mut self, window: usize) {
        self.window = window.max(1);
        self.top_up();
    }
}

/// A feed with its types erased, for the streams ([`crate::MapIter`], [`crate::Unordered`]).
pub(crate) type Fed<'a> = Box<dyn Refill + 'a>;

/// Starts feeding `items` to `pool` in batches cut by `chunk`: the first window is dispatched
/// before this returns.
///
/// # Errors
/// [`Error::ZeroChunk`].
pub(crate) fn start<'a, P, A, R, I>(
    pool: &'a P,
    f: fn(A) -> R,
    items: I,
    chunk: Chunk,
    reader: Reader,
    cancel: Arc<AtomicBool>,
) -> Result<(Fed<'a>, Receiver<BatchResult<R>>), Error>
where
    P: Pool + ?Sized,
    A: Task,
    R: Task,
    I: IntoIterator<Item = A>,
    I::IntoIter: 'a,
{
    let items = items.into_iter();
    let sizes = Sizes::new(chunk, items.size_hint(), pool.workers(), reader)?;
    let (mut feed, results) = Feed::new(pool, f, items, sizes, cancel);
    feed.top_up();
    Ok((Box::new(feed), results))
}

/// What a streaming reader holds: the feed, its results, and the flag that dropping the reader
/// sets.
pub(crate) type Stream<'a, R> = (Fed<'a>, Receiver<BatchResult<R>>, Arc<AtomicBool>);

/// [`start`] for a streaming reader (`map_iter`, `map_unordered`), with its own cancel flag.
///
/// # Errors
/// [`Error::ZeroChunk`].
pub(crate) fn stream<'a, P, A, R, I>(
    pool: &'a P,
    f: fn(A) -> R,
    items: I,
    chunk: Chunk,
) -> Result<Stream<'a, R>, Error>
where
    P: Pool + ?Sized,
    A: Task,
    R: Task,
    I: IntoIterator<Item = A>,
    I::IntoIter: 'a,
{
    let cancel = Arc::new(AtomicBool::new(false));
    let (feed, results) = start(pool, f, items, chunk, Reader::Stream, Arc::clone(&cancel))?;
    Ok((feed, results, cancel))
}

/// `map` (with a deadline: `map_timeout`) over a feed: results in item order, the input pulled
/// as batches come back (see [`crate::batch::collect_in_order`] for the errors).
///
/// # Errors
/// As [`crate::Pool::map`] and [`crate::Pool::map_timeout`].
pub(crate) fn map<'a, P, A, R, I>(
    pool: &'a P,
    f: fn(A) -> R,
    items: I,
    chunk: Chunk,
    deadline: Option<(std::time::Instant, std::time::Duration)>,
) -> Result<Vec<R>, Error>
where
    P: Pool + ?Sized,
    A: Task,
    R: Task,
    I: IntoIterator<Item = A>,
    I::IntoIter: 'a,
{
    let cancel = Arc::new(AtomicBool::new(false));
    let (mut feed, results) = start(pool, f, items, chunk, Reader::Map, Arc::clone(&cancel))?;
    let out = crate::batch::collect_in_order(&mut feed, &results, deadline);
    if let Err(Error::Timeout(_)) = out {
        // Batches still queued see the flag before they start, and never run; the feed pulls
        // nothing more.
        cancel.store(true, std::sync::atomic::Ordering::Release);
    }
    out
}
