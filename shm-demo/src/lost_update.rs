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
//!
//! `--schedule` makes the race replay, as OSTEP's homework does: the plain way's steps (each
//! load, each store) then wait for their turn in an order the command line gives (`rr`: each
//! child one step in turn; `0011`: child 0 twice, then child 1 twice, repeated), kept by a turn
//! counter in the segment. The order alone decides the total, so the scenario computes it first
//! ([`predict`]), prints the prediction, and then checks the run against it.

use crate::crew::{self, child, REPORT_LIMIT};
use crate::output::{conclude, parent_is, PARENT};
use crate::segment::{Opened, Segment};
use anyhow::{bail, Context, Result};
use common::demo::narrate::{duration, header};
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

/// Layout of the segment: each item on its own 64-byte cache line.
const PLAIN: usize = 0;
const ATOMIC: usize = 64;
const LOCK: usize = 128; // a pthread_mutex_t (40 bytes on x86-64 Linux)
const LOCKED: usize = 256; // the u64 the lock protects
const START: usize = 320; // one start line per way: children wait there until all arrived
const TURN: usize = 384; // under --schedule: how many forced steps have been taken
const DONE: usize = 448; // under --schedule: one flag per child (at most 64), set after its last
const LEN: usize = 4096;

// The layout, checked when the crate compiles: items apart, in bounds, 8-byte aligned.
const _: () = assert!(PLAIN + 8 <= ATOMIC && ATOMIC + 8 <= LOCK && LOCKED + 8 <= START);
const _: () = assert!(LOCK + std::mem::size_of::<libc::pthread_mutex_t>() <= LOCKED);
// (Bounds and alignment are checked again at run time by the segment's views.)
const _: () = assert!(START + 8 * WAYS.len() <= TURN && TURN + 8 <= DONE);
const _: () = assert!(DONE + 8 * 64 <= LEN && TURN.is_multiple_of(8) && DONE.is_multiple_of(8));
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

