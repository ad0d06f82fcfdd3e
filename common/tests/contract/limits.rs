//! What only a process pool can offer, since only a process can be killed alone: a time limit
//! per task (`task_timeout`) and retries after a worker's death (`retries`).

use crate::harness::{self, check};
use common::{Chunk, Error, Exit, Pool, ProcessPool};
use std::time::{Duration, Instant};

/// Naps `ms` milliseconds and returns them.
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// A nap long enough to be past any limit of these tests (and short enough to bound them).
const STUCK: u64 = 20_000;

/// A task past `task_timeout` fails with `TaskTimedOut`, its worker replaced, long before the
/// task would have ended: alone (lent to an idle worker, its caller reading), among 99 others
/// that complete, and in a map.
pub(crate) fn a_task_past_its_timeout() -> harness::Result {
    let limit = Duration::from_secs(1);
    let pool = ProcessPool::builder()
        .workers(2)
        .task_timeout(limit)
        .build()?;
    let before = pool.worker_pids();
    let started = Instant::now();
    let alone = pool.submit(nap, STUCK).wait();
    check(
        alone == Err(Error::TaskTimedOut { limit }),
        &format!("a lone task past its limit times out: {alone:?}"),
    )?;
    check(
        started.elapsed() < Duration::from_millis(STUCK / 2),
        "at its limit, not at its end",
    )?;
    check(
        common::testing::eventually(Duration::from_secs(5), || {
            let now = pool.worker_pids();
            now.len() == 2 && now != before
        }),
        "its worker is replaced",
    )?;

    let started = Instant::now();
    let handles: Vec<_> = (0..100)
        .map(|i| pool.submit(nap, if i == 50 { STUCK } else { 2 }))
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.wait()).collect();
    for (i, outcome) in outcomes.iter().enumerate() {
        let expected = if i == 50 {
            Err(Error::TaskTimedOut { limit })
        } else {
            Ok(2)
        };
        check(*outcome == expected, &format!("task {i}: {outcome:?}"))?;
    }
    check(
        started.elapsed() < Duration::from_millis(STUCK / 2),
        "the 99 others did not wait for the stuck one",
    )?;

    let items: Vec<u64> = (0..20).map(|i| if i == 7 { STUCK } else { 1 }).collect();
    let mapped = pool.map_chunked(nap, items, Chunk::Size(1));
    check(
        mapped == Err(Error::TaskTimedOut { limit }),
        &format!("a map reports its item past the limit: {mapped:?}"),
    )?;
    check(
        pool.map(|x: u32| x * 2, 0..100)? == (0..100).map(|x| x * 2).collect::<Vec<_>>(),
        "the pool goes on",
    )
}

/// A marker file per test run: a task that finds it missing creates it and aborts.
fn marker(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("pool-contract-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path.to_string_lossy().into_owned()
}

/// Aborts its worker on its first attempt (the one that creates the marker), answers 7 on the
/// next.
fn abort_once(marker: String) -> u32 {
    if std::fs::File::create_new(&marker).is_ok() {
        std::process::abort();
    }
    7
}

/// A task that aborts on its first attempt: at most once by default (`WorkerDied`, 1
/// attempt); with `retries(1)` it runs again and succeeds, lent or queued.
pub(crate) fn a_task_retried_after_its_worker_died() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let once = marker("at-most-once");
    let outcome = pool.submit(abort_once, once.clone()).wait();
    check(
        matches!(
            outcome,
            Err(Error::WorkerDied {
                cause: Exit::Signal(libc::SIGABRT),
                attempts: 1,
                ..
            })
        ),
        &format!("by default a death is final: {outcome:?}"),
    )?;
    let _ = std::fs::remove_file(once);

    let pool = ProcessPool::builder().workers(2).retries(1).build()?;
    let lent = marker("lent");
    let outcome = pool.submit(abort_once, lent.clone()).wait();
    check(
        outcome == Ok(7),
        &format!("retries(1): a lent task runs again: {outcome:?}"),
    )?;
    let queued: Vec<String> = (0..4).map(|i| marker(&format!("queued{i}"))).collect();
    let outcome = pool.map_chunked(abort_once, queued.clone(), Chunk::Size(1));
    check(
        outcome == Ok(vec![7; 4]),
        &format!("queued tasks each run again after their worker's death: {outcome:?}"),
    )?;
    for path in std::iter::once(lent).chain(queued) {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Aborts its worker every time for item 500; every other item answers itself.
fn poison(item: u32) -> u32 {
    if item == 500 {
        std::process::abort();
    }
    item
}

/// With `retries(2)`, a task that kills every worker it touches fails after 3 attempts,
/// counted in its error, while 1,000 others complete.
pub(crate) fn a_poison_task_fails_after_its_attempts() -> harness::Result {
    let pool = ProcessPool::builder().workers(2).retries(2).build()?;
    let before = pool.worker_pids();
    let handles: Vec<_> = (0..1001).map(|i| pool.submit(poison, i)).collect();
    let mut completed = 0;
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Ok(v) if v as usize == i && i != 500 => completed += 1,
            Err(Error::WorkerDied {
                cause: Exit::Signal(libc::SIGABRT),
                attempts: 3,
                ..
            }) if i == 500 => {}
            other => return Err(format!("task {i}: {other:?}").into()),
        }
    }
    check(completed == 1000, "the 1,000 others complete")?;
    let died = pool.map_chunked(poison, 495..505, Chunk::Size(1));
    check(
        matches!(died, Err(Error::WorkerDied { attempts: 3, .. })),
        &format!("in a map too: {died:?}"),
    )?;
    check(
        common::testing::eventually(Duration::from_secs(5), || {
            let now = pool.worker_pids();
            now.len() == 2 && now.iter().all(|pid| !before.contains(pid))
        }),
        "the workers it killed were replaced",
    )
}
