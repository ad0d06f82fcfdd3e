//! A batch as the process pool's queue holds it: its frame, where its answer goes, and whether
//! it may still start.

use super::{call, owned_bytes, streamed, wire, ProcessPool};
use crate::panics::{self, DropsCaught};
use crate::pool::{BatchResult, CancelToken, Results, Sink, SinkTo, Task};
use crate::shared::{self, Pins};
use crate::Error;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};

/// A batch waiting for, or running on, a worker.
pub(super) struct Job {
    /// The call and its encoded items, ready to send (see [`wire::frame`]). Emptied once the
    /// batch is running: it is never sent again (see `Supervisor::release_running_frame`).
    pub(super) frame: Vec<u8>,
    /// A large lone argument, encoded onto the line after `frame` (see `wire::frame_owned`).
    pub(super) tail: Option<streamed::Streamed>,
    /// The frame's length with its tail, kept after both are freed.
    pub(super) size: usize,
    pub(super) first: usize,
    pub(super) len: usize,
    /// Delivers the answer to whoever waits for it; type-erased so the queue is not generic.
    pub(super) done: Box<dyn FnOnce(Answer) + Send>,
    /// Whether the batch may still start (a cancelled handle, a map past its deadline). Its
    /// drop may be the last owner of a task's slot, and so drop the task's result (see
    /// `Job::framed` on why that drop is caught).
    pub(super) cancel: DropsCaught<CancelToken>,
    /// Claimed for running once; a batch requeued after its worker died is not claimed again.
    pub(super) claimed: bool,
    /// How many of its runs ended in its worker's death (see `retries`).
    pub(super) deaths: u32,
    /// Its worker said it began it (only said with `retries`, see `ENV_ANNOUNCE`).
    pub(super) started: bool,
    /// Deaths of its worker before it began it: not attempts, but bounded (see `blame`).
    pub(super) misses: u32,
    /// The map it belongs to, for the prefetch policy, which learns per map (`prefetch.rs`).
    pub(super) group: Group,
    /// Handles to the shared values its frame names by reference, so that their files stay
    /// open until it is answered (see `crate::shared`); dropped with it, by a pool thread.
    pins: DropsCaught<Pins>,
}

/// Which map a batch belongs to: the flag its map's batches share, held weakly (so that the
/// address cannot be reused by a later map's flag while anyone holds it); `None` for a task
/// from `submit` (all submitted tasks are one group).
#[derive(Clone, Default)]
pub(super) struct Group(Option<Weak<AtomicBool>>);

impl Group {
    fn of<R>(sink: &Sink<R>) -> Group {
        match &sink.0 {
            SinkTo::Channel { cancel, .. } => Group(Some(Arc::downgrade(cancel))),
            SinkTo::Slot(_) => Group(None),
        }
    }

