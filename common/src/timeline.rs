//! Who ran what, when: a [`Span`] per batch, for timelines.

use std::sync::Mutex;
use std::time::Duration;

/// One batch as it ran: which worker, which items, when. Times count from the pool's creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The worker's index in the pool, `0..workers`. A replaced process worker keeps its index.
    pub worker: usize,
    /// The process that ran the batch (the pool's own pid for a `ThreadPool`).
    pub pid: u32,
    /// Index of the batch's first item.
    pub first: usize,
    /// Number of items in the batch.
    pub len: usize,
    /// When the worker started the batch.
    pub start: Duration,
    /// When the worker finished it.
    pub end: Duration,
}

/// The spans a pool records when built with `record_timeline(true)`: what [`Pool::timeline`]
/// returns. Both pools keep one.
#[derive(Debug)]
pub(crate) struct Timeline {
    /// Monotonic clock reading (ns) at the pool's creation; spans count from here.
    epoch: u64,
    spans: Option<Mutex<Vec<Span>>>,
}

impl Timeline {
    pub(crate) fn new(recording: bool) -> Timeline {
        Timeline {
            epoch: crate::sys::monotonic_nanos(),
            spans: recording.then(|| Mutex::new(Vec::new())),
        }
    }

    pub(crate) fn is_recording(&self) -> bool {
        self.spans.is_some()
    }

    /// Records one batch; `start` and `end` are monotonic clock readings (ns).
    pub(crate) fn record(
        &self,
        worker: usize,
        pid: u32,
        first: usize,
        len: usize,
        start: u64,
        end: u64,
    ) {
        if let Some(spans) = &self.spans {
            let (start, end) = (
                crate::sys::nanos_between(self.epoch, start),
                crate::sys::nanos_between(self.epoch, end),
            );
            let span = Span {
                worker,
                pid,
                first,
                len,
                start,
                end,
            };
            // Pushing a span cannot panic halfway, so a poisoned lock still holds whole spans.
            spans.lock().unwrap_or_else(|p| p.into_inner()).push(span);
        }
    }

    /// The spans so far (none if the pool does not record).
    pub(crate) fn spans(&self) -> Vec<Span> {
        self.spans
            .as_ref()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }
}
