//! A task that forks cannot hide its worker's death.

use crate::harness::{self, check};
use common::{Error, Pool, ProcessPool};
use std::time::{Duration, Instant};

/// A task that forks a copy of its worker which lives on, then kills the worker.
fn fork_then_die(_: u32) -> u32 {
    // SAFETY: the child only sleeps and exits (async-signal-safe calls), never returning into
    // Rust code that might touch locks held by other threads at the time of the fork.
    unsafe {
        if libc::fork() == 0 {
            libc::sleep(30);
            libc::_exit(0);
        }
        libc::raise(libc::SIGKILL);
    }
    0
}

/// A task that forks a long-lived copy of its worker, then runs for a while.
fn fork_then_sleep(_: u32) -> u32 {
    // SAFETY: as in `fork_then_die`.
    unsafe {
        if libc::fork() == 0 {
            libc::sleep(30);
            libc::_exit(0);
        }
    }
    std::thread::sleep(Duration::from_secs(30));
    0
}

pub(crate) fn forked_task() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let worker = pool.worker_pids()[0];
    let started = Instant::now();
    let outcome = pool.submit(fork_then_die, 0).wait();
    check(
        matches!(outcome, Err(Error::WorkerDied { pid, .. }) if pid == worker),
        &format!("the death is seen despite the forked copy: {outcome:?}"),
    )?;
    check(
        started.elapsed() < Duration::from_secs(5),
        "within the watch interval, not after the copy's 30 s",
    )?;
    check(
        common::testing::eventually(Duration::from_secs(2), || {
            common::testing::processes_with_env("COMMON_CHILD_OF", &std::process::id().to_string())
                .len()
                == 1
        }),
        "the forked copy went with its worker (only the replacement is left)",
    )?;
    // terminate() is bounded even while a forked copy holds the worker's socket.
    let handle = pool.submit(fork_then_sleep, 0);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pool.terminate();
    check(
        started.elapsed() < Duration::from_secs(3),
        "terminate returns at once",
    )?;
    check(
        matches!(handle.wait(), Err(Error::Cancelled)),
        "the running task is cancelled",
    )?;
    check(
        common::testing::eventually(Duration::from_secs(2), || {
            common::testing::processes_with_env("COMMON_CHILD_OF", &std::process::id().to_string())
                .is_empty()
        }),
        "no worker and no forked copy is left",
    )
}
