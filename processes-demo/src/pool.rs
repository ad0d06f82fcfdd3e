//! Pool: the same prime-counting tasks through `common::ProcessPool`.
//!
//! A pool starts its workers once and feeds them tasks, so a task costs a message (its argument
//! encoded, sent over a socket, decoded) instead of a program start. The code below is written
//! against the `Pool` trait; its twin in threads-demo differs only in the line that builds the
//! pool, and gets the same total. The workers are this program started again: `common::init()`,
//! the first line of `main`, is where a worker serves its pool instead of running the demo. Which
//! worker runs which task varies between runs: each takes the next task when it is free.
//! `pools-demo` compares the two pools in depth (timelines, chunking, failures).

use anyhow::{Context, Result};
use common::demo::narrate::{conclude, duration, header};
use common::{Pool, ProcessPool};
use std::io::Write;
use std::time::Instant;

/// Tasks the numbers are cut into, by default.
pub const TASKS: usize = 64;

/// One task: the primes in `start..end`. A plain function, so any pool can run it.
pub fn count_range((start, end): (u64, u64)) -> u64 {
    crate::speedup::count_primes(start, end, 1)
}

/// `0..limit` cut into `tasks` ranges of (nearly) equal length.
pub fn ranges(limit: u64, tasks: usize) -> Vec<(u64, u64)> {
    let tasks = tasks as u64;
    (0..tasks)
        .map(|i| (limit * i / tasks, limit * (i + 1) / tasks))
        .collect()
}

/// Runs `tasks` ranges through a pool of `workers` and checks the total against one worker.
///
/// # Errors
/// A pool that cannot start, a failed task, or a wrong total.
pub fn run(out: &mut impl Write, workers: usize, tasks: usize, limit: u64) -> Result<()> {
    header(
        out,
        "pool",
        "the same tasks through common's pool",
        &[
            ("workers", workers as u64),
            ("tasks", tasks as u64),
            ("limit", limit),
        ],
    )?;
    let started = Instant::now();
    let pool = ProcessPool::builder()
        .workers(workers)
        .record_timeline(true)
        .build()
        .context("starting the pool")?;
    writeln!(
        out,
        "[parent] pool: {} {} workers ready after {}",
        pool.workers(),
        pool.kind(),
        duration(started.elapsed())
    )?;

    let started = Instant::now();
    let counts = pool
        .map(count_range, ranges(limit, tasks))
        .context("running the tasks")?;
    let took = started.elapsed();
    let mut per_worker = vec![0; pool.workers()];
    for span in pool.timeline() {
        per_worker[span.worker] += span.len;
    }
    writeln!(
        out,
        "[parent] pool: {tasks} tasks in {}; tasks per worker: {} (varies between runs)",
        duration(took),
        per_worker
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )?;

    let total: u64 = counts.iter().sum();
    let expected = count_range((0, limit));
    conclude(
        out,
        total == expected && per_worker.iter().sum::<usize>() == tasks,
        format!("{total} primes below {limit} from {tasks} tasks (expected {expected})"),
        "one Pool interface; see pools-demo for threads against processes",
    )?;
    Ok(())
}