/// The most increments in all, times children, under a forced schedule. Every step waits for
/// its turn, a hand-off between processes that costs more the more children take turns on
/// the cores (measured on 2 cores, per increment: 2 children 1.7 µs, 4 children 23 µs, 8
/// children 96 µs), so this bound keeps the plain way to about 2 s.
pub const MOST_FORCED: u64 = 160_000;

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
pub fn run(out: &mut impl Write, workers: usize, increments: u64, schedule: &str) -> Result<()> {
    let forced = Schedule::parse(schedule, workers).map_err(anyhow::Error::msg)?;
    header(
        out,
        "lost-update",
        "load-then-store loses updates; atomics and a lock in the segment do not",
        &[
            ("workers", workers.to_string()),
            ("increments", increments.to_string()),
            ("schedule", schedule.to_string()),
        ],
    )?;
    let me = PARENT;
    parent_is(out)?;
    let mut segment = Segment::create("lost-update", LEN)?;
    // Before any child has mapped the segment. raw_sync sets PTHREAD_PROCESS_SHARED.
    segment.create_lock(LOCK, LOCKED)?;
    let os_id = segment.os_id().to_string();
    let mut crew = crew::spawn(workers, |index| {
        vec![
            "lost-update".into(),
            os_id.clone(),
            increments.to_string(),
            workers.to_string(),
            index.to_string(),
            schedule.to_string(),
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
    let predicted = predict(&forced, workers, increments);
    if let Some(total) = predicted {
        writeln!(
            out,
            "{me} --schedule {schedule} forces every plain step: predicted total {total}, lost {}",
            expected - total
        )?;
    }
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
    let passed = atomic == expected
        && locked == expected
        && plain <= expected
        && predicted.is_none_or(|p| p == plain);
    let what = format!(
        "plain {plain} (lost {}{}), atomic {atomic}, lock {locked} (expected {expected})",
        expected - plain.min(expected),
        predicted.map_or(String::new(), |p| format!(", predicted {p}"))
    );
    let lesson = if plain < expected {
        "load-then-store lets increments overwrite each other; fetch_add and the lock make \
         each one whole"
    } else {
        // A schedule that never comes between a load and its store, or a lucky free run.
        "this order never came between a load and its store; fetch_add and the lock need no \
         such luck"
    };
    conclude(out, passed, &what, lesson)?;
    Ok(())
}

/// The child: map the segment, then for each command run `increments` increments that way.
///
/// # Errors
/// If the segment cannot be opened or the lock cannot be taken in time.
pub fn child(os_id: &str, increments: u64, workers: usize, me: usize, plan: &str) -> Result<()> {
    let forced = Schedule::parse(plan, workers).map_err(anyhow::Error::msg)?;
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
        if way == "plain" && forced != Schedule::Free {
            let done: Result<Vec<&AtomicU64>> = (0..workers)
                .map(|w| segment.atomic_u64(DONE + 8 * w))
                .collect();
            let turns = Turns {
                schedule: &forced,
                turn: segment.atomic_u64(TURN)?,
                done: done?,
            };
            forced_plain(increments, plain, &turns, me)?;
        }
        for part in 1..=parts {
            if way == "plain" && forced != Schedule::Free {
                break; // Done above, step by step.
            }
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

/// Which child takes each forced step: the exercises' `--schedule` strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// `free`: no forcing; the operating system decides.
    Free,
    /// `rr`: each child one step in turn.
    RoundRobin,
    /// Child numbers, `0011`, repeated until every child is done.
    Listed(Vec<usize>),
}

impl Schedule {
    /// Parses `text` for `workers` children. A listed schedule must name every child and no
    /// other, so that every step is forced and the prediction is exact.
    ///
    /// # Errors
    /// One line naming what is wrong.
    pub fn parse(text: &str, workers: usize) -> Result<Schedule, String> {
        let listed = match text {
            "free" => return Ok(Schedule::Free),
            "rr" => return Ok(Schedule::RoundRobin),
            _ => text.chars().map(|c| c.to_digit(10).map(|d| d as usize)),
        };
        let list: Vec<usize> = listed
            .collect::<Option<_>>()
            .filter(|l: &Vec<usize>| !l.is_empty())
            .ok_or_else(|| {
                format!("--schedule \"{text}\": give rr, free, or child numbers such as 0101")
            })?;
        if let Some(w) = list.iter().find(|&&w| w >= workers) {
            return Err(format!(
                "--schedule {text} names child {w}, but there are {workers} (0 to {})",
                workers - 1
            ));
        }
        if let Some(w) = (0..workers).find(|w| !list.contains(w)) {
            return Err(format!(
                "--schedule {text} never names child {w}: its steps could not run"
            ));
        }
        Ok(Schedule::Listed(list))
    }

    /// The child of forced step `k` (not `Free`, whose steps are not forced).
    fn turn(&self, k: u64, workers: usize) -> usize {
        match self {
            Schedule::Listed(list) => list[(k % list.len() as u64) as usize],
            _ => (k % workers as u64) as usize,
        }
    }
}

/// Refuses a `--schedule` that cannot run: one that does not parse, or forced steps too many
/// to finish in time (each waits for a hand-off between processes).
///
/// # Errors
/// The line to show the user.
pub fn check_schedule(text: &str, workers: u64, increments: u64) -> Result<(), String> {
    let forced = Schedule::parse(text, workers as usize)? != Schedule::Free;
    if forced && workers * workers * increments > MOST_FORCED {
        return Err(format!(
            "--schedule {text} forces every step, and {workers} children take turns: give \
             --increments {} or fewer",
            MOST_FORCED / workers / workers
        ));
    }
    Ok(())
}

/// The plain way's total under `schedule`, computed before it runs: each child's increment
/// is a load then a store, and the schedule says whose step comes next. `None` when free.
pub fn predict(schedule: &Schedule, workers: usize, increments: u64) -> Option<u64> {
    if *schedule == Schedule::Free {
        return None;
    }
    let (mut counter, mut seen, mut steps) = (0, vec![0; workers], vec![0; workers]);
    let mut left = 2 * increments * workers as u64;
    let mut k = 0;
    while left > 0 {
        let w = schedule.turn(k, workers);
        k += 1;
        if steps[w] == 2 * increments {
            continue; // Done: its turns are skipped, as the children skip them.
        }
        if steps[w] % 2 == 0 {
            seen[w] = counter; // load
        } else {
            counter = seen[w] + 1; // store
        }
        steps[w] += 1;
        left -= 1;
    }
    Some(counter)
}

/// The forced schedule as the children share it: the turn counter and the done flags live in
/// the segment.
struct Turns<'a> {
    schedule: &'a Schedule,
    turn: &'a AtomicU64,
    done: Vec<&'a AtomicU64>,
}

impl Turns<'_> {
    /// Waits until forced step `k` is child `me`'s; skips the turns of children that are done.
    fn wait_for(&self, me: usize) -> Result<u64> {
        let workers = self.done.len();
        let (mut seen, mut since) = (u64::MAX, Instant::now());
        loop {
            let k = self.turn.load(Acquire);
            let w = self.schedule.turn(k, workers);
            if w == me {
                return Ok(k);
            }
            if self.done[w].load(Acquire) == 1 {
                // Anyone may skip a finished child's turn; only one skip of `k` succeeds.
                let _ = self.turn.compare_exchange(k, k + 1, AcqRel, Acquire);
                continue;
            }
            if k != seen {
                (seen, since) = (k, Instant::now());
            } else if since.elapsed() >= LOCK_WAIT {
                bail!("child {w} took no step for {}", duration(LOCK_WAIT));
            }
            std::thread::yield_now();
        }
    }
}

/// The plain way under a forced schedule: each load and each store waits for its turn.
fn forced_plain(increments: u64, plain: &AtomicU64, turns: &Turns<'_>, me: usize) -> Result<()> {
    let mut seen = 0;
    for step in 0..2 * increments {
        let k = turns.wait_for(me)?;
        if step % 2 == 0 {
            seen = plain.load(Relaxed);
        } else {
            plain.store(seen + 1, Relaxed);
        }
        if step == 2 * increments - 1 {
            turns.done[me].store(1, Release);
        }
        // The step is taken: the next turn's child may go (Release: it sees our store).
        turns.turn.store(k + 1, Release);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions() {
        let rr = Schedule::RoundRobin;
        // Every child loads before any stores: each round of n increments adds 1.
        assert_eq!(predict(&rr, 2, 1000), Some(1000));
        assert_eq!(predict(&rr, 4, 10), Some(10));
        // Each child's load and store back to back: nothing lost.
        assert_eq!(
            predict(&Schedule::parse("0011", 2).unwrap(), 2, 7),
            Some(14)
        );
        // 001: child 0's second increment loads, then child 1 stores what it loaded before
        // it: one of the four increments is lost.
        assert_eq!(predict(&Schedule::parse("001", 2).unwrap(), 2, 2), Some(3));
        assert_eq!(predict(&Schedule::Free, 2, 1), None);
    }

    #[test]
    fn schedules_that_cannot_run_are_refused() {
        assert!(Schedule::parse("0", 2)
            .unwrap_err()
            .contains("never names child 1"));
        assert!(Schedule::parse("012", 2)
            .unwrap_err()
            .contains("names child 2"));
        assert!(Schedule::parse("0x", 2).is_err());
        assert!(Schedule::parse("", 2).is_err());
        assert!(check_schedule("rr", 2, 1_000_000)
            .unwrap_err()
            .contains("--increments"));
        assert_eq!(check_schedule("free", 2, 1_000_000), Ok(()));
    }
}
