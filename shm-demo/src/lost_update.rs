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

use crate::crew::{child, Crew};
use crate::segment::{Opened, Segment};
use anyhow::{anyhow, bail, Context, Result};
use common::narrate::{conclude, header, millis, pid_tag};
use raw_sync::locks::{LockInit, Mutex};
use raw_sync::Timeout;
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
const _: () = assert!(START + 8 * WAYS.len() <= LEN);
const _: () = assert!(
    PLAIN % 8 == 0 && ATOMIC % 8 == 0 && LOCK % 8 == 0 && LOCKED % 8 == 0 && START % 8 == 0
);

/// The three ways to increment, in the order the scenario runs them.
const WAYS: [&str; 3] = ["plain", "atomic", "lock"];

/// How long a child waits for the lock before it gives up (the mutex is not robust: a holder
/// killed while holding it would leave it locked forever). Whole seconds on purpose: raw_sync
/// adds the sub-second part without carrying, which could give an invalid timespec.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The atomic `u64` at byte `offset` of a mapping starting at `base` of `len` bytes.
///
/// # Safety
/// `base` must point to a live mapping of `len` bytes that outlives `'a` and that every process
/// accesses at `offset` only atomically.
unsafe fn atomic_at<'a>(base: *mut u8, len: usize, offset: usize) -> &'a AtomicU64 {
    assert!(offset + 8 <= len && (base as usize + offset) % std::mem::align_of::<AtomicU64>() == 0);
    // SAFETY: (1) in bounds and 8-byte aligned: checked just above (mappings are page-aligned
    // and every offset here is a multiple of 64); (2) AtomicU64 has the same size and bit
    // validity as u64, and ftruncate zero-filled the segment, a valid 0; (3) only shared
    // references are made and all accesses are atomic, so processes do not race (caller's
    // promise); (4) the mapping outlives 'a (caller's promise).
    unsafe { &*base.add(offset).cast::<AtomicU64>() }
}

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
    let me = pid_tag(std::process::id());
    let mut segment = Segment::create("lost-update", LEN)?;
    // SAFETY: `LOCK` and `LOCKED` lie inside the LEN-byte mapping, which outlives `lock` (both
    // live to the end of this function), and nobody else has mapped the segment yet, so
    // initialising the mutex there cannot race. raw_sync sets PTHREAD_PROCESS_SHARED.
    let (lock, _) = unsafe { Mutex::new(segment.as_ptr().add(LOCK), segment.as_ptr().add(LOCKED)) }
        .map_err(|e| anyhow!("initialising the mutex: {e}"))?;
    let os_id = segment.os_id().to_string();
    let mut crew = Crew::spawn(workers, |_| {
        vec![
            "lost-update".into(),
            os_id.clone(),
            increments.to_string(),
            workers.to_string(),
        ]
    })?;
    crew.expect_all(out, "mapped")?;
    segment.unlink(out)?;
    writeln!(
        out,
        "{me} {} children mapped {os_id}; name unlinked",
        crew.pids().len()
    )?;

    let expected = workers as u64 * increments;
    let mut totals = Vec::new();
    for way in WAYS {
        let started = Instant::now();
        crew.broadcast(way)?;
        crew.expect_all(out, "done")?;
        let took = started.elapsed();
        let total = match way {
            // SAFETY: the segment is live for this whole function, and PLAIN and ATOMIC are
            // only ever accessed through AtomicU64 (the children use the same helper).
            "plain" => unsafe { atomic_at(segment.as_ptr(), segment.len(), PLAIN) }.load(Acquire),
            // SAFETY: as above.
            "atomic" => unsafe { atomic_at(segment.as_ptr(), segment.len(), ATOMIC) }.load(Acquire),
            _ => {
                let guard = lock
                    .try_lock(Timeout::Val(LOCK_WAIT))
                    .map_err(|e| anyhow!("locking: {e}"))?;
                // SAFETY: the guard's pointer is LOCKED, an 8-byte-aligned u64 inside the
                // mapping, and holding the lock makes this the only access to it.
                unsafe { *(*guard).cast::<u64>() }
            }
        };
        let per = took.as_nanos() as f64 / expected as f64;
        writeln!(
            out,
            "{me} {way:>6}: total {total} of {expected}, lost {} in {} ({per:.1} ns per increment)",
            expected - total.min(expected),
            millis(took)
        )?;
        totals.push(total);
    }
    crew.finish(out)?;
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
    conclude(out, passed, what, "load-then-store lets increments overwrite each other; fetch_add and the lock make each one whole")?;
    Ok(())
}

/// The child: map the segment, then for each command run `increments` increments that way.
///
/// # Errors
/// If the segment cannot be opened or the lock cannot be taken in time.
pub fn child(os_id: &str, increments: u64, workers: usize) -> Result<()> {
    let segment = Opened::open(os_id)?;
    if segment.len() < LEN {
        bail!(
            "segment {os_id} has {} bytes, expected {LEN}",
            segment.len()
        );
    }
    let base = segment.as_ptr();
    // SAFETY: the parent initialised the mutex at LOCK before it spawned us; the mapping
    // outlives `lock` (both live to the end of this function).
    let (lock, _) = unsafe { Mutex::from_existing(base.add(LOCK), base.add(LOCKED)) }
        .map_err(|e| anyhow!("opening the mutex: {e}"))?;
    // SAFETY: the mapping is LEN bytes and lives to the end of this function; every process
    // accesses PLAIN and ATOMIC only through AtomicU64.
    let (plain, atomic) = unsafe {
        (
            atomic_at(base, segment.len(), PLAIN),
            atomic_at(base, segment.len(), ATOMIC),
        )
    };
    child::report("mapped", "");
    while let Some(way) = child::next_command() {
        let phase = WAYS
            .iter()
            .position(|w| *w == way)
            .with_context(|| format!("unknown command {way:?}"))?;
        // SAFETY: START + 8 * phase + 8 <= LEN; the mapping lives to the end of this function;
        // the start lines are only accessed atomically.
        let start_line = unsafe { atomic_at(base, segment.len(), START + 8 * phase) };
        wait_for_all(start_line, workers as u64)?;
        let started = Instant::now();
        match way.as_str() {
            "plain" => {
                for _ in 0..increments {
                    // The race: another child may store between this load and this store.
                    let seen = plain.load(Relaxed);
                    plain.store(seen + 1, Relaxed);
                }
            }
            "atomic" => {
                for _ in 0..increments {
                    atomic.fetch_add(1, Relaxed); // One indivisible read-modify-write.
                }
            }
            "lock" => {
                for _ in 0..increments {
                    let guard = lock
                        .try_lock(Timeout::Val(LOCK_WAIT))
                        .map_err(|e| anyhow!("no lock within {LOCK_WAIT:?}: {e}"))?;
                    // SAFETY: the guard's pointer is LOCKED, an 8-byte-aligned u64 inside the
                    // mapping; holding the lock makes this the only access to it anywhere.
                    unsafe { *(*guard).cast::<u64>() += 1 };
                }
            }
            _ => unreachable!("`phase` above accepted only the three ways"),
        }
        child::say(format_args!(
            "{way:>6}: {increments} increments in {}",
            millis(started.elapsed())
        ));
        child::report("done", "");
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
            bail!("the other children did not arrive within {LOCK_WAIT:?}");
        }
        std::thread::yield_now();
    }
    Ok(())
}
