//! Unit tests of `in_place`: every value made is dropped exactly once, on every path.

use super::*;
use std::sync::{Arc, Mutex as StdMutex};

/// How often each value was dropped, by id: inputs are `0..N`, results `N..2 * N`.
struct Ledger(StdMutex<Vec<u32>>);

/// A value that reports its drop to its ledger.
struct Tracked {
    id: usize,
    ledger: Arc<Ledger>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.0.lock().unwrap()[self.id] += 1;
    }
}

const N: usize = 6;

/// The result of item `id` is `id + N`.
fn twin(item: Tracked) -> Tracked {
    Tracked {
        id: item.id + N,
        ledger: Arc::clone(&item.ledger),
    }
}

/// As `twin`, but items 3 and 4 panic.
fn twin_but_3_and_4(item: Tracked) -> Tracked {
    if item.id == 3 || item.id == 4 {
        panic!("item {} fails", item.id);
    }
    twin(item)
}

/// `N` items of `f` in batches of 2: `0..2`, `2..4`, `4..6`.
fn job(f: fn(Tracked) -> Tracked) -> (InPlace<Tracked, Tracked>, Arc<Ledger>) {
    let ledger = Arc::new(Ledger(StdMutex::new(vec![0; 2 * N])));
    let items = (0..N).map(|id| Tracked {
        id,
        ledger: Arc::clone(&ledger),
    });
    (InPlace::new(f, items.collect(), vec![0, 2, 4, N]), ledger)
}

/// The drop counts, by id.
fn drops(ledger: &Ledger) -> Vec<u32> {
    ledger.0.lock().unwrap().clone()
}

#[test]
fn a_full_run_hands_over_every_result_and_drops_each_input_once() {
    let (job, ledger) = job(twin);
    assert_eq!(
        job.take_output().map(|v| v.len()),
        None,
        "not before the batches ran"
    );
    for batch in 0..job.batches() {
        assert_eq!(job.run(batch), Some(Ok(())));
    }
    let results = job.take_output().expect("every batch is done");
    assert!(job.take_output().is_none(), "taken once");
    let ids: Vec<usize> = results.iter().map(|t| t.id).collect();
    assert_eq!(ids, (N..2 * N).collect::<Vec<_>>(), "results in item order");
    drop(job);
    assert_eq!(
        drops(&ledger)[..N],
        [1; N],
        "each input dropped once, by `f`"
    );
    assert_eq!(
        drops(&ledger)[N..],
        [0; N],
        "the results belong to the caller now"
    );
    drop(results);
    assert_eq!(drops(&ledger), [1; 2 * N]);
}

#[test]
fn a_job_dropped_early_drops_what_is_left_exactly_once() {
    let (job, ledger) = job(twin);
    assert_eq!(job.run(0), Some(Ok(())));
    assert!(job.cancel(1), "batch 1 had not started");
    // Batch 2 stays queued: a caller gave up and no worker came by.
    assert!(job.take_output().is_none(), "batch 1 was cancelled");
    drop(job);
    let expected = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
    assert_eq!(
        drops(&ledger),
        expected,
        "batch 0's results, every input; nothing twice"
    );
}

#[test]
fn a_batch_is_claimed_once() {
    let (job, ledger) = job(twin);
    assert_eq!(job.run(0), Some(Ok(())));
    assert_eq!(job.run(0), None, "ran already");
    assert!(!job.cancel(0), "a batch that ran cannot be cancelled");
    assert!(job.cancel(1));
    assert!(!job.cancel(1), "cancelled once");
    assert_eq!(job.run(1), None, "a cancelled batch never runs");
    drop(job);
    assert_eq!(drops(&ledger), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
}

#[test]
fn a_panicking_item_fails_its_batch_and_every_value_is_dropped_once() {
    crate::panics::install_hook();
    let (job, ledger) = job(twin_but_3_and_4);
    assert_eq!(job.run(0), Some(Ok(())));
    let Some(Err(Error::Panicked { message, .. })) = job.run(1) else {
        panic!("batch 1 fails");
    };
    assert_eq!(message, "item 3 fails");
    let Some(Err(Error::Panicked { message, .. })) = job.run(2) else {
        panic!("batch 2 fails");
    };
    assert_eq!(message, "item 4 fails", "its first error; item 5 still ran");
    assert!(
        job.take_output().is_none(),
        "a failed map hands over nothing"
    );
    // Item 2's result was dropped by its batch at the panic; 5's at once.
    assert_eq!(drops(&ledger), [1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1]);
    drop(job);
    let ran = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1];
    assert_eq!(
        drops(&ledger),
        ran,
        "batch 0's results; no panicking item made one"
    );
}

#[test]
fn the_last_owner_drops_results_of_batches_that_ran_after_the_caller_left() {
    let (job, ledger) = job(twin);
    let job = Arc::new(job);
    let worker = Arc::clone(&job);
    assert!(job.cancel(2), "the caller's deadline passed");
    drop(job); // the caller is gone; the worker's job is the last owner
    let ran = std::thread::spawn(move || [worker.run(0), worker.run(1), worker.run(2)]);
    let ran = ran.join().expect("no panic");
    assert_eq!(ran, [Some(Ok(())), Some(Ok(())), None]);
    let expected = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
    assert_eq!(
        drops(&ledger),
        expected,
        "batch 2's inputs, 0 and 1's results, once each"
    );
}

#[test]
fn an_empty_map_has_no_batches() {
    let job = InPlace::new(|x: u8| x, Vec::new(), vec![0]);
    assert_eq!(job.batches(), 0);
    assert_eq!(job.take_output(), Some(Vec::new()));
}

#[test]
fn zero_sized_items_and_results_work_as_any() {
    // A `Vec<()>` has no buffer: the casts between `T` and its places must keep it so.
    let job = InPlace::new(|(): ()| (), vec![(); 5], vec![0, 2, 5]);
    assert_eq!([job.run(0), job.run(1)], [Some(Ok(())), Some(Ok(()))]);
    assert_eq!(job.take_output(), Some(vec![(); 5]));
}
