//! \`as_completed\` and a deadline on a map (\`map_timeout\`).

use super::files::{run_job, Files, Job};
use crate::harness::{self, check};
use crate::WORKERS;
use common::{as_completed, Chunk, Error, Pool};
use std::time::Duration;

/// `as_completed` yields every handle exactly once with its own result; its bounds hold.
pub(crate) fn as_completed_all<P: Pool>(pool: &P) -> harness::Result {
    // A deadline for the whole iteration (Python's `as_completed(fs, timeout)`): the held task
    // cannot finish before the test releases it, so it comes out as a timeout, once.
    let files = Files::new("as_completed", pool.kind());
    // Generous, so that the quick task is in long before it even on a loaded machine.
    let limit = Duration::from_secs(2);
    let handles = vec![
        pool.submit(run_job, files.task("held", true)),
        pool.submit(run_job, files.task("quick", false)),
    ];
    let all: Vec<_> = as_completed(handles).with_timeout(limit).collect();
    check(
        all == vec![
            (1, Ok(("quick".to_string(), true))),
            (0, Err(Error::Timeout(limit))),
        ],
        &format!("the quick one, then the held one timed out: {all:?}"),
    )?;
    files.release()?;

    // `next_timeout` (Python's `wait(FIRST_COMPLETED, timeout)`): nothing lost on a timeout.
    let files = Files::new("wait_first", pool.kind());
    let handles = vec![
        pool.submit(run_job, files.task("held0", true)),
        pool.submit(run_job, files.task("held1", true)),
    ];
    let mut first = as_completed(handles);
    let short = Duration::from_millis(20);
    check(
        first.next_timeout(short) == Err(Error::Timeout(short)),
        "nothing finished before the release",
    )?;
    check(first.remaining() == 2, "nothing was lost")?;
    files.release()?;
    let long = Duration::from_secs(20);
    let Ok(Some((one, Ok(_)))) = first.next_timeout(long) else {
        return check(false, "one finished after the release");
    };
    let pending = first.into_pending();
    check(
        pending.len() == 1 && pending[0].0 == 1 - one,
        "into_pending gives back the other handle",
    )?;
    let (index, handle) = pending.into_iter().next().expect("checked above");
    check(
        handle.wait() == Ok((format!("held{index}"), true)),
        "and it can still be waited on",
    )?;

    // Last, many short tasks (see `run_job` on why they come last).
    let handles: Vec<_> = (0..20u64).map(|x| pool.submit(|x: u64| x * x, x)).collect();
    let mut seen: Vec<usize> = Vec::new();
    for (index, result) in as_completed(handles) {
        check(
            result == Ok(index as u64 * index as u64),
            &format!("handle {index} carries its own result"),
        )?;
        seen.push(index);
    }
    seen.sort_unstable();
    check(
        seen == (0..20).collect::<Vec<_>>(),
        "every handle exactly once",
    )
}

/// `map_timeout`: past the deadline the call returns, while the first batches still run,
/// and the batches still queued are cancelled and (where the pool honours it) never start.
pub(crate) fn map_timeout<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("map_timeout", pool.kind());
    // Eight items on two workers: `Chunk::Auto` makes batches of one. The first two hold
    // both workers until the test releases them, long after the deadline.
    let jobs: Vec<Job> = (0..8)
        .map(|i| files.task(&format!("item{i}"), i < WORKERS))
        .collect();
    let limit = Duration::from_millis(200);
    let out = pool.map_timeout(run_job, jobs, limit);
    check(
        out == Err(Error::Timeout(limit)),
        &format!("the deadline passed: {out:?}"),
    )?;
    // Still held: the call did not wait for the running batches.
    check(
        files.started().len() == WORKERS,
        "only the held batches started",
    )?;
    files.release()?;
    // The pool is free again once the held batches are done; one task per worker shows it.
    let after = pool.map_chunked(|x: u8| x, 0..WORKERS as u8, Chunk::Size(1))?;
    check(after.len() == WORKERS, "the pool goes on")?;
    let started = files.started();
    check(
        started.len() == WORKERS,
        &format!("the queued batches never started: {started:?}"),
    )?;
    check(
        pool.map_timeout(|x: u32| x + 1, 0..100, Duration::from_secs(20)) == Ok((1..101).collect()),
        "a map within its deadline gives every result",
    )
}
