//! Lost update: children increment one counter in a shared segment; load-then-store loses
//! updates, an atomic add and a lock in the segment lose none.
//!
//! Shared memory brings back every hazard of shared state. `load` then `store` is two steps:
//! two children can both read 41 and both write 42, and one increment is gone. Each single access
//! is atomic here (a truly plain `*p += 1` racing with another process would be undefined
//! behaviour in Rust), so what is lost is exactly the read-modify-write, nothing else. An atomic
//! `fetch_add` makes the three steps one indivisible instruction (`lock xadd`), and a
//! process-shared pthread mutex in the segment (raw_sync) lets only one child at a time run its
//! plain `+= 1`. Both give the exact total; the lock costs the most because a contended lock
//! sends the loser to sleep in the kernel.

use crate::crew::{self, child, REPORT_LIMIT};
use crate::output::{conclude, parent_is, PARENT};
use crate::segment::{Opened, Segment};
use anyhow::{bail, Context, Result};
use common::demo::narrate::{duration, header};
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::time::{Duration, Instant};

/// Layout of the segment: each item on its own 64-byte cache line.
const PLAIN: usize = 0;
const ATOMIC: usize = 64;
const LOCK: usize = 128; // a pthread_mutex_t (40 bytes on x86-64 Linux)
const LOCKED: usize = 256; // the u64 the lock protects
const START: usize = 320; // one start line per way: children wait there until all arrived
const LEN: usize = 4096;

// The layout, checked when the crate compiles: items apart, in bounds, 8-byte aligned.
const _: () = assert!(PLAIN + 8 <= ATOMIC && ATOMIC + 8 <= LOCK && LOCKED + 8 <= START);
const _: () = assert!(LOCK + std::mem::size_of::<libc::pthread_mutex_t>() <= LOCKED);
// (Bounds and alignment are checked again at run time by the segment's views.)
const _: () = assert!(START + 8 * WAYS.len() <= LEN);
const _: () = assert!(
    PLAIN.is_multiple_of(8)
        && ATOMIC.is_multiple_of(8)
        && LOCK.is_multiple_of(8)
        && LOCKED.is_multiple_of(8)
        && START.is_multiple_of(8)
);

/// From this many increments in all (children x increments), each child reports its progress.
const PROGRESS_AT: u64 = 20_000_000;

/// The most increments in all: under the lock, about 100 ns each here, so at most about 10 s
/// for the slowest way, well inside the 30 s a step may take.
pub const MOST_IN_ALL: u64 = 100_000_000;

/// The three ways to increment, in the order the scenario runs them.
const WAYS: [&str; 3] = ["plain", "atomic", "lock"];

/// How long a child waits for the lock before it gives up (the mutex is not robust: a holder
/// killed while holding it would leave it locked forever). Whole seconds on purpose: raw_sync
/// adds the sub-second part without carrying, which could give an invalid timespec.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Runs the scenario: `workers` children, each adding 1 `increments` times, three ways.
///
/// # Errors
/// If a child fails, or the atomic or locked total is not exact.
pub fn run(out: &mut impl Write, workers: usize, increments: u64) -> Result<()> {
    header(
        out,
        "lost-update",
        "load-then-store loses updates; atomics and a lock in the segment do not",
        &[("workers", workers as u64), ("increments", increments)],
    )?;
    let me = PARENT;
    parent_is(out)?;
    let mut segment = Segment::create("lost-update", LEN)?;
    // Before any child has mapped the segment. raw_sync sets PTHREAD_PROCESS_SHARED.
    segment.create_lock(LOCK, LOCKED)?;
    let os_id = segment.os_id().to_string();
    let mut crew = crew::spawn(workers, |_| {
        vec![
            "lost-update".into(),
            os_id.clone(),
            increments.to_string(),
            workers.to_string(),
        ]
    })?;
    crew.expect_all(out, "mapped", REPORT_LIMIT)?;
    segment.unlink(out)?;
    writeln!(
        out,
        "{me} {} children mapped {os_id}; name unlinked",
        crew.pids().len()
    )?;

    let expected = workers as u64 * increments;
    let mut totals = Vec::new();
    for (way, offset) in WAYS.into_iter().zip([PLAIN, ATOMIC, LOCKED]) {
        let started = Instant::now();
        crew.broadcast(way)?;
        crew.expect_all(out, "done", REPORT_LIMIT)?;
        let took = started.elapsed();
        // Every child reported done: the counters stand still, and the lock is free.
        let total = segment.atomic_u64(offset)?.load(Acquire);
        let per = took.as_nanos() as f64 / expected as f64;
        writeln!(
            out,
            "{me} {way:>6}: total {total} of {expected}, lost {} in {} ({per:.1} ns per increment)",
            expected - total.min(expected),
            duration(took)
        )?;
        totals.push(total);
    }
    crew.finish(out, "done", REPORT_LIMIT)?;
    writeln!(
        out,
        "(children's lines may come in any order: they run at the same time)"
    )?;
    let (plain, atomic, locked) = (totals[0], totals[1], totals[2]);
    let passed = atomic == expected && locked == expected && plain <= expected;
    let what = format!(
        "plain {plain} (lost {}), atomic {atomic}, lock {locked} (expected {expected})",
        expected - plain.min(expected)
    );
    conclude(
        out,
        passed,
        &what,
        "load-then-store lets increments overwrite each other; fetch_add and the lock make \
         each one whole",
    )?;
    Ok(())
}

