//! A batch as the process pool's queue holds it: its frame, where its answer goes, and whether
//! it may still start.

use super::{owned_bytes, streamed};
use crate::pool::CancelToken;
use crate::Error;

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
    /// Whether the batch may still start (a cancelled handle, a map past its deadline).
    pub(super) cancel: CancelToken,
    /// Claimed for running once; a batch requeued after its worker died is not claimed again.
    pub(super) claimed: bool,
}

pub(super) enum Answer {
    Output(owned_bytes::Received),
    Failed(Error),
}

impl Job {
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
