//! One `map` as a job shared by its batches: each reads its items and writes its results in
//! place, in one input and one output buffer, so nothing is moved on the calling thread.
//!
//! Why it exists: `ThreadPool::map` of 10^6 trivial items took 2.33x rayon calling the same
//! `fn` pointer, and 44 % of its samples were `memmove` on the calling thread. The generic path
//! (`src/batch.rs`, which a process pool needs: its batches travel as bytes) cuts the items
//! into one vector per batch, gets each batch's results back as a vector, and appends those to
//! a fresh output, faulting in about 15 MB of fresh pages a call. Built this way, 10^6 items
//! took a median 0.85x rayon through the same pointer (2.07-2.35x before, same session; the
//! numbers are in common/README.md), and the cost per item no longer jumps with size.
//!
//! # The protocol
//!
//! Every batch has a state, and owns the input and output places of its range of items:
//!
//! ```text
//! QUEUED --claim (run)--> RUNNING --publish--> DONE (its outputs written)
//!    |                                    \--> FAILED (an item panicked: outputs dropped)
//!    \--cancel--> CANCELLED (its inputs still in place)
//! ```
//!
//! 1. Claim and cancel are each one compare-and-swap from `QUEUED`, so exactly one of them
//!    happens, once: only the thread that claimed a batch touches its places while it runs.
//! 2. The claimer moves each input out of its place and writes each result into its place,
//!    then publishes `DONE` with `Release`.
//! 3. The caller takes the output only after reading `DONE` for every batch with `Acquire`:
//!    every output place is written by then, and nobody touches a place again.
//! 4. Whoever drops the last `Arc` of the job (the caller, or a worker when the caller gave up
//!    at a deadline) drops what is left: the inputs of batches never claimed, the outputs of
//!    `DONE` batches when the output was not taken. `RUNNING` is never seen then: a running
//!    batch's job holds an `Arc`.
//!
//! Every `unsafe` of the thread pool is in this file and `in_place/place.rs`; a loom model
//! (`in_place/model.rs`) checks the protocol.

use crate::{panics, Error};
use std::ops::Range;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

mod place;
use place::{into_places, into_values, Place};

// The model check swaps in loom's types, which record every access to check its ordering.
#[cfg(all(test, loom))]
use ::loom::sync::{atomic::AtomicU8, Mutex};
#[cfg(not(all(test, loom)))]
use std::sync::{atomic::AtomicU8, Mutex};

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const FAILED: u8 = 3;
const CANCELLED: u8 = 4;

/// A map's items, results and batch states, shared by the caller and every batch's job.
///
/// `C` is the task: a `fn(A) -> R` for `map`, or the closure's own type for `map_inline`
/// (`src/inline.rs`), so that the item loop below is compiled for it and can inline it.
pub(super) struct InPlace<A, R, C = fn(A) -> R> {
    f: C,
    /// Batch `b` covers items `bounds[b]..bounds[b + 1]`.
    bounds: Vec<usize>,
    states: Vec<AtomicU8>,
    input: Vec<Place<A>>,
    /// The output buffer's places, where batches write: the buffer of `output`'s vector.
    out: *const Place<R>,
    /// Owns the output buffer until the caller takes it (`None` then).
    output: Mutex<Option<Vec<Place<R>>>>,
}

// SAFETY: the raw pointer and the cells make these not `Send`/`Sync` by default. Each place is
// touched by one thread at a time (the protocol in the module docs), values only move between
// threads (never shared by reference), so `A: Send` and `R: Send` suffice; `out` points into
// the buffer that `output` owns, which lives as long as the job. The task `C` is called by
// reference from every batch's thread at once, so it must be `Sync` (and `Send`, to be dropped
// by whichever thread drops the job last).
unsafe impl<A: Send, R: Send, C: Send + Sync> Send for InPlace<A, R, C> {}
// SAFETY: as for `Send`.
unsafe impl<A: Send, R: Send, C: Send + Sync> Sync for InPlace<A, R, C> {}

