//! Shared memory: one counter shared on purpose, through a lock and through an atomic.
//!
//! Threads already share their process's memory, but Rust lets several threads touch one value
//! only through a type that makes each access whole: here an `Arc` gives every worker a handle
//! to the same counters, on the heap at one address.
//! A lock (one increment at a time) or an atomic (each `fetch_add` is indivisible) makes each
//! access whole, so both totals are exact, `workers * increments`, however the increments
//! interleave.
//! The unsynchronised version, two workers doing `counter += 1` on one plain integer, is a data
//! race, and the compiler refuses it:
//!
//! ```compile_fail,E0499
//! let mut counter = 0u64;
//! std::thread::scope(|s| {
//!     s.spawn(|| counter += 1);
//!     s.spawn(|| counter += 1); // error[E0499]: `counter` borrowed as mutable twice at a time
//! });
//! ```
//!
//! (With `move` it compiles, but then each thread adds to its own copy: see private_memory.rs.)
//!
//! `shm-demo` tells the whole story of memory shared between processes; `sync-demo` the locks.

use crate::crew::{Crew, Report};
use anyhow::{anyhow, Context, Result};
use common::demo::narrate::{conclude, duration, header};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Increments per worker, by default.
pub const INCREMENTS: u64 = 10_000;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the workers share: a lock and the count it guards, and an atomic count.
#[derive(Default)]
pub struct Counters {
    by_lock: Mutex<u64>,
    atomic: AtomicU64,
}

/// `workers` workers each add 1, `increments` times, to one shared counter.
///
/// # Errors
/// A failed spawn, a missing report, or a failed check.
pub fn run(out: &mut impl Write, workers: usize, increments: u64) -> Result<()> {
    header(
        out,
        "shared-memory",
        "one counter shared on purpose",
        &[("workers", workers as u64), ("increments", increments)],
    )?;
    let expected = workers as u64 * increments;
    // Shared on purpose: the Arc lets every worker own a handle to the same counters.
    let counters = Arc::new(Counters::default());
    writeln!(
        out,
        "[parent] a Mutex<u64> and an AtomicU64 on the heap at {:p}, one Arc per worker",
        &*counters
    )?;

    let started = Instant::now();
    let mut reports = Crew::new();
    for index in 0..workers {
        let (counters, report) = (Arc::clone(&counters), reports.report());
        let cmd = move || worker(index, increments, &counters, report);
        reports
            .start(cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    for _ in 0..workers {
        let (index, line) = reports
            .recv(REPORT_TIMEOUT)
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", reports.tag(index))?;
    }
    reports.reap(REPORT_TIMEOUT)?;
    // Each worker's adds happened before it ended, and we saw it end: the totals are complete.
    let by_lock = *counters
        .by_lock
        .lock()
        .map_err(|_| anyhow!("a worker failed holding the lock"))?;
    let by_atomic = counters.atomic.load(Relaxed);
    writeln!(
        out,
        "[parent] locked total {by_lock}, atomic total {by_atomic} after {}",
        duration(started.elapsed())
    )?;

    conclude(
        out,
        by_lock == expected && by_atomic == expected,
        format!("mutex {by_lock}, atomic {by_atomic} (expected {expected})"),
        "threads share memory, and a Mutex or atomics make every increment whole",
    )?;
    Ok(())
}

/// The worker: `increments` times, one increment under the lock and one atomic add.
///
/// # Errors
/// Another worker failed holding the lock, or the parent stopped listening.
pub fn worker(index: usize, increments: u64, counters: &Counters, report: Report) -> Result<()> {
    for _ in 0..increments {
        // The lock makes the increment below, a read and a write, one whole increment.
        let mut count = counters
            .by_lock
            .lock()
            .map_err(|_| anyhow!("worker {index}: another worker failed holding the lock"))?;
        *count += 1;
        drop(count);
        // Relaxed is enough: only the total matters, and its end comes before our load.
        counters.atomic.fetch_add(1, Relaxed);
    }
    let line = format!("added {increments} to each counter, seen at {counters:p}");
    report.send(line).context("reporting to the parent")
}
