//! Which queued batches a supervisor sends its worker next, and how many at once.
//!
//! Short tasks: several batches wait at the worker (up to [`MAX_WINDOW`]), so the worker never
//! idles for a round trip between them; long tasks: one at a time, so no worker hoards batches
//! that another, idle, could run. A large batch always travels alone (see [`ALONE_BYTES`]).
//!
//! It learns per map. Whether tasks are short is learnt from the last batch answered, and
//! holds only for batches of the same map (or, for `submit`, of the submitted tasks): the
//! first batches of another map go one at a time until one of them is answered. Measured
//! reason (issue 26): after a 20,000-item map of tiny tasks on 2 workers, a 16-item map of
//! 10 ms naps, whose batches the window then took several at a time, split 10/6 between the
//! workers in 2 of 3 trials (101-103 ms against 82 ms); learnt per map it splits 8/8.
//!
//! A batch for one worker alone (a `broadcast`'s) goes before the pool's queue.

use super::job::Job;
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
    /// How many batches may wait at the worker, `next` being the batch it would take next:
    /// several when tasks are short (the trip would dominate), one when they are long
    /// (prefetching would leave other workers idle), and one for a batch of another map than
    /// the one that taught it (see the module docs).
    fn window(&self, next: Option<&Job>) -> usize {
        let learnt = next.is_none_or(|job| job.group.same(&self.learned_from));
        if self.short_tasks && learnt {
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
        let own = !state.targeted[self.index].is_empty();
        // Refill only once the window is half empty, then fill it: several batches then go
        // in one message, instead of one message for each answer that comes back.
        let window = self.window(state.queue.front());
        if !self.in_flight.is_empty() && self.in_flight.len() > window / 2 && !own {
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
            if state.closing && !state.has_work(self.index) {
                return Take::Stop;
            }
            return Take::Retire;
        }
        if own {
            // A broadcast's batches for this worker: tiny, and sent before the queue's.
            let mut jobs = Vec::new();
            for mut job in state.targeted[self.index].drain(..).collect::<Vec<_>>() {
                if job.claim() {
                    jobs.push(job);
                } else {
                    job.fail(crate::Error::Cancelled);
                }
            }
            if !jobs.is_empty() || !self.in_flight.is_empty() {
                return Take::Jobs(jobs);
            }
        }
        let has_big = self.in_flight.iter().any(|j| j.size > ALONE_BYTES);
        // Never more than a fair share of what is queued: the window was sized from the
        // last batch, and the next ones may be long. Taking them all would leave the other
        // workers idle while this one works through them in turn.
        let fair_share = state.queue.len().div_ceil(state.live.max(1)).max(1);
        let limit = window.min(self.in_flight.len() + fair_share);
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
        if state.closing && !state.has_work(self.index) {
            return Take::Stop;
        }
        // Nothing to do: park the worker where a caller may borrow it (see `park.rs`).
        Take::Park
    }
}