impl<A, R, C> InPlace<A, R, C> {
    /// A job over `items`, cut into batches at `bounds` (from 0 to `items.len()`, increasing).
    pub(super) fn new(f: C, items: Vec<A>, bounds: Vec<usize>) -> Self
    where
        C: Fn(A) -> R,
    {
        assert_eq!(bounds.first(), Some(&0), "batches start at item 0");
        assert_eq!(
            bounds.last(),
            Some(&items.len()),
            "batches end at the last item"
        );
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "no batch is empty");
        let output: Vec<Place<R>> = (0..items.len()).map(|_| Place::empty()).collect();
        InPlace {
            f,
            states: (1..bounds.len()).map(|_| AtomicU8::new(QUEUED)).collect(),
            bounds,
            input: into_places(items),
            out: output.as_ptr(),
            output: Mutex::new(Some(output)),
        }
    }

    pub(super) fn batches(&self) -> usize {
        self.states.len()
    }

    /// The items of batch `batch`.
    pub(super) fn range(&self, batch: usize) -> Range<usize> {
        self.bounds[batch]..self.bounds[batch + 1]
    }

    /// Cancels the batch if it has not started; whether it did. It will never run.
    pub(super) fn cancel(&self, batch: usize) -> bool {
        // Relaxed: cancelling touches no place; the drop that does is ordered by the `Arc`.
        let state = &self.states[batch];
        state
            .compare_exchange(QUEUED, CANCELLED, Relaxed, Relaxed)
            .is_ok()
    }

    /// Claims the batch and runs every item of it; `None` if it was claimed or cancelled
    /// before. Like `panics::run_batch`, a panicking item fails alone and the others still
    /// run; the answer is the batch's first error.
    pub(super) fn run(&self, batch: usize) -> Option<Result<(), Error>>
    where
        C: Fn(A) -> R,
    {
        let state = &self.states[batch];
        // The claim (1. in the module docs): from here this thread alone touches the places.
        if state
            .compare_exchange(QUEUED, RUNNING, Acquire, Relaxed)
            .is_err()
        {
            return None;
        }
        let range = self.range(batch);
        let mut next = range.start;
        let mut error = None;
        while next < range.end {
            let failed = error.is_some();
            let outcome = panics::catch(|| {
                // Local copies and slices, so the loop keeps them in registers across calls
                // (and, when `f` is inlined, the compiler can see that no write to an output
                // place changes them, and vectorize the loop).
                let (f, from, failed) = (&self.f, next, failed);
                let inputs = &self.input[from..range.end];
                let outputs = self.outputs(from..range.end);
                // `next`, kept in a local and written back when the loop ends or unwinds.
                let mut reached = Reached {
                    next: &mut next,
                    at: from,
                };
                for (i, (input, output)) in (from..).zip(inputs.iter().zip(outputs)) {
                    // First: if `f` panics, the unwinding dropped item i.
                    reached.at = i + 1;
                    // SAFETY: this thread holds the batch's claim and `i` is in its range, so
                    // nobody else touches place i; it is full, as only the claimer takes from
                    // it, once (`next`, written back from `reached.at`, only grows).
                    let item = unsafe { input.take() };
                    let result = f(item);
                    if failed {
                        drop(result); // the map fails: its results are not wanted
                    } else {
                        // SAFETY: claimed as above; output place i is empty, as only this
                        // batch's claimer writes it, once.
                        unsafe { output.put(result) };
                    }
                }
            });
            if let Err(e) = outcome {
                if error.is_none() {
                    error = Some(e);
                    // The item at `next - 1` panicked; the ones before it wrote their results.
                    // SAFETY: claimed as above, and these places were written in this call.
                    let drop_written = || unsafe { self.drop_outputs(range.start..next - 1) };
                    // A result whose `drop` panics leaks the rest of the batch's results.
                    let _ = panics::catch(drop_written);
                }
            }
        }
        // Publish (2.): the writes above happen before whoever reads this state with Acquire.
        state.store(if error.is_some() { FAILED } else { DONE }, Release);
        Some(error.map_or(Ok(()), Err))
    }

    /// The results, once every batch is `DONE` (3. in the module docs); `None` before, after a
    /// failed or cancelled batch, or when taken already.
    pub(super) fn take_output(&self) -> Option<Vec<R>> {
        if !self.states.iter().all(|s| s.load(Acquire) == DONE) {
            return None;
        }
        let places = self
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        // SAFETY: every batch published DONE after writing all its places, and we read that
        // with Acquire, so every place is full and visible; DONE is final, so no one writes
        // them again, and the places are moved out of the job, so its drop never sees them.
        Some(unsafe { into_values(places) })
    }

    /// The output places of items `range`, through the raw pointer: the caller may take the
    /// vector that owns the buffer while batches hold the job, so batches never borrow it.
    fn outputs(&self, range: Range<usize>) -> &[Place<R>] {
        assert!(
            range.start <= range.end && range.end <= self.input.len(),
            "items' indices"
        );
        // SAFETY: `out` points to `input.len()` places owned by `output` (made at the same
        // length in `new`), whose buffer lives until the job drops, or until the caller takes
        // it once every batch is DONE, when no batch touches its places any more. These are
        // shared references to cells: who may write which place is the protocol's business.
        unsafe { std::slice::from_raw_parts(self.out.add(range.start), range.len()) }
    }

    /// Drops the results in `range`.
    ///
    /// # Safety
    /// The caller owns these places (a claim, or the job's drop) and each of them is full.
    unsafe fn drop_outputs(&self, range: Range<usize>) {
        for place in self.outputs(range) {
            // SAFETY: the caller's promise.
            unsafe { place.drop_value() };
        }
    }
}

/// Writes where a batch's loop got to into `next` when dropped: after the last item, or while
/// unwinding from the item that panicked.
struct Reached<'a> {
    next: &'a mut usize,
    at: usize,
}

impl Drop for Reached<'_> {
    fn drop(&mut self) {
        *self.next = self.at;
    }
}

impl<A, R, C> Drop for InPlace<A, R, C> {
    /// Drops what is left (4. in the module docs): each value exactly once.
    fn drop(&mut self) {
        let output_left = self
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        for batch in 0..self.batches() {
            let range = self.range(batch);
            match self.states[batch].load(Acquire) {
                QUEUED | CANCELLED => {
                    for place in &self.input[range] {
                        // SAFETY: never claimed, so every input place is full; `&mut self`
                        // means no batch holds the job to claim it now.
                        unsafe { drop(place.take()) };
                    }
                }
                // SAFETY: a DONE batch wrote every output place; the output was not taken,
                // and no batch holds the job.
                DONE if output_left => unsafe { self.drop_outputs(range) },
                // Taken, dropped by its runner (FAILED), or unreachable (RUNNING): a
                // runner holds the job. Leaking would be safe if it ever were not.
                _ => {}
            }
        }
    }
}

#[cfg(all(test, loom))]
mod model;
#[cfg(test)]
mod tests;
