//! Model check of the in-place protocol (the module docs' 1. to 4.): loom runs every
//! interleaving of two workers, each running a batch (in the second model one item panics),
//! and a caller that takes the output if every batch is done, or else gives up (cancels what
//! has not started) and leaves. Loom's cells report any place touched without a
//! happens-before edge from its last writer (a `Relaxed` publish, say); the counts catch a
//! value dropped twice or never.
//!
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//! cargo test -p common --lib --release in_place::model` (as `.ci/run` does).

use super::*;
use ::loom::sync::Arc;
use ::loom::thread;
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};

/// A value that counts itself: made `+1`, dropped `-1` (a plain std counter, read only after
/// every thread of the model has ended).
struct Counted {
    value: u32,
    alive: std::sync::Arc<AtomicIsize>,
}

impl Counted {
    fn new(value: u32, alive: &std::sync::Arc<AtomicIsize>) -> Counted {
        alive.fetch_add(1, SeqCst);
        Counted {
            value,
            alive: std::sync::Arc::clone(alive),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, SeqCst);
    }
}

fn double(item: Counted) -> Counted {
    Counted::new(item.value * 2, &item.alive)
}

/// As `double`, but the item of value 2 panics (after item 1 of its batch wrote its result).
fn double_but_2(item: Counted) -> Counted {
    if item.value == 2 {
        panic!("two");
    }
    double(item)
}

/// Two workers, one per batch, and a caller that takes the output if it can, or gives up.
fn model(f: fn(Counted) -> Counted, values: &[u32], bounds: &[usize], expected: &[u32]) {
    let alive = std::sync::Arc::new(AtomicIsize::new(0));
    let items = values.iter().map(|&v| Counted::new(v, &alive)).collect();
    let job = Arc::new(InPlace::new(f, items, bounds.to_vec()));
    let workers: Vec<_> = (0..job.batches())
        .map(|batch| {
            let job = Arc::clone(&job);
            thread::spawn(move || {
                job.run(batch);
            })
        })
        .collect();
    match job.take_output() {
        Some(results) => {
            let values: Vec<u32> = results.iter().map(|c| c.value).collect();
            assert_eq!(values, expected, "every result, in order");
        }
        None => {
            // Gives up, as at a deadline: what has not started never will.
            for batch in 0..job.batches() {
                job.cancel(batch);
            }
        }
    }
    drop(job); // the caller leaves; a worker may be the last owner
    for worker in workers {
        worker.join().expect("a worker does not panic");
    }
    assert_eq!(alive.load(SeqCst), 0, "every value made was dropped, once");
}

#[test]
fn every_interleaving_hands_over_or_drops_each_value_once() {
    ::loom::model(|| model(double, &[1, 2], &[0, 1, 2], &[2, 4]));
}

#[test]
fn a_panicking_item_leaves_nothing_behind_in_any_interleaving() {
    crate::panics::install_hook();
    // Batch 0 is items 1 and 2: item 2 panics after item 1's result was written.
    ::loom::model(|| model(double_but_2, &[1, 2, 3], &[0, 2, 3], &[]));
}
