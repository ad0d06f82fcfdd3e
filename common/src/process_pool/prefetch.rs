//! Which queued batches a supervisor sends its worker next, and how many at once.
//!
//! Short tasks: several batches wait at the worker (up to [`MAX_WINDOW`]), so the worker never
//! idles for a round trip between them; long tasks: one at a time, so no worker hoards batches
//! that another, idle, could run. A large batch always travels alone (see [`ALONE_BYTES`]).

use super::supervisor::{Supervisor, Take};
use std::sync::Arc;
use std::time::Duration;

/// Batches larger than this travel alone: never queued behind another batch in a worker's
/// socket, so that a large send can never wait on a worker that is itself waiting to send.
const ALONE_BYTES: usize = 8 * 1024;
/// Most batches queued at one worker when tasks are short (see `Supervisor::window`).
const MAX_WINDOW: usize = 8;
/// A batch that runs longer than this gets no company: prefetching it would only unbalance.
pub(super) const SHORT_TASK: Duration = Duration::from_millis(1);

impl Supervisor {
    /// How many batches may wait at the worker: several when tasks are short (the trip would
    /// dominate), one when they are long (prefetching would leave other workers idle).
    fn window(&self) -> usize {
        if self.short_tasks {
            MAX_WINDOW
        } else {
            1
        }
    }

    pub(super) fn take(&mut self) -> Take {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.state();
        if state.cancelled {
            return Take::Cancel;
        }
        // Refill only once the window is half empty, then fill it: several batches then go
        // in one message, instead of one message for each answer that comes back.
        if !self.in_flight.is_empty() && self.in_flight.len() > self.window() / 2 {
            return Take::Jobs(Vec::new());
        }
        // Items this worker may still be given before it retires (unbounded without a limit).
        let in_flight_items: usize = self.in_flight.iter().map(|j| j.len).sum();
        let mut allowance = self.shared.max_tasks.map_or(usize::MAX, |max| {
            max.saturating_sub(self.finished + in_flight_items)
        });
        if allowance == 0 {
            if !self.in_flight.is_empty() {
                return Take::Jobs(Vec::new()); // finish what it has first
            }
            if state.closing && state.queue.is_empty() {
                return Take::Stop;
            }
            return Take::Retire;
        }
        let has_big = self.in_flight.iter().any(|j| j.size > ALONE_BYTES);
        // Never more than a fair share of what is queued: the window was sized from the
        // last batch, and the next ones may be long. Taking them all would leave the other
        // workers idle while this one works through them in turn.
        let fair_share = state.queue.len().div_ceil(state.live.max(1)).max(1);
        let limit = self.window().min(self.in_flight.len() + fair_share);
        let mut jobs = Vec::new();
        while !has_big && self.in_flight.len() + jobs.len() < limit {
            let Some(next) = state.queue.front_mut() else {
                break;
            };
            if !next.claim() {
                // Cancelled while queued: it never runs; its waiter has `Cancelled` already.
                if let Some(job) = state.queue.pop_front() {
                    job.fail(crate::Error::Cancelled);
                }
                continue;
            }
            let big = next.size > ALONE_BYTES;
            let first = self.in_flight.is_empty() && jobs.is_empty();
            // A big batch, or one past the allowance, goes only as the first thing in flight.
            if (big || next.len > allowance) && !first {
                break;
            }
            allowance = allowance.saturating_sub(next.len);
            jobs.extend(state.queue.pop_front());
            if big {
                break;
            }
        }
        if !jobs.is_empty() || !self.in_flight.is_empty() {
            return Take::Jobs(jobs);
        }
        if state.closing && state.queue.is_empty() {
            return Take::Stop;
        }
        // Nothing to do: park the worker where a caller may borrow it (see `park.rs`).
        Take::Park
    }
}
