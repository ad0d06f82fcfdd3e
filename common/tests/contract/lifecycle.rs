//! Workers never outlive their pool: a killed parent, a dropped pool, \`terminate\`.

use crate::harness::{self, check};
use crate::ROLE;
use common::{Error, Pool, ProcessPool, ThreadPool};
use std::time::{Duration, Instant};

/// Acts as a program with a pool: prints its workers' pids, then waits to be killed.
pub(crate) fn pool_owner() {
    let pool = ProcessPool::new(2).expect("workers start");
    println!(
        "{}",
        pool.worker_pids()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::thread::sleep(Duration::from_secs(30)); // bounded: the test kills us long before
}

pub(crate) fn workers_die_with_a_killed_parent() -> harness::Result {
    use std::io::BufRead;
    let mut owner = std::process::Command::new(std::env::current_exe()?)
        .env(ROLE, "pool-owner")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(owner.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let workers: Vec<u32> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    check(
        workers.len() == 2 && workers.iter().all(|&p| common::testing::is_running(p)),
        "the owner's workers run",
    )?;
    owner.kill()?; // SIGKILL: the owner runs no cleanup at all
    owner.wait()?;
    let gone = common::testing::eventually(Duration::from_secs(1), || {
        workers.iter().all(|&p| !common::testing::is_running(p))
    });
    check(
        gone,
        "every worker exits within 1 s of its parent's SIGKILL",
    )
}

pub(crate) fn drop_reaps_every_worker() -> harness::Result {
    let pool = ProcessPool::new(3)?;
    let pids = pool.worker_pids();
    let handles: Vec<_> = (0..30)
        .map(|i| {
            pool.submit(
                |ms: u64| {
                    std::thread::sleep(Duration::from_millis(ms));
                    ms
                },
                i % 3,
            )
        })
        .collect();
    drop(pool); // finishes submitted work first
    for (i, h) in handles.into_iter().enumerate() {
        check(
            h.wait()? == i as u64 % 3,
            "submitted work finished before the drop returned",
        )?;
    }
    check(
        pids.iter()
            .all(|&p| common::testing::process_state(p).is_none()),
        "no worker left, not even a zombie",
    )
}

pub(crate) fn terminate_stops_running_tasks() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let pids = pool.worker_pids();
    let handles: Vec<_> = (0..6)
        .map(|_| pool.submit(|s: u64| std::thread::sleep(Duration::from_secs(s)), 20))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pool.terminate();
    check(
        started.elapsed() < Duration::from_secs(2),
        "terminate returns at once",
    )?;
    for h in handles {
        check(
            h.wait() == Err(Error::Cancelled),
            "running and queued tasks are cancelled",
        )?;
    }
    check(
        pids.iter()
            .all(|&p| common::testing::process_state(p).is_none()),
        "workers are killed and reaped",
    )
}

pub(crate) fn thread_pool_terminate_cancels_pending() -> harness::Result {
    let pool = ThreadPool::new(1)?;
    let running = pool.submit(
        |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        },
        300,
    );
    std::thread::sleep(Duration::from_millis(50));
    let pending: Vec<_> = (0..5).map(|i| pool.submit(|x: u64| x, i)).collect();
    pool.terminate();
    for h in pending {
        check(
            h.wait() == Err(Error::Cancelled),
            "pending tasks are cancelled",
        )?;
    }
    // A running thread cannot be stopped: its task finishes in the background.
    check(running.wait() == Ok(300), "the running task completes")
}
