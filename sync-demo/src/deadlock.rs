//! Deadlock between two threads: opposite lock order, detected; then two cures.
//!
//! Worker 1 takes A then B; worker 2 takes B then A. If each gets its first lock before the
//! other asks for its second (a barrier forces exactly that here), each waits for a lock the
//! other will release only after getting the one it waits for: a circular wait, which plain
//! mutexes would sit in forever. The locks of a [`LockTable`] see the cycle the moment it closes,
//! and the victim gives its lock back, waits a little and tries again, so both finish.
//! The cures remove the cycle instead of breaking it: with one global order (everyone takes A
//! before B) a cycle cannot form; with try-lock and back-off nobody ever waits while holding.

use std::io::Write;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::demo::narrate::{duration, header, plural, thread_tag};
use crossbeam_channel::Sender;

use crate::output::conclude;
use crate::wait_for_graph::{LockTable, Refused};

/// How long one acquire may wait before the run is called broken (no cycle, just stuck).
const PATIENCE: Duration = Duration::from_secs(5);
/// The time a worker holds its first lock before asking for the second: room for the other.
const HOLD: Duration = Duration::from_millis(10);

const A: usize = 0;
const B: usize = 1;

fn table() -> LockTable {
    LockTable::new(vec!["A".into(), "B".into()], "worker")
}

/// Runs worker 1 with lock order `first1` and worker 2 with `first2`, each through `body`,
/// relaying their narration to `out` as it happens (order varies from run to run).
fn run_pair(
    out: &mut impl Write,
    body: impl Fn(usize, &Sender<String>) -> Result<usize> + Sync,
) -> Result<[usize; 2]> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::scope(|s| -> Result<[usize; 2]> {
        let handles = [1, 2].map(|w| {
            let (tx, body) = (tx.clone(), &body);
            s.spawn(move || body(w, &tx))
        });
        drop(tx);
        // Ends when both workers have finished and dropped their senders.
        for line in rx {
            writeln!(out, "{line}")?;
        }
        let [h1, h2] = handles;
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<usize>>| {
            h.join().map_err(|_| anyhow::anyhow!("a worker panicked"))?
        };
        Ok([join(h1)?, join(h2)?])
    })
}

/// The broken order, forced into a deadlock; returns (deadlocks seen, time to the first).
fn opposite_order(out: &mut impl Write) -> Result<(usize, Duration)> {
    let (locks, barrier, started) = (table(), Barrier::new(2), Instant::now());
    let first_seen = std::sync::Mutex::new(None);
    let seen = run_pair(out, |w, tx| {
        let (first, second) = if w == 1 { (A, B) } else { (B, A) };
        let mut deadlocks = 0;
        for attempt in 0.. {
            locks
                .acquire(w, first, PATIENCE)
                .map_err(|e| anyhow::anyhow!("worker {w}: {e}"))?;
            let _ = tx.send(format!("{} holds {}", thread_tag(w), ["A", "B"][first]));
            if attempt == 0 {
                barrier.wait(); // on purpose: both hold their first lock before asking for the second
            }
            match locks.acquire(w, second, PATIENCE) {
                Ok(()) => {
                    let _ = tx.send(format!(
                        "{} holds A and B: works, then releases both",
                        thread_tag(w)
                    ));
                    locks.release(second);
                    locks.release(first);
                    return Ok(deadlocks);
                }
                Err(Refused::Deadlock(cycle)) => {
                    deadlocks += 1;
                    first_seen
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert(started.elapsed());
                    let _ = tx.send(format!(
                        "{} DEADLOCK: {}",
                        thread_tag(w),
                        locks.describe(&cycle)
                    ));
                    let _ = tx.send(format!(
                        "{} gives up {} and retries later",
                        thread_tag(w),
                        ["A", "B"][first]
                    ));
                    locks.release(first);
                    std::thread::sleep(HOLD * 2); // the victim backs off, so the other can finish
                }
                Err(Refused::TimedOut) => {
                    bail!("worker {w} waited {} without a cycle", duration(PATIENCE))
                }
            }
        }
        unreachable!("the loop returns or fails")
    })?;
    let first = first_seen
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .unwrap_or_default();
    Ok((seen[0] + seen[1], first))
}

