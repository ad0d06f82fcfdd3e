//! Stopping well and worker state, on either pool: `shutdown` (Python's
//! `shutdown(cancel_futures=...)`), `broadcast` (rayon's, Dask's `Client.run`) and
//! `initializer_with` (Python's `initargs`).

use super::files::{run_job, Files};
use crate::harness::{self, check};
use crate::WORKERS;
use common::{Error, Pool, TaskHandle};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Waits up to 20 s for a handle's answer (a failing test cannot hang).
fn answer<R>(mut handle: common::TaskHandle<R>) -> Result<R, Error> {
    handle.wait_timeout(Duration::from_secs(20))
}

/// The handles of `run_job` tasks.
type Handles = Vec<TaskHandle<(String, bool)>>;

/// A task held running on every worker, and six short ones queued behind them.
fn busy_with_a_queue<P: Pool>(
    pool: &P,
    name: &str,
) -> Result<(Files, Handles, Handles), Box<dyn std::error::Error>> {
    let files = Files::new(name, pool.kind());
    let running: Vec<_> = (0..WORKERS)
        .map(|i| pool.submit(run_job, files.task(&format!("running{i}"), true)))
        .collect();
    files.wait_started(WORKERS)?;
    let queued = (0..6)
        .map(|i| pool.submit(run_job, files.task(&format!("queued{i}"), false)))
        .collect();
    Ok((files, running, queued))
}

