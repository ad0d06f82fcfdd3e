//! What Python users reach for, checked on both pools: `map_iter` (imap), `is_finished`
//! (done), `cancel`, a dropped `map_unordered` (imap_unordered), `as_completed` (and `wait`),
//! `map_timeout`, the initializer, a task handle awaited as a `Future`, lazy input (an
//! endless iterator; 1 GiB streamed in little memory: Python 3.14's `buffersize`), and a
//! large value shared once (`Pool::share`: joblib's memmapping, `ray.put`, Dask's `scatter`).
//!
//! Own `main` (harness = false), because `ProcessPool` workers re-enter this binary and
//! `common::init()` must run first. One generic body per behaviour runs on both pools. Tasks
//! that must wait for the test wait for a file to appear (a file reaches a worker process too),
//! always with a bound, so a failing test cannot hang. Which tasks ran is read from an
//! `O_APPEND` log each task writes its tag to when it starts. Run one test with
//! `cargo test -p common --test python_features -- <name-filter>`.

use common::{Error, ProcessPool, ThreadPool};

mod features;
mod harness;
use features::completion::{as_completed_all, map_timeout};
use features::init_and_async::{
    handles_on_both_pools_awaited_together, thread_initializer_runs_once_per_thread,
};
use features::ordering::{cancel, is_finished, map_iter, unordered_drop};
use features::shared::{
    a_large_input_is_sent_once, a_slice_crosses_as_references, a_slice_is_read_in_place,
    a_streamed_argument_beside_a_shared_value, decoded_once_per_worker_then_freed,
    nothing_left_after_a_panic_or_a_drop, nothing_left_after_sigkill,
    plumbing_sends_the_value_inline,
};
use features::stopping::{
    broadcast_reaches_every_worker, initializer_with_on_both_pools, shutdown_cancels_the_queue,
    shutdown_finishes_the_queue,
};
use features::streaming::{
    a_gibibyte_streams_in_little_memory, arrays_cross_exactly, endless_input,
};
use harness::{check, Test};

/// Workers in every pool of these tests.
const WORKERS: usize = 2;

/// Set when this binary is started again to play a program under test (a pool's owner).
const ROLE: &str = "PYTHON_FEATURES_ROLE";

