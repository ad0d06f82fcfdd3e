//! Batch size: many trivial tasks, one per MPI message against automatic batches.
//!
//! A trivial task costs nothing; its trip costs a message there and one back, plus encoding.
//! With one task per batch, the pool pays that for every task; with automatic batches it pays
//! it about eight times per worker rank in all: they start at Python's `Pool.map` size (a
//! quarter of the tasks per rank) and shrink to an eighth of that, so no rank waits long at
//! the end (`common::Chunk::Auto`; 10^4 tasks on 2 ranks: 16 batches, 1,250 down to 28).
//! mpi4py.futures sends one task per message unless given a `chunksize`.

use crate::{MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, plural, speedup};
use common::{Chunk, Pool};
use std::io::Write;
use std::time::Instant;

/// The trivial task.
pub fn add_one(n: u64) -> u64 {
    n + 1
}

/// The bench's side of `bench/against-mpi4py`: the same three numbers its Python side
/// measures (10^4 trivial tasks at batch size 1 and automatic, a submit/wait round trip), on
/// one line: `measure batch1_ns=.. auto_ns=.. trip_ns=.. workers=..`.
///
/// # Errors
/// A pool that cannot start, a wrong result, or the writer's error.
pub fn bench_line(out: &mut impl Write, workers: usize) -> anyhow::Result<()> {
    const TASKS: u64 = 10_000;
    const TRIPS: u64 = 2_000;
    let pool = MpiPool::new(workers)?;
    pool.map(add_one, 0..100)?; // warm-up, as on the Python side
    let expected: Vec<u64> = (1..=TASKS).collect();
    let per_task = |chunk: Chunk| -> anyhow::Result<u128> {
        let started = Instant::now();
        anyhow::ensure!(
            pool.map_chunked(add_one, 0..TASKS, chunk)? == expected,
            "wrong results"
        );
        Ok(started.elapsed().as_nanos() / u128::from(TASKS))
    };
    let (batch1, auto) = (per_task(Chunk::Size(1))?, per_task(Chunk::Auto)?);
    let started = Instant::now();
    for i in 0..TRIPS {
        anyhow::ensure!(pool.submit(add_one, i).wait()? == i + 1, "wrong result");
    }
    let trip = started.elapsed().as_nanos() / u128::from(TRIPS);
    writeln!(
        out,
        "measure batch1_ns={batch1} auto_ns={auto} trip_ns={trip} workers={workers}"
    )?;
    Ok(())
}

/// Times `tasks` trivial tasks at batch size 1 and automatic, and checks both results.
///
/// # Errors
/// A pool that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings, tasks: usize) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "batch-size",
        "trivial tasks, one per message against automatic batches",
        &[("tasks", tasks), ("workers", workers)],
    )?;
    let pool = MpiPool::new(workers)?;
    writeln!(
        out,
        "{} ready",
        plural(workers, "worker rank", "worker ranks")
    )?;
    let expected: Vec<u64> = (1..=tasks as u64).collect();
    let time = |chunk: Chunk| -> anyhow::Result<_> {
        let started = Instant::now();
        let results = pool.map_chunked(add_one, 0..tasks as u64, chunk)?;
        Ok((started.elapsed(), results == expected))
    };
    let (one, one_right) = time(Chunk::Size(1))?;
    // Automatic batches shrink towards the end, so that no rank is left idle while one works.
    let auto_sizes = Chunk::Auto.batches_for(tasks, workers)?;
    let auto_sizes = match (auto_sizes.first(), auto_sizes.last()) {
        (Some(first), Some(last)) if first != last => format!("{first} to {last}"),
        (Some(first), _) => first.to_string(),
        _ => "0".into(),
    };
    let (auto, auto_right) = time(Chunk::Auto)?;
    let per_task = |d: std::time::Duration| duration(d / tasks as u32);
    writeln!(
        out,
        "batch size 1:          {} in all, {} per task",
        duration(one),
        per_task(one)
    )?;
    writeln!(
        out,
        "batch sizes {auto_sizes:<10} {} in all, {} per task (automatic)",
        duration(auto),
        per_task(auto)
    )?;
    let lesson = if auto < one {
        "batch tiny tasks: a message costs µs"
    } else {
        "no gain: the machine was too busy"
    };
    conclude(
        out,
        one_right && auto_right,
        format_args!(
            "right results both ways; auto {} faster",
            speedup(one, auto)
        ),
        lesson,
    )?;
    Ok(())
}
