//! `map_iter`, `is_finished`, `cancel` and a dropped `map_unordered` on either pool.

use super::files::{run_job, Files};
use crate::harness::{self, check};
use crate::WORKERS;
use common::{Chunk, Error, Pool};
use std::time::Duration;

/// `map_iter` yields in item order, and lazily: the first result comes out while the last
/// task is still waiting for a release that the test gives only after seeing it.
pub(crate) fn map_iter<P: Pool>(pool: &P) -> harness::Result {
    // First, on the fresh pool: tasks that hold a worker (see `run_job`).
    let files = Files::new("map_iter", pool.kind());
    let jobs = (0..3).map(|i| files.task(&format!("item{i}"), i == 2));
    let mut results = pool.map_iter_chunked(run_job, jobs, Chunk::Size(1))?;
    check(
        results.next() == Some(Ok(("item0".to_string(), true))),
        "the first result comes first",
    )?;
    // Only now may the last item finish: had map_iter waited for every item before yielding
    // the first, the last would have given up waiting (`false`).
    files.release()?;
    let rest: Vec<_> = results.collect();
    check(
        rest == vec![
            Ok(("item1".to_string(), true)),
            Ok(("item2".to_string(), true)),
        ],
        &format!("the rest follow in order, the last released by the test: {rest:?}"),
    )?;

    // Then many short ones.
    let tripled: Result<Vec<u64>, Error> = pool.map_iter(|x: u64| x * 3, 0..500).collect();
    check(
        tripled? == (0..500).map(|x| x * 3).collect::<Vec<_>>(),
        "map_iter keeps item order",
    )?;
    for chunk in [Chunk::Size(1), Chunk::Size(7), Chunk::Size(1000)] {
        let lengths: Result<Vec<usize>, Error> = pool
            .map_iter_chunked(|s: String| s.len(), (0..50).map(|i| "y".repeat(i)), chunk)?
            .collect();
        check(
            lengths? == (0..50).collect::<Vec<_>>(),
            &format!("map_iter_chunked keeps item order with {chunk:?}"),
        )?;
    }
    check(
        pool.map_iter_chunked(|x: u8| x, 0..3, Chunk::Size(0)).err() == Some(Error::ZeroChunk),
        "a chunk of zero is refused",
    )
}

/// `is_finished` is false while the task waits for the test, true once it is answered.
pub(crate) fn is_finished<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("is_finished", pool.kind());
    let handle = pool.submit(run_job, files.task("held", true));
    files.wait_started(1)?;
    check(!handle.is_finished(), "a held task is not finished")?;
    files.release()?;
    for _ in 0..20_000 {
        if handle.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    check(handle.is_finished(), "a released task finishes within 20 s")?;
    check(
        handle.wait() == Ok(("held".to_string(), true)),
        "and its result is there",
    )
}

/// `cancel` of a task queued behind busy workers: it returns true, the waiter gets
/// `Cancelled`, and (where the pool honours it) the task never starts.
pub(crate) fn cancel<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("cancel", pool.kind());
    // Every worker takes one task that waits for the release; the rest queue behind them.
    let busy: Vec<_> = (0..WORKERS)
        .map(|i| pool.submit(run_job, files.task(&format!("busy{i}"), true)))
        .collect();
    files.wait_started(WORKERS)?;
    let queued: Vec<_> = (0..4)
        .map(|i| pool.submit(run_job, files.task(&format!("queued{i}"), false)))
        .collect();
    check(queued[0].cancel(), "a queued task can be cancelled")?;
    check(queued[2].cancel(), "another one too")?;
    check(
        !queued[2].cancel(),
        "cancelling twice says it was not cancelled now",
    )?;
    check(
        queued[0].is_finished(),
        "a cancelled task counts as finished",
    )?;
    if pool.kind() == "thread" {
        check(
            !busy[0].cancel(),
            "a running thread task cannot be cancelled",
        )?;
    }
    files.release()?;
    let mut answers = Vec::new();
    for handle in busy.into_iter().chain(queued) {
        answers.push(handle.wait());
    }
    let ok = |tag: &str| Ok((tag.to_string(), true));
    let expected = vec![
        ok("busy0"),
        ok("busy1"),
        Err(Error::Cancelled),
        ok("queued1"),
        Err(Error::Cancelled),
        ok("queued3"),
    ];
    check(answers == expected, &format!("answers: {answers:?}"))?;
    let done = pool.submit(|x: u8| x, 7);
    check(done.wait() == Ok(7), "the pool goes on")?;
    let started = files.started();
    for tag in ["queued0", "queued2"] {
        check(
            !started.iter().any(|s| s == tag),
            &format!("cancelled {tag} never started (started: {started:?})"),
        )?;
    }
    check(
        started.iter().any(|s| s == "queued1") && started.iter().any(|s| s == "queued3"),
        "the tasks not cancelled ran",
    )
}

/// Dropping `Unordered` before the end cancels its batches that have not started, as dropping
/// `MapIter` does: with every worker held, the tasks queued behind them never start.
pub(crate) fn unordered_drop<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("unordered_drop", pool.kind());
    let jobs = (0..WORKERS + 8).map(|i| files.task(&format!("item{i}"), i < WORKERS));
    let stream = pool.map_unordered(run_job, jobs);
    files.wait_started(WORKERS)?;
    drop(stream);
    files.release()?;
    // A task queued after them: once it is answered, every queued item has been taken from
    // the queue, run or skipped. The pause lets a batch that a worker took start and log.
    check(
        pool.submit(|x: u8| x, 7).wait() == Ok(7),
        "the pool goes on",
    )?;
    std::thread::sleep(Duration::from_millis(100));
    let started = files.started();
    check(
        started.len() == WORKERS,
        &format!("only the held tasks started, the queued ones were cancelled: {started:?}"),
    )
}
