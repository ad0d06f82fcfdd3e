//! Shared memory: one counter shared on purpose, through a lock and through an atomic.
//!
//! Process boundary: processes share nothing unless they ask: a counter in a plain variable
//! would be one counter per process (see private_memory.rs). So the parent creates a segment,
//! named memory that every worker maps into its own address space (often at another address).
//! A lock (one increment at a time) or an atomic (each `fetch_add` is indivisible) makes each
//! access whole, so both totals are exact, `workers * increments`, however the increments
//! interleave.
//! The unsynchronised version, two workers doing `counter += 1` on one plain integer, is a data
//! race, and the compiler refuses it:
//!
//! ```compile_fail,E0594
//! let counter = common::demo::segment::Segment::<u64>::create("doc").unwrap();
//! *counter += 1; // error[E0594]: cannot assign to data in dereference of `Segment<u64>`
//! ```
//!
//! (A segment gives shared references only; and `unsafe impl Shareable` is our promise that it
//! means the same in every process. Its name is unlinked once every worker has mapped it, so
//! not even a `SIGKILL` of the demo can leave it in `/dev/shm`.)
//!
//! `shm-demo` tells the whole story of memory shared between processes; `sync-demo` the locks.

use crate::crew::{Crew, Report};
use anyhow::{anyhow, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, duration, header};
use common::demo::segment::{Lock, Segment, Shareable};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Increments per worker, by default.
pub const INCREMENTS: u64 = 10_000;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the workers share: a lock and the count it guards, and an atomic count.
pub struct Counters {
    // Process boundary: std's `Mutex` cannot lock across processes (it waits on a futex private
    // to its process), so this lock is a flag in the segment, taken with `compare_exchange`.
    by_lock: Lock<u64>,
    atomic: AtomicU64,
}

// Process boundary: our promise that `Counters` means the same in every process that maps it.
// SAFETY: both fields are `Shareable` (any bytes are a valid value, no address inside, changes
// only under the lock or through the atomic), so the struct keeps those promises too.
unsafe impl Shareable for Counters {}

/// `workers` workers each add 1, `increments` times, to one shared counter.
///
/// # Errors
/// A failed spawn or segment, a missing report, or a failed check.
pub fn run(out: &mut impl Write, workers: usize, increments: u64) -> Result<()> {
    header(
        out,
        "shared-memory",
        "one counter shared on purpose",
        &[("workers", workers as u64), ("increments", increments)],
    )?;
    let expected = workers as u64 * increments;
    // Process boundary: shared on purpose: a segment that every worker maps by its name.
    let mut counters = Segment::<Counters>::create("shared-memory").context("a segment")?;
    writeln!(
        out,
        "[parent] a lock and an AtomicU64 at {:p} in {}",
        &*counters,
        counters.path().display()
    )?;

    let started = Instant::now();
    let mut reports = Crew::new();
    for index in 0..workers {
        // Process boundary: a worker is this program started again; the segment's name
        // reaches it in its arguments.
        let mut cmd = self_command();
        cmd.args(["child", "shared-memory", &index.to_string()]);
        cmd.args([increments.to_string(), counters.name().to_string()]);
        reports
            .start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    // Process boundary: unlink the name once every worker has mapped it; the memory lives on.
    counters.unlink_once_opened(workers, REPORT_TIMEOUT)?;
    writeln!(out, "[parent] name unlinked: every worker has it mapped")?;
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
        "processes share only what they map, and a lock or atomics make every increment whole",
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

/// Process boundary: the worker's process maps the segment by its name, then works in it.
///
/// # Errors
/// The segment cannot be mapped, or the worker's own error.
pub fn child(index: usize, increments: u64, name: &str) -> Result<()> {
    let counters = Segment::<Counters>::open(name)
        .with_context(|| format!("worker {index} mapping segment {name}"))?;
    worker(index, increments, &counters, Report)
}
