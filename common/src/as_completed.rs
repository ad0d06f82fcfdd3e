//! `as_completed`: wait on many task handles at once, and take each result as it comes.
//!
//! Python's `concurrent.futures.as_completed(fs, timeout)` and `wait(fs, FIRST_COMPLETED)`.
//! No thread polls: each handle is registered once, as a `Future`, with a waker that sends the
//! handle's index on one shared channel when its result is in. `next` sleeps on that channel,
//! so a thousand pending handles cost a thousand wakers and no CPU.

use crate::{Error, TaskHandle};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Yields each handle's `(index, result)` as its task finishes, fastest first; `index` is the
/// handle's position in the input. Every handle is yielded exactly once.
///
/// ```
/// use common::{as_completed, Pool, ThreadPool};
/// use std::time::Duration;
/// let pool = ThreadPool::new(2).unwrap();
/// let nap = |ms: u64| {
///     std::thread::sleep(Duration::from_millis(ms));
///     ms
/// };
/// let handles = vec![pool.submit(nap, 300), pool.submit(nap, 1)];
/// let mut order: Vec<usize> = as_completed(handles).map(|(index, _)| index).collect();
/// println!("finished in this order: {order:?}"); // most likely [1, 0]: the short nap first
/// order.sort();
/// assert_eq!(order, vec![0, 1]); // each handle exactly once
/// ```
pub fn as_completed<R>(handles: impl IntoIterator<Item = TaskHandle<R>>) -> AsCompleted<R> {
    let (wake_tx, woken) = crossbeam_channel::unbounded();
    let mut all = AsCompleted {
        handles: Vec::new(),
        wakers: Vec::new(),
        left: 0,
        ready: VecDeque::new(),
        woken,
        deadline: None,
    };
    for (index, handle) in handles.into_iter().enumerate() {
        let to = wake_tx.clone();
        all.wakers.push(Waker::from(Arc::new(Notify { index, to })));
        all.handles.push(Some(handle));
        all.left += 1;
        // Registers the waker; a task that is already done is ready at once.
        all.poll(index);
    }
    all
}

/// One finished handle: its index in the input, and its task's result.
pub type Completed<R> = (usize, Result<R, Error>);

/// The iterator of [`as_completed`]: `(index, result)` in completion order.
#[derive(Debug)]
#[must_use = "results arrive only as the iterator is iterated"]
pub struct AsCompleted<R> {
    /// The handles not yet yielded, by index.
    handles: Vec<Option<TaskHandle<R>>>,
    wakers: Vec<Waker>,
    /// How many are not yet yielded.
    left: usize,
    /// Results taken but not yet yielded.
    ready: VecDeque<Completed<R>>,
    /// Indices of handles whose result came in.
    woken: Receiver<usize>,
    /// With [`AsCompleted::with_timeout`]: the limit and when it runs out.
    deadline: Option<(Instant, Duration)>,
}

/// Wakes [`AsCompleted`] by sending the index of the handle whose result came in.
struct Notify {
    index: usize,
    to: Sender<usize>,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // The receiver is gone only when the iterator was dropped: nobody to tell.
        let _ = self.to.send(self.index);
    }
}

impl<R> AsCompleted<R> {
    /// Bounds the whole iteration: `limit` from now on (Python's `as_completed(fs, timeout)`).
    /// When it has passed, each handle still pending is yielded as `(index,
    /// Err(Error::Timeout(limit)))`, so that every handle still comes out once; those tasks go on,
    /// and their results are dropped. To keep waiting on them, use
    /// [`AsCompleted::next_timeout`] and [`AsCompleted::into_pending`] instead.
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        // A limit too far to name (`Duration::MAX`) is no limit.
        self.deadline = crate::handle::deadline_after(limit).map(|at| (at, limit));
        self
    }

    /// How many handles have not been yielded yet.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// The next result, waiting at most `limit` for it (Python's `wait(fs, timeout,
    /// FIRST_COMPLETED)`): `Ok(Some(..))`, or `Ok(None)` once every handle was yielded.
    ///
    /// ```
    /// use common::{as_completed, Error, Pool, ThreadPool};
    /// use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    /// use std::time::Duration;
    ///
    /// static GO: AtomicBool = AtomicBool::new(false);
    /// /// Waits until the caller says go (at most 10 s, so nothing can hang).
    /// fn held(_: ()) -> bool {
    ///     for _ in 0..10_000 {
    ///         if GO.load(SeqCst) {
    ///             return true;
    ///         }
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    ///     false
    /// }
    ///
    /// let pool = ThreadPool::new(1).unwrap();
    /// let mut first = as_completed(vec![pool.submit(held, ())]);
    /// let limit = Duration::from_millis(1);
    /// assert_eq!(first.next_timeout(limit), Err(Error::Timeout(limit))); // still held
    /// GO.store(true, SeqCst);
    /// assert_eq!(first.next_timeout(Duration::from_secs(10)), Ok(Some((0, Ok(true)))));
    /// assert_eq!(first.next_timeout(limit), Ok(None));
    /// ```
    ///
    /// # Errors
    /// [`Error::Timeout`]`(limit)` if no task finished in time; nothing is lost, and the call
    /// can be made again.
    pub fn next_timeout(&mut self, limit: Duration) -> Result<Option<Completed<R>>, Error> {
        match self.next_before(crate::handle::deadline_after(limit)) {
            Next::Item(item) => Ok(Some(item)),
            Next::Done => Ok(None),
            Next::TimedOut => Err(Error::Timeout(limit)),
        }
    }

    /// The handles not yet yielded, with their indices (the `not_done` set of Python's `wait`),
    /// so they can be waited on again or cancelled.
    pub fn into_pending(mut self) -> Vec<(usize, TaskHandle<R>)> {
        (0..self.handles.len())
            .filter_map(|i| self.handles[i].take().map(|h| (i, h)))
            .collect()
    }

    /// Polls handle `index`; if its result is in, moves it to `ready`.
    fn poll(&mut self, index: usize) {
        let Some(handle) = self.handles[index].as_mut() else {
            return; // a late or repeated wake-up of a handle already yielded
        };
        let mut cx = Context::from_waker(&self.wakers[index]);
        if let Poll::Ready(result) = Pin::new(handle).poll(&mut cx) {
            self.handles[index] = None;
            self.ready.push_back((index, result));
        }
    }

    fn next_before(&mut self, deadline: Option<Instant>) -> Next<R> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                self.left -= 1;
                return Next::Item(item);
            }
            if self.left == 0 {
                return Next::Done;
            }
            let woken = match deadline {
                None => self
                    .woken
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => self.woken.recv_deadline(deadline),
            };
            match woken {
                Ok(index) => self.poll(index),
                Err(RecvTimeoutError::Timeout) => return Next::TimedOut,
                // We hold a sender in every waker, so the channel cannot close.
                Err(RecvTimeoutError::Disconnected) => unreachable!("AsCompleted owns a sender"),
            }
        }
    }
}

enum Next<R> {
    Item(Completed<R>),
    Done,
    TimedOut,
}

impl<R> Iterator for AsCompleted<R> {
    type Item = Completed<R>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_before(self.deadline.map(|(at, _)| at)) {
            Next::Item(item) => Some(item),
            Next::Done => None,
            Next::TimedOut => {
                // The deadline passed: give up on the first handle still pending.
                let limit = self.deadline.map_or(Duration::ZERO, |(_, limit)| limit);
                let index = self.handles.iter().position(Option::is_some)?;
                self.handles[index] = None;
                self.left -= 1;
                Some((index, Err(Error::Timeout(limit))))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<R> ExactSizeIterator for AsCompleted<R> {}
