//! The check of `lost-update`: each worker maps one shared segment by its name (as a process
//! would) and calls `add_one` five times; every access to the counter is a step of the forced
//! schedule. Under `rr` every worker loads before any stores, so an unfixed `add_one` loses
//! all but one increment of each round, on every run.

use crate::harness::{self, Verdict};
use crate::replay::{Schedule, Turns};
use common::demo::segment::Segment;
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Increments per worker.
const INCREMENTS: u64 = 5;
/// Where the counter and its lock flag sit in the segment.
const VALUE: usize = 0;
const FLAG: usize = 1;

/// The shared counter, as one worker sees it: the segment mapped by that worker.
pub struct Counter {
    segment: Segment<[AtomicU64; 2]>,
    turns: Arc<Turns>,
}

impl Counter {
    fn cell(&self) -> &AtomicU64 {
        &self.segment[VALUE]
    }

    /// Reads the counter (one step).
    pub fn load(&self) -> u64 {
        self.turns.point();
        self.cell().load(SeqCst)
    }

    /// Writes the counter (one step).
    pub fn store(&self, value: u64) {
        self.turns.point();
        self.cell().store(value, SeqCst);
    }

    /// Adds `n` and returns what was there before, in one indivisible step.
    pub fn fetch_add(&self, n: u64) -> u64 {
        self.turns.point();
        self.cell().fetch_add(n, SeqCst)
    }

    /// Takes the segment's lock (each try is a step; a taken lock passes the turn on).
    ///
    /// # Panics
    /// If the lock stays taken for 5 s (its holder never lets go).
    pub fn lock(&self) -> Held<'_> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            self.turns.point();
            let flag = &self.segment[FLAG];
            if flag.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
                return Held { counter: self };
            }
            assert!(
                Instant::now() < deadline,
                "the counter's lock stayed taken for 5 s"
            );
            std::thread::yield_now();
        }
    }
}

/// The counter's lock, held: its `load` and `store` are steps too, but no other worker can
/// take the lock between them. Dropping it lets the lock go.
pub struct Held<'a> {
    counter: &'a Counter,
}

impl Held<'_> {
    /// Reads the counter (one step).
    pub fn load(&self) -> u64 {
        self.counter.load()
    }

    /// Writes the counter (one step).
    pub fn store(&mut self, value: u64) {
        self.counter.store(value);
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.counter.segment[FLAG].store(0, Release);
    }
}

/// Runs `add_one` at 2, 3 and 4 workers under `schedule`.
pub fn check(
    out: &mut dyn Write,
    schedule: &Schedule,
    add_one: fn(&Counter),
) -> std::io::Result<Verdict> {
    let mut seen = Vec::new();
    for workers in [2, 3, 4] {
        let turns = harness::turns(schedule, workers);
        let mut segment = Segment::<[AtomicU64; 2]>::create(&format!("lost-update-{workers}"))?;
        let name = segment.name().to_string();
        let job_turns = turns.clone();
        let handles = harness::start(&turns, workers, move |_| {
            let counter = Counter {
                segment: Segment::open(&name).expect("the segment exists until all mapped it"),
                turns: job_turns.clone(),
            };
            for _ in 0..INCREMENTS {
                add_one(&counter);
            }
        });
        // Every worker maps it within the bound, or the check says so below.
        let unlinked = segment.unlink_once_opened(workers, Duration::from_secs(5));
        let hung = "the workers did not finish in 10 s: is the lock never let go?";
        if let Err(why) = harness::wait_all(handles, Duration::from_secs(10), hung, || None) {
            return Ok(Err(format!("{workers} workers: {why}")));
        }
        unlinked?;
        let (total, expected) = (segment[VALUE].load(SeqCst), workers as u64 * INCREMENTS);
        let line = format!(
            "{workers} workers: total {total} of {expected}, {} lost{}",
            expected.saturating_sub(total),
            harness::let_go_note(&turns)
        );
        if total != expected {
            return Ok(Err(line));
        }
        writeln!(out, "{line}")?;
        seen.push(workers.to_string());
    }
    Ok(Ok(format!("no update lost at {} workers", seen.join(", "))))
}

#[cfg(all(test, feature = "solutions"))]
mod tests {
    /// The other cure, the lock, passes too, and the forced schedule stays in force with it
    /// (the segment's lock passes its turn on instead of sleeping).
    #[test]
    fn the_lock_cures_it_too() {
        let mut out = Vec::new();
        let rr = crate::replay::Schedule::RoundRobin;
        let verdict = super::check(&mut out, &rr, crate::solutions::lost_update::add_one_locked);
        assert!(
            verdict.unwrap().is_ok(),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert!(!String::from_utf8_lossy(&out).contains("let go"));
    }
}