/// Cure 1: both take A before B. Returns deadlocks seen (0).
fn global_order(out: &mut impl Write) -> Result<usize> {
    let locks = table();
    let seen = run_pair(out, |w, tx| {
        locks
            .acquire(w, A, PATIENCE)
            .map_err(|e| anyhow::anyhow!("worker {w}: {e}"))?;
        std::thread::sleep(HOLD); // on purpose: the same pause that deadlocked above
        match locks.acquire(w, B, PATIENCE) {
            Ok(()) => {
                let _ = tx.send(format!(
                    "{} took A then B: works, releases both",
                    thread_tag(w)
                ));
                locks.release(B);
                locks.release(A);
                Ok(0)
            }
            Err(Refused::Deadlock(_)) => Ok(1),
            Err(Refused::TimedOut) => bail!("worker {w} timed out"),
        }
    })?;
    Ok(seen[0] + seen[1])
}

/// Cure 2: the opposite orders again, but the second lock is only tried; on failure the worker
/// lets go of the first and backs off (longer each time, and differently per worker so the two
/// do not retry in lockstep forever). Returns retries.
fn try_lock_back_off(out: &mut impl Write) -> Result<usize> {
    let locks = table();
    let retries = run_pair(out, |w, tx| {
        let (first, second) = if w == 1 { (A, B) } else { (B, A) };
        for attempt in 0..50u32 {
            locks
                .acquire(w, first, PATIENCE)
                .map_err(|e| anyhow::anyhow!("worker {w}: {e}"))?;
            std::thread::sleep(HOLD); // on purpose: the same pause that deadlocked above
            if locks.try_acquire(w, second) {
                let _ = tx.send(format!(
                    "{} got both after {}",
                    thread_tag(w),
                    plural(attempt as usize, "retry", "retries")
                ));
                locks.release(second);
                locks.release(first);
                return Ok(attempt as usize);
            }
            locks.release(first);
            let pause = Duration::from_millis(u64::from(attempt + 1) * w as u64 * 3);
            let _ = tx.send(format!(
                "{} {} busy: let go of {}, back off {}",
                thread_tag(w),
                ["A", "B"][second],
                ["A", "B"][first],
                duration(pause)
            ));
            std::thread::sleep(pause);
        }
        bail!("worker {w} gave up after 50 tries")
    })?;
    Ok(retries[0] + retries[1])
}

/// Processes: the same two locks as byte ranges of a file; the kernel refuses the cycle
/// (see [`crate::record_locks`]).
///
/// # Errors
/// A child failed, or a check did not hold.
pub fn processes(out: &mut impl Write) -> Result<()> {
    crate::record_locks::processes(out)
}

/// Threads: the deadlock, detected and recovered from, then both cures.
///
/// # Errors
/// A worker got stuck without a cycle, or a check did not hold.
pub fn threads(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "deadlock (threads)",
        "two workers take locks A and B in opposite order",
        &[("workers", 2)],
    )?;
    writeln!(
        out,
        "   (lines of the two workers interleave differently from run to run)"
    )?;
    writeln!(
        out,
        "-- opposite order: [thread 1] takes A then B, [thread 2] takes B then A"
    )?;
    let (deadlocks, after) = opposite_order(out)?;
    writeln!(
        out,
        "   deadlock detected after {}; both workers finished after the victim backed off",
        duration(after)
    )?;
    writeln!(out, "-- cure 1, one global order: both take A then B")?;
    let ordered = global_order(out)?;
    writeln!(
        out,
        "-- cure 2, opposite order but try-lock the second and back off"
    )?;
    let retries = try_lock_back_off(out)?;
    let what = format!(
        "opposite order: {} detected and recovered; global order: {}; \
         try-lock with back-off: {}, 0 deadlocks",
        plural(deadlocks, "deadlock", "deadlocks"),
        plural(ordered, "deadlock", "deadlocks"),
        plural(retries, "retry", "retries")
    );
    conclude(
        out,
        deadlocks >= 1 && ordered == 0,
        &what,
        "a cycle of waits never ends by itself: detect it, or make it impossible",
    )?;
    Ok(())
}