/// The child: map the segment, then for each command run `increments` increments that way.
///
/// # Errors
/// If the segment cannot be opened or the lock cannot be taken in time.
pub fn child(os_id: &str, increments: u64, workers: usize) -> Result<()> {
    let segment = Opened::open(os_id)?;
    // The parent made the lock before it started us; each view checks its bounds.
    let lock = segment.open_lock(LOCK, LOCKED)?;
    let (plain, atomic) = (segment.atomic_u64(PLAIN)?, segment.atomic_u64(ATOMIC)?);
    child::report("mapped", "");
    while let Some(way) = child::next_command() {
        let phase = WAYS
            .iter()
            .position(|w| *w == way)
            .with_context(|| format!("unknown command \"{way}\""))?;
        let start_line = segment.atomic_u64(START + 8 * phase)?;
        wait_for_all(start_line, workers as u64)?;
        let started = Instant::now();
        // A long run says how far it is at every quarter; a short one just runs.
        let parts = if increments * workers as u64 >= PROGRESS_AT {
            4
        } else {
            1
        };
        for part in 1..=parts {
            let count = increments * part / parts - increments * (part - 1) / parts;
            increment(way.as_str(), count, plain, atomic, &lock)?;
            if part < parts {
                child::say(format_args!(
                    "{way:>6}: {} of {increments} increments after {}",
                    increments * part / parts,
                    duration(started.elapsed())
                ));
            }
        }
        child::say(format_args!(
            "{way:>6}: {increments} increments in {}",
            duration(started.elapsed())
        ));
        child::report("done", "");
    }
    Ok(())
}

/// Adds 1 to the counter of `way`, `count` times.
fn increment(
    way: &str,
    count: u64,
    plain: &AtomicU64,
    atomic: &AtomicU64,
    lock: &crate::segment::SharedLock<'_>,
) -> Result<()> {
    {
        match way {
            "plain" => {
                for _ in 0..count {
                    // The race: another child may store between this load and this store.
                    let seen = plain.load(Relaxed);
                    plain.store(seen + 1, Relaxed);
                }
            }
            "atomic" => {
                for _ in 0..count {
                    atomic.fetch_add(1, Relaxed); // One indivisible read-modify-write.
                }
            }
            "lock" => {
                for _ in 0..count {
                    // The same load-then-store as "plain", made whole by the lock around it.
                    lock.with(LOCK_WAIT, |locked| {
                        let seen = locked.load(Relaxed);
                        locked.store(seen + 1, Relaxed);
                    })?;
                }
            }
            _ => unreachable!("`child` accepted only the three ways"),
        }
    }
    Ok(())
}

/// Arrives at `line` and spins until `workers` children have, so that every child starts its
/// increments at the same moment (a child started 1 ms late would find the others done, and
/// nothing could be lost). Gives up after a few seconds rather than hang.
fn wait_for_all(line: &AtomicU64, workers: u64) -> Result<()> {
    line.fetch_add(1, AcqRel);
    let deadline = Instant::now() + LOCK_WAIT;
    while line.load(Acquire) < workers {
        if Instant::now() >= deadline {
            bail!(
                "the other children did not arrive within {}",
                duration(LOCK_WAIT)
            );
        }
        std::thread::yield_now();
    }
    Ok(())
}