    pub(super) fn same(&self, other: &Group) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.ptr_eq(b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

pub(super) enum Answer {
    Output(owned_bytes::Received),
    Failed(Error),
}

impl Job {
    /// Its worker died while this was its oldest batch in flight: whether that counts as an
    /// attempt (then `deaths` counts it). Without retries it always does (at most once: it
    /// may have begun). With retries only if the worker said it began it; a batch that a
    /// worker dies on every time before saying so (one whose frame cannot even be read) is
    /// counted after `retries + 1` such misses, so that it cannot kill workers for ever.
    pub(super) fn blame(&mut self, retries: u32) -> bool {
        let counts = retries == 0 || self.started || {
            self.misses += 1;
            self.misses > retries + 1
        };
        if counts {
            self.deaths += 1;
        }
        self.started = false;
        counts
    }

    pub(super) fn fail(self, error: Error) {
        (self.done)(Answer::Failed(error));
    }

    /// Claims the batch right before it is sent: `false` if it was cancelled, and then it must
    /// never reach a worker (its waiter already has `Cancelled`).
    pub(super) fn claim(&mut self) -> bool {
        if !self.claimed {
            self.claimed = self.cancel.try_start();
        }
        self.claimed
    }
}

impl ProcessPool {
    /// Queues a batch for the supervisors, or fails it at once: after `shutdown`, and while
    /// no worker can start.
    pub(super) fn enqueue(&self, job: Job) {
        let mut state = self.shared.state();
        if let Some(error) = refusal(&state) {
            drop(state);
            return job.fail(error);
        }
        state.queue.push_back(job);
        let woken = super::park::choose_one(&mut state);
        drop(state);
        if let Some(index) = woken {
            self.shared.nudge[index].notify_one();
        }
    }

    /// Queues a batch for supervisor `index`'s worker alone (a `broadcast`'s), or fails it at
    /// once as [`ProcessPool::enqueue`] does.
    pub(super) fn enqueue_to(&self, index: usize, job: Job) {
        let mut state = self.shared.state();
        if let Some(error) = refusal(&state) {
            drop(state);
            return job.fail(error);
        }
        state.targeted[index].push_back(job);
        let desk = &mut state.lines[index];
        // Parked, or waiting for a caller to give its line back: either way it looks again.
        let wake = desk.parked || desk.wanted;
        desk.parked = false;
        drop(state);
        if wake {
            self.shared.nudge[index].notify_one();
        }
    }
}

/// Why a new batch is refused, if it is: the pool was shut down (or is being dropped, when
/// no call can reach here), terminated, or has no worker that can start.
fn refusal(state: &super::State) -> Option<Error> {
    if state.cancelled {
        Some(Error::Cancelled)
    } else if state.closing {
        Some(Error::ShutDown)
    } else {
        state.broken.clone()
    }
}

impl Job {
    /// A batch as the queue holds it: its frame, encoded here, on the caller's thread, so that
    /// an encoding error reaches the caller at once and the supervisors only move bytes. (A
    /// lone large argument is only measured here, and encoded onto the line by its
    /// supervisor.) `None` if the arguments failed to encode: the sink has the error.
    pub(super) fn new<A: Task, R: Task>(
        f: fn(A) -> R,
        first: usize,
        items: Vec<A>,
        sink: Sink<R>,
    ) -> Option<Job> {
        let len = items.len();
        let (framed, pins) =
            shared::for_local_workers(|| wire::frame_owned(call::encode(f), items));
        match framed {
            Ok((frame, tail)) => Some(Job::framed(frame, tail, first, len, sink).pinning(pins)),
            Err(e) => {
                let error = Error::Serde(format!("encoding arguments: {e}"));
                sink.send(BatchResult::failed(first, len, &error));
                None
            }
        }
    }

    /// The batch of `len` items whose frame (and tail) are encoded already.
    pub(super) fn framed<R: Task>(
        frame: Vec<u8>,
        tail: Option<streamed::Streamed>,
        first: usize,
        len: usize,
        sink: Sink<R>,
    ) -> Job {
        // User code runs where this job is answered or dropped, which is usually a pool
        // thread (a supervisor, or whoever reads a lent answer): decoding runs `Deserialize`,
        // and delivering, or dropping a job never answered, may drop results nobody waits for
        // any more (a handle dropped, a map past its deadline). A panic there must neither
        // leave the waiter without an answer nor end that thread while the pool counts on it:
        // a panic while decoding becomes the batch's error, one in a `Drop` after delivery is
        // caught (`panics::catch_drop`). Wrapped here, every caller of `done` is covered.
        let cancel = DropsCaught::new(sink.cancel_token());
        let group = Group::of(&sink);
        let sink = DropsCaught::new(sink);
        let done = Box::new(move |answer: Answer| {
            let sink = sink.into_inner();
            let decoded = panics::catch(|| match answer {
                Answer::Output(output) => call::decode_received::<R>(output, len),
                Answer::Failed(error) => Results::failed(len, &error),
            });
            let results = decoded.unwrap_or_else(|panicked| Results::failed(len, &panicked));
            panics::catch_drop(|| sink.send(BatchResult { first, results }));
        });
        Job {
            size: frame.len() + tail.as_ref().map_or(0, |t| t.len()),
            frame,
            tail,
            first,
            len,
            done,
            cancel,
            claimed: false,
            deaths: 0,
            started: false,
            misses: 0,
            group,
            pins: DropsCaught::new(Pins::default()),
        }
    }

    /// The same batch, holding `pins` until it is dropped.
    pub(super) fn pinning(mut self, pins: Pins) -> Job {
        self.pins = DropsCaught::new(pins);
        self
    }
}
