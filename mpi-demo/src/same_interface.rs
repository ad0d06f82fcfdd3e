//! Same interface: one generic function, three pools (threads, processes, MPI ranks).
//!
//! `summarize` is written once, over `P: Pool`. On a `ThreadPool` the items move to threads of
//! this process; on a `ProcessPool` and an `MpiPool` they are encoded and sent to other
//! processes of this same executable, over a socket or as MPI messages. The results cannot
//! differ, because the task is a plain function of its argument; only *where* it ran differs,
//! and each task reports that (rank, pid, host). A task that panics fails alone on all three.
//!
//! A large value that every task reads is shared once (`pool.share`), on the ranks as on
//! threads: it goes to each rank once, each task's batch names it by a key, and when the last
//! handle goes every rank lets it go. The narration counts the bytes that took.

use crate::{place, rank_tag, MpiPool, Place, Settings};
use common::demo::narrate::{conclude, header, plural};
use common::{Array, Error, Pool, ProcessPool, Shared, ThreadPool};
use std::collections::BTreeSet;
use std::io::Write;

/// How many starting numbers to follow.
pub const ITEMS: u64 = 10_000;

/// Steps of the Collatz sequence from `n` down to 1: uneven, cheap, and easy to check.
pub fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n > 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

/// A task that panics for 3 and squares anything else.
pub fn fragile(n: u64) -> u64 {
    assert!(n != 3, "no 3s here");
    n * n
}

/// How many tasks read the shared table.
pub const READERS: u64 = 100;
/// How many numbers the shared table holds: 4 MiB of `u64`.
pub const TABLE_LEN: usize = 1 << 19;

/// The shared table: numbers that are not all alike, the same on every run.
pub fn table() -> Array<u64> {
    (0..TABLE_LEN as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40)
        .collect()
}

/// Task `i` sums every 100th number from `i` on: each task reads across the whole table.
pub fn stride_sum((table, i): (Shared<Array<u64>>, u64)) -> u64 {
    table
        .iter()
        .skip(i as usize)
        .step_by(READERS as usize)
        .sum()
}

/// Shares the table once, and has [`READERS`] tasks read it; the handle goes at the end.
///
/// # Errors
/// The value cannot be shared, or a task's error (none is expected).
pub fn read_shared<P: Pool>(pool: &P) -> anyhow::Result<Vec<u64>> {
    let table = pool.share(table())?;
    Ok(pool.map(stride_sum, (0..READERS).map(|i| (table.clone(), i)))?)
}

/// How many shared values the rank that runs it keeps (asked of every rank by a broadcast).
fn kept_here() -> usize {
    common::plumbing::shared_kept()
}

/// [`read_shared`] on the ranks, told in bytes sent; whether its sums are `expected` and no
/// rank keeps the table after its last handle went.
fn share_on_ranks(out: &mut impl Write, pool: &MpiPool, expected: &[u64]) -> anyhow::Result<bool> {
    let before = pool.bytes_sent();
    let sums = read_shared(pool)?;
    // Every batch of the map is answered: none is in flight to add to this.
    let batches = pool.bytes_sent().batches - before.batches;
    // The forget went to each rank ahead of this broadcast's batch (one ordered path), so
    // every rank has dropped the table when it answers, and every forget is counted.
    let kept: usize = pool.broadcast(kept_here)?.into_iter().sum();
    let shared = pool.bytes_sent().shared - before.shared;
    let size = (TABLE_LEN * 8) as u64;
    let ranks = plural(pool.workers(), "rank", "ranks");
    let alike = match sums == expected {
        true => "as on threads",
        false => "NOT as on threads",
    };
    writeln!(
        out,
        "   mpi share: a {} table sent once to each of {ranks} ({}); {READERS} sums {alike}",
        mib(size),
        mib(shared),
    )?;
    writeln!(
        out,
        "   batches: {} bytes a task, not {} ({} by value); then dropped: {kept} kept on {ranks}",
        batches / READERS,
        mib(size),
        mib(size * READERS),
    )?;
    Ok(sums == expected && kept == 0)
}

/// Bytes in MiB, to three significant figures.
fn mib(bytes: u64) -> String {
    let mib = bytes as f64 / f64::from(1 << 20);
    match mib {
        m if m < 10.0 => format!("{m:.2} MiB"),
        m if m < 100.0 => format!("{m:.1} MiB"),
        m => format!("{m:.0} MiB"),
    }
}

