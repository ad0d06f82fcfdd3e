//! A worker process that dies during a task fails that task only, and is replaced.

use crate::harness::{self, check};
use common::{Chunk, Error, Exit, Pool, ProcessPool};
use std::time::Duration;

/// A task that kills its own worker process in the way named.
fn fatal(how: String) -> u32 {
    match how.as_str() {
        "abort" => std::process::abort(),
        "sigkill" => {
            let _ = common::demo::sys::send_signal(std::process::id(), libc::SIGKILL);
            std::thread::sleep(Duration::from_secs(10));
            unreachable!("SIGKILL cannot be caught")
        }
        "exit3" => std::process::exit(3),
        _ => 1,
    }
}

pub(crate) fn worker_death(how: &str, expected_cause: &str) -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let before = pool.worker_pids();
    let handles: Vec<_> = (0..20)
        .map(|i| pool.submit(fatal, if i == 10 { how.into() } else { "ok".into() }))
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Err(Error::WorkerDied { pid, cause, .. }) => {
                check(i == 10, "only the fatal task fails")?;
                check(before.contains(&pid), "the error names the dead worker")?;
                // The structured cause, and the words a user reads.
                check(
                    cause.to_string() == expected_cause,
                    &format!("the cause is {expected_cause:?} (got {cause:?})"),
                )?;
            }
            Ok(v) => check(v == 1 && i != 10, "every other task completes")?,
            Err(e) => return Err(format!("task {i}: unexpected {e}").into()),
        }
    }
    check(
        pool.map(|x: u32| x + 1, 0..50)? == (1..51).collect::<Vec<_>>(),
        "the pool works after the death",
    )?;
    // The error is delivered first; the replacement's handshake follows within milliseconds.
    let replaced = common::testing::eventually(Duration::from_secs(5), || {
        let now = pool.worker_pids();
        now.len() == 2 && !now.iter().all(|p| before.contains(p))
    });
    check(replaced, "the dead worker was replaced")?;
    Ok(())
}

pub(crate) fn worker_killed_while_idle_is_replaced() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let victim = pool.worker_pids()[0];
    common::demo::sys::send_signal(victim, libc::SIGKILL)?;
    // The idle supervisor notices within its idle check (100 ms) and reaps: no zombie.
    check(
        common::testing::eventually(Duration::from_secs(2), || {
            common::testing::process_state(victim).is_none()
        }),
        "the killed worker is reaped, not left a zombie",
    )?;
    check(
        pool.map_chunked(|x: u32| x * 3, 0..100, Chunk::Size(1))?
            == (0..100).map(|x| x * 3).collect::<Vec<_>>(),
        "no task fails",
    )?;
    let replaced = common::testing::eventually(Duration::from_secs(5), || {
        let now = pool.worker_pids();
        now.len() == 2 && !now.contains(&victim)
    });
    check(replaced, "a new worker took its place")
}

pub(crate) fn worker_killed_while_busy_fails_its_task() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let pids = pool.worker_pids();
    let nap = |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms));
        std::process::id()
    };
    let long: Vec<_> = (0..2).map(|_| pool.submit(nap, 1500)).collect();
    std::thread::sleep(Duration::from_millis(300)); // both workers are now inside their task
    common::demo::sys::send_signal(pids[0], libc::SIGKILL)?;
    let later: Vec<_> = (0..10).map(|_| pool.submit(nap, 1)).collect();
    let outcomes: Vec<_> = long.into_iter().map(|h| h.wait()).collect();
    let died = outcomes.iter().filter(|r| matches!(r, Err(Error::WorkerDied { pid, cause, .. }) if *pid == pids[0] && *cause == Exit::Signal(9))).count();
    let fine = outcomes
        .iter()
        .filter(|r| matches!(r, Ok(pid) if *pid == pids[1]))
        .count();
    check(
        died == 1 && fine == 1,
        &format!("one task dies with its worker, the other completes: {outcomes:?}"),
    )?;
    for h in later {
        h.wait()?;
    }
    Ok(())
}