/// `shutdown(true)`, called from another thread while every worker runs a task and six tasks
/// are queued: the queued ones end `Cancelled` at once and never start, new tasks are refused
/// with `ShutDown`, the running ones finish, and `shutdown` returns only after them.
pub(crate) fn shutdown_cancels_the_queue<P: Pool + Sync>(pool: &P) -> harness::Result {
    let (files, running, queued) = busy_with_a_queue(pool, "shutdown_cancel")?;
    std::thread::scope(|scope| {
        // As a Ctrl-C handler would: another thread, the pool shared by reference.
        let stopper = scope.spawn(|| pool.shutdown(true));
        let mut cancelled = Vec::new();
        for handle in queued {
            cancelled.push(answer(handle));
        }
        check(
            cancelled.iter().all(|a| *a == Err(Error::Cancelled)),
            &format!("the queued tasks end Cancelled while the others run: {cancelled:?}"),
        )?;
        // The queue closed before it was cancelled: what comes now is refused.
        check(
            answer(pool.submit(|x: u8| x, 1)) == Err(Error::ShutDown),
            "a task submitted after shutdown is refused with ShutDown",
        )?;
        check(
            pool.broadcast(|| 1u8) == Err(Error::ShutDown),
            "so is a broadcast",
        )?;
        check(pool.map(|x: u8| x, 0..4).is_err(), "and a map")?;
        check(
            !stopper.is_finished(),
            "shutdown waits for the running tasks",
        )?;
        files.release()?;
        stopper.join().map_err(|_| "shutdown panicked")?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    for (i, handle) in running.into_iter().enumerate() {
        check(
            handle.is_finished(),
            "shutdown returned after the running tasks",
        )?;
        check(
            answer(handle) == Ok((format!("running{i}"), true)),
            "a running task finishes with its value",
        )?;
    }
    let started = files.started();
    check(
        !started.iter().any(|tag| tag.starts_with("queued")),
        &format!("no queued task ever started: {started:?}"),
    )?;
    pool.shutdown(true); // again: nothing left to do, returns at once
    Ok(())
}

/// `shutdown(false)` lets the queue run first, then refuses new tasks.
pub(crate) fn shutdown_finishes_the_queue<P: Pool + Sync>(pool: &P) -> harness::Result {
    let (files, running, queued) = busy_with_a_queue(pool, "shutdown_finish")?;
    std::thread::scope(|scope| {
        let stopper = scope.spawn(|| pool.shutdown(false));
        // Refused once the queue is closed (answered at once); until then a task may still
        // be queued, and then it runs too.
        let mut early = Vec::new();
        let refused = within(Duration::from_secs(20), || {
            let mut handle = pool.submit(|x: u8| x, 1);
            let refused = handle.wait_timeout(Duration::ZERO) == Err(Error::ShutDown);
            if !refused {
                early.push(handle);
            }
            refused
        });
        check(refused, "new tasks are refused after shutdown")?;
        files.release()?;
        stopper.join().map_err(|_| "shutdown panicked")?;
        for handle in early {
            check(
                answer(handle) == Ok(1),
                "a task queued before the close ran",
            )?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    let mut answers = Vec::new();
    for handle in running.into_iter().chain(queued) {
        answers.push(answer(handle));
    }
    check(
        answers.iter().all(|a| matches!(a, Ok((_, true)))),
        &format!("every task submitted before the shutdown ran: {answers:?}"),
    )?;
    check(files.started().len() == WORKERS + 6, "each one once")
}

/// Which worker runs it: the process, and the thread in it.
fn worker_id() -> String {
    format!("{}/{:?}", std::process::id(), std::thread::current().id())
}

/// `broadcast` while every worker runs a task and 100 tasks are queued behind them: each
/// worker runs it once, right after its task and ahead of the queue (the queued tasks wait
/// for a second release, given only after the broadcast returned).
pub(crate) fn broadcast_reaches_every_worker<P: Pool + Sync>(pool: &P) -> harness::Result {
    let first = Files::new("broadcast_running", pool.kind());
    let queue = Files::new("broadcast_queued", pool.kind());
    let running: Vec<_> = (0..WORKERS)
        .map(|i| pool.submit(run_job, first.task(&format!("running{i}"), true)))
        .collect();
    first.wait_started(WORKERS)?;
    let queued: Vec<_> = (0..100)
        .map(|i| pool.submit(run_job, queue.task(&format!("queued{i}"), true)))
        .collect();
    let mut queued_started = 0;
    let calling = AtomicBool::new(false);
    let ids = std::thread::scope(|scope| {
        let broadcast = scope.spawn(|| {
            calling.store(true, SeqCst);
            pool.broadcast(worker_id)
        });
        // The running tasks are released only once the broadcast is queued: released earlier,
        // a worker would rightly take a queued task first. Nothing outside says "queued", so
        // this waits for the call to begin, then gives it 200 ms to reach the queues (it
        // does in microseconds; the margin is for a loaded machine).
        within(Duration::from_secs(20), || calling.load(SeqCst));
        std::thread::sleep(Duration::from_millis(200));
        first.release()?;
        // Had it queued behind the held tasks, it could not end before their release.
        let ahead = within(Duration::from_secs(20), || broadcast.is_finished());
        queued_started = queue.started().len();
        queue.release()?;
        check(ahead, "the broadcast ends while the queue waits")?;
        broadcast
            .join()
            .map_err(|_| "broadcast panicked".into())
            .and_then(|ids| ids.map_err(Box::<dyn std::error::Error>::from))
    })?;
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    check(
        ids.len() == WORKERS && distinct.len() == WORKERS,
        &format!("one result per worker, each from another worker: {ids:?}"),
    )?;
    check(
        !ids.contains(&worker_id()),
        "the workers ran it, not the caller",
    )?;
    check(
        queued_started <= WORKERS,
        "it came before the queue: at most one queued task a worker had started",
    )?;
    for handle in running.into_iter().chain(queued) {
        check(matches!(answer(handle), Ok((_, true))), "every task ends")?;
    }
    // A panic in it is that worker's error; the pool goes on.
    let panicked = pool.broadcast(|| -> u8 { panic!("not here") });
    check(
        matches!(&panicked, Err(Error::Panicked { message, .. }) if message == "not here"),
        &format!("a panicking broadcast is an error: {panicked:?}"),
    )?;
    check(
        pool.broadcast(|| 5u8)? == vec![5; WORKERS],
        "and the next one runs",
    )
}

thread_local!(static SEED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });

/// `initializer_with` gives every worker its argument; a panic in it fails `build` with the
/// same error on both pools, with its message and place.
pub(crate) fn initializer_with_on_both_pools() -> harness::Result {
    fn seed(value: u64) {
        SEED.set(value);
    }
    fn seeded(_: u8) -> u64 {
        SEED.get()
    }
    let threads = common::ThreadPool::builder()
        .workers(WORKERS)
        .initializer_with(seed, 42)
        .build()?;
    let processes = common::ProcessPool::builder()
        .workers(WORKERS)
        .initializer_with(seed, 42)
        .build()?;
    for seeds in [
        threads.map_chunked(seeded, 0..40, common::Chunk::Size(1))?,
        processes.map_chunked(seeded, 0..40, common::Chunk::Size(1))?,
    ] {
        check(
            seeds.iter().all(|&s| s == 42),
            &format!("every worker was seeded: {seeds:?}"),
        )?;
    }
    check(
        threads.broadcast(|| SEED.get())? == vec![42; WORKERS]
            && processes.broadcast(|| SEED.get())? == vec![42; WORKERS],
        "broadcast sees each worker's state",
    )?;

    fn no_table(rows: u32) {
        panic!("no table of {rows} rows");
    }
    let on_threads = common::ThreadPool::builder()
        .workers(WORKERS)
        .initializer_with(no_table, 7)
        .build()
        .err();
    let on_processes = common::ProcessPool::builder()
        .workers(WORKERS)
        .initializer_with(no_table, 7)
        .build()
        .err();
    check(
        matches!(&on_threads, Some(Error::InitializerPanicked { message, location: Some(at) })
            if message == "no table of 7 rows" && at.contains("stopping.rs")),
        &format!("a panic in it fails build with its message and place: {on_threads:?}"),
    )?;
    check(
        on_processes == on_threads,
        &format!("the same error on both pools: {on_processes:?}"),
    )
}

/// Whether `done` says true within `limit`, asked every millisecond. Bounded by the clock, not
/// by a count of naps: a loaded machine stretches each nap (a count of 20,000 naps of 1 ms once
/// took 19 minutes here).
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