/// What one pool computed.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    /// Steps for every start, in item order.
    pub steps: Vec<u64>,
    /// `fragile` on 1..=5: which items failed, and the values of the others.
    pub fragile: (Vec<usize>, Vec<u64>),
    /// How many answers a broadcast got: one from each worker.
    pub broadcast: usize,
    /// What a task submitted after `shutdown` got.
    pub after_shutdown: Result<u64, Error>,
}

/// The one function all three pools run. It knows nothing about threads, processes or MPI.
///
/// # Errors
/// A task's error (none is expected from `collatz_steps`), or the writer's.
pub fn summarize<P: Pool>(out: &mut impl Write, pool: &P) -> anyhow::Result<Summary> {
    let steps = pool.map(collatz_steps, 1..=ITEMS)?;
    let mut failed = Vec::new();
    let mut values = Vec::new();
    let mut results: Vec<(usize, Result<u64, Error>)> =
        pool.map_unordered(fragile, 1..=5).collect();
    results.sort_by_key(|(i, _)| *i);
    for (i, result) in results {
        match result {
            Ok(v) => values.push(v),
            Err(e) => {
                writeln!(out, "   {}: item {i} failed alone: {e}", pool.kind())?;
                failed.push(i);
            }
        }
    }
    let places: BTreeSet<Place> = pool
        .map_chunked(place, 0..8 * pool.workers() as u64, common::Chunk::Size(1))?
        .into_iter()
        .collect();
    let ran: Vec<String> = places
        .iter()
        .map(|p| match pool.kind() {
            "mpi" => format!("{} pid {} on {}", rank_tag(p.rank), p.pid, p.host),
            _ => common::demo::narrate::pid_tag(p.pid),
        })
        .collect();
    writeln!(
        out,
        "{} pool: total {} steps; ran in {}",
        pool.kind(),
        steps.iter().sum::<u64>(),
        plural(ran.len(), "process", "processes")
    )?;
    for place in ran {
        writeln!(out, "   {place}")?;
    }
    // Once on every worker (a per-worker setting, a cache to clear), then a graceful stop.
    let broadcast = pool.broadcast(std::process::id)?.len();
    pool.shutdown(false);
    let after_shutdown = pool.submit(collatz_steps, 27).wait();
    writeln!(
        out,
        "   broadcast: {}; a task after shutdown(false): {:?}",
        plural(broadcast, "answer", "answers"),
        after_shutdown
    )?;
    Ok(Summary {
        steps,
        fragile: (failed, values),
        broadcast,
        after_shutdown,
    })
}

/// Runs [`summarize`] on the three pools and checks them against a sequential run.
///
/// # Errors
/// A pool that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "same-interface",
        "one generic function, three pools, identical results",
        &[
            ("workers", workers as u64),
            ("items", ITEMS),
            ("shared_mib", ((TABLE_LEN * 8) >> 20) as u64),
            ("readers", READERS),
        ],
    )?;
    writeln!(
        out,
        "{} this program is pid {} on {}",
        rank_tag(0),
        std::process::id(),
        crate::launch::host_name()
    )?;
    let threads = summarize(out, &ThreadPool::new(workers)?)?;
    let processes = summarize(out, &ProcessPool::new(workers)?)?;
    let on_threads = read_shared(&ThreadPool::new(workers)?)?;
    let mpi_pool = MpiPool::new(workers)?;
    let shared_alike = share_on_ranks(out, &mpi_pool, &on_threads)?;
    let mpi = summarize(out, &mpi_pool)?;
    let expected = Summary {
        steps: (1..=ITEMS).map(collatz_steps).collect(),
        fragile: (vec![2], vec![1, 4, 16, 25]),
        broadcast: workers,
        after_shutdown: Err(Error::ShutDown),
    };
    let same = threads == expected && processes == expected && mpi == expected && shared_alike;
    conclude(
        out,
        same,
        format_args!(
            "3 pools, {}, 1 panic: identical",
            plural(ITEMS as usize, "item", "items")
        ),
        "one generic fn; only where it ran differs",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collatz_is_right_for_known_starts() {
        assert_eq!(collatz_steps(1), 0);
        assert_eq!(collatz_steps(27), 111);
    }
}