fn main() {
    common::init(); // a worker process serves its pool from here and never returns
    if std::env::var(ROLE).as_deref() == Ok("share-owner") {
        return features::shared::share_owner();
    }
    harness::run(&[
        Test("map_iter_on_threads", || swept(|| map_iter(&threads()?))),
        Test("map_iter_on_processes", || {
            swept(|| map_iter(&processes()?))
        }),
        Test("is_finished_on_threads", || {
            swept(|| is_finished(&threads()?))
        }),
        Test("is_finished_on_processes", || {
            swept(|| is_finished(&processes()?))
        }),
        Test("cancel_on_threads", || swept(|| cancel(&threads()?))),
        Test("cancel_on_processes", || swept(|| cancel(&processes()?))),
        Test("unordered_drop_on_threads", || {
            swept(|| unordered_drop(&threads()?))
        }),
        Test("unordered_drop_on_processes", || {
            swept(|| unordered_drop(&processes()?))
        }),
        Test("as_completed_on_threads", || {
            swept(|| as_completed_all(&threads()?))
        }),
        Test("as_completed_on_processes", || {
            swept(|| as_completed_all(&processes()?))
        }),
        Test("map_timeout_on_threads", || {
            swept(|| map_timeout(&threads()?))
        }),
        Test("map_timeout_on_processes", || {
            swept(|| map_timeout(&processes()?))
        }),
        Test("thread_initializer_runs_once_per_thread", || {
            swept(thread_initializer_runs_once_per_thread)
        }),
        Test("handles_on_both_pools_awaited_together", || {
            swept(handles_on_both_pools_awaited_together)
        }),
        Test("endless_input_on_threads", || endless_input(&threads()?)),
        Test(
            "endless_input_on_processes",
            || endless_input(&processes()?),
        ),
        Test("arrays_cross_exactly_on_threads", || {
            arrays_cross_exactly(&threads()?)
        }),
        Test("arrays_cross_exactly_on_processes", || {
            arrays_cross_exactly(&processes()?)
        }),
        Test("a_gibibyte_streams_on_threads", || {
            a_gibibyte_streams_in_little_memory(&threads()?)
        }),
        Test("a_gibibyte_streams_on_processes", || {
            a_gibibyte_streams_in_little_memory(&processes()?)
        }),
        Test("shutdown_cancels_the_queue_on_threads", || {
            swept(|| shutdown_cancels_the_queue(&threads()?))
        }),
        Test("shutdown_cancels_the_queue_on_processes", || {
            swept(|| reaped_after(shutdown_cancels_the_queue))
        }),
        Test("shutdown_finishes_the_queue_on_threads", || {
            swept(|| shutdown_finishes_the_queue(&threads()?))
        }),
        Test("shutdown_finishes_the_queue_on_processes", || {
            swept(|| reaped_after(shutdown_finishes_the_queue))
        }),
        Test("broadcast_on_threads", || {
            swept(|| broadcast_reaches_every_worker(&threads()?))
        }),
        Test("broadcast_on_processes", || {
            swept(|| broadcast_reaches_every_worker(&processes()?))
        }),
        Test("initializer_with_on_both_pools", || {
            swept(initializer_with_on_both_pools)
        }),
        Test(
            "share_a_large_input_is_sent_once",
            a_large_input_is_sent_once,
        ),
        Test("share_decoded_once_on_threads", || {
            decoded_once_per_worker_then_freed(&threads()?)
        }),
        Test("share_decoded_once_per_process_worker_then_freed", || {
            decoded_once_per_worker_then_freed(&processes()?)
        }),
        Test(
            "share_nothing_left_after_a_panic_or_a_drop",
            nothing_left_after_a_panic_or_a_drop,
        ),
        Test(
            "share_nothing_left_after_sigkill",
            nothing_left_after_sigkill,
        ),
        Test("share_slice_on_threads", || {
            a_slice_is_read_in_place(&threads()?)
        }),
        Test(
            "share_slice_read_in_place_on_processes",
            a_slice_crosses_as_references,
        ),
        Test("share_beside_a_streamed_argument", || {
            a_streamed_argument_beside_a_shared_value()
        }),
        Test(
            "share_plumbing_sends_the_value_inline",
            plumbing_sends_the_value_inline,
        ),
    ]);
}

/// Runs a body that shuts a process pool down, then checks that every worker was reaped by
/// the time `shutdown` returned (not even a zombie left), and that the pool then drops.
fn reaped_after(body: fn(&ProcessPool) -> harness::Result) -> harness::Result {
    let pool = processes()?;
    let pids = pool.worker_pids();
    body(&pool)?;
    check(
        pool.worker_pids().is_empty()
            && pids
                .iter()
                .all(|&pid| common::testing::process_state(pid).is_none()),
        "every worker was reaped when shutdown returned",
    )?;
    drop(pool);
    Ok(())
}

fn threads() -> Result<ThreadPool, Error> {
    ThreadPool::new(WORKERS)
}

fn processes() -> Result<ProcessPool, Error> {
    ProcessPool::new(WORKERS)
}

/// Runs one test, then removes every file this process's tests made. The test's pools are
/// gone by then (they live inside `body`), so no task can write a file after the sweep: a
/// failing test, or a cancelled task that a pool still ran, leaves nothing behind.
fn swept(body: impl FnOnce() -> harness::Result) -> harness::Result {
    let result = body();
    let prefix = format!("python_features-{}-", std::process::id());
    for entry in std::fs::read_dir(std::env::temp_dir())?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    result
}
