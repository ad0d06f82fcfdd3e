//! False sharing: workers that share no value still slow each other down when their counters
//! sit in one cache line.
//!
//! Each worker adds only to its own counter, so no value is shared and both totals are exact
//! without a lock. But a core takes memory into its cache a line (64 bytes) at a time, and only
//! one core may hold a line while it writes: eight `u64` counters side by side fill one line,
//! so every increment by one worker takes the line away from the others, and it travels from
//! cache to cache ("ping-pong"). The same counters padded to a line each (`#[repr(align(64))]`,
//! what crossbeam's `CachePadded` does) never meet. The workers count first side by side, then
//! padded; the ratio of the two times is measured and chooses the lesson. On one core, or on a
//! machine so busy that the workers seldom run at the same moment, there is little to see.

use crate::crew::{Crew, Report};
use anyhow::{bail, Context, Result};
use common::demo::narrate::{conclude, duration, header, load_warning, ratio, speedup};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Increments per worker in each layout.
pub const INCREMENTS: u64 = 4_000_000;

/// The most workers (the `--workers` limit): one counter of each layout for every one.
pub const MAX_WORKERS: usize = 256;

/// Bytes in a cache line on the CPUs this runs on (x86-64, most ARM cores).
pub const CACHE_LINE: usize = 64;

/// How long the parent waits for the workers at a gate, or for a report.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

/// A counter alone in its cache line: the alignment rounds its size up to 64 bytes.
#[repr(C, align(64))]
pub struct Padded(AtomicU64);

/// The two layouts the workers count in, in the order they do.
pub const LAYOUTS: [&str; 2] = ["adjacent", "padded"];

/// What the workers share: their counters in both layouts, how long each took, and the gate.
#[repr(C)]
pub struct Counters {
    padded: [Padded; MAX_WORKERS],
    // 256 * 64 bytes from the start: `adjacent` begins on a line of its own.
    adjacent: [AtomicU64; MAX_WORKERS],
    took_ns: [[AtomicU64; MAX_WORKERS]; 2],
    /// Workers that reached a gate (each counts once per layout), and the layouts let go.
    ready: AtomicU64,
    go: AtomicU64,
}

impl Counters {
    /// Worker `index`'s counter in layout `round` (0: adjacent, 1: padded).
    pub fn counter(&self, round: usize, index: usize) -> &AtomicU64 {
        match round {
            0 => &self.adjacent[index],
            _ => &self.padded[index].0,
        }
    }

    /// Where a counter lies, as `line L, bytes A..B`, counted from the start of the counters.
    pub fn place(&self, counter: &AtomicU64) -> String {
        let at = counter as *const AtomicU64 as usize - self as *const Counters as usize;
        let (line, byte) = (at / CACHE_LINE, at % CACHE_LINE);
        format!("line {line}, bytes {byte}..{}", byte + 8)
    }

    /// The sum of every worker's counter in layout `round`.
    pub fn total(&self, round: usize, workers: usize) -> u64 {
        (0..workers)
            .map(|i| self.counter(round, i).load(Relaxed))
            .sum()
    }

    /// The slowest worker's time in layout `round`: when the last one finished.
    pub fn slowest(&self, round: usize, workers: usize) -> Duration {
        let ns = self.took_ns[round][..workers]
            .iter()
            .map(|t| t.load(Relaxed));
        Duration::from_nanos(ns.max().unwrap_or(0))
    }
}

/// Waits until `done()` (at most `limit`), sleeping a little between looks.
fn wait_until(limit: Duration, what: &str, done: impl Fn() -> bool) -> Result<()> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            bail!("{what} did not happen within {}", duration(limit));
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(())
}

/// `workers` workers count to [`INCREMENTS`] on their own counters, side by side, then padded.
///
/// # Errors
/// A failed spawn, a missing report, or a failed check.
pub fn run(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "false-sharing",
        "own counters in one cache line, then a line apart",
        &[("workers", workers as u64), ("increments", INCREMENTS)],
    )?;
    let busy = load_warning(out)?;
    let counters = Arc::new(Counters::new());
    writeln!(
        out,
        "[parent] {workers} counters side by side in {}, then each in a line of its own",
        lines(workers)
    )?;
    let mut reports = Crew::new();
    for index in 0..workers {
        let (counters, report) = (Arc::clone(&counters), reports.report());
        let cmd = move || worker(index, &counters, report);
        reports
            .start(cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    for (round, layout) in LAYOUTS.iter().enumerate() {
        // The gate: every worker waits for the word, so that all of them count at once.
        let at_gate = || counters.ready.load(Acquire) >= (workers * (round + 1)) as u64;
        wait_until(REPORT_TIMEOUT, "every worker at the gate", at_gate)?;
        counters.go.store(round as u64 + 1, Release);
        for _ in 0..workers {
            let (index, line) = reports.recv(REPORT_TIMEOUT).context("a report")?;
            writeln!(out, "{} {line}", reports.tag(index))?;
        }
        let slowest = counters.slowest(round, workers);
        writeln!(
            out,
            "[parent] {layout}: the last worker finished after {}",
            duration(slowest)
        )?;
    }
    reports.reap(REPORT_TIMEOUT)?;
    let expected = workers as u64 * INCREMENTS;
    let (adjacent, padded) = (counters.total(0, workers), counters.total(1, workers));
    let (slow, fast) = (counters.slowest(0, workers), counters.slowest(1, workers));
    writeln!(
        out,
        "[parent] padded counters were {} as fast",
        speedup(slow, fast)
    )?;
    conclude(
        out,
        adjacent == expected && padded == expected,
        format!("adjacent {adjacent}, padded {padded} (expected {expected})"),
        &lesson(workers, num_cpus::get(), ratio(slow, fast), busy),
    )?;
    Ok(())
}

/// How many cache lines `workers` adjacent counters fill, in words.
fn lines(workers: usize) -> String {
    let n = (workers * 8).div_ceil(CACHE_LINE);
    common::demo::narrate::plural(n, "cache line", "cache lines")
}

/// The lesson, chosen from the measured ratio (adjacent time over padded time).
pub fn lesson(workers: usize, logical: usize, ratio: f64, busy: bool) -> String {
    if workers == 1 {
        "one worker has no one to share its line with: rerun with --workers 2 or more".into()
    } else if logical == 1 {
        "one CPU: the workers took turns, so no two caches fought over a line".into()
    } else if ratio >= 1.3 && !busy {
        format!("{ratio:.1}x slower in one cache line: pad what different workers write")
    } else if ratio >= 1.3 {
        format!("{ratio:.1}x slower in one cache line, on a busy machine: rerun to confirm")
    } else if busy {
        "the machine was busy, so the workers seldom ran at once: rerun to see the cost".into()
    } else {
        "little difference this time: the workers may not have run at once; rerun".into()
    }
}

/// The worker: at each gate, waits for the word, then adds 1 to its own counter
/// [`INCREMENTS`] times, and reports where that counter lies and how long it took.
///
/// # Errors
/// The word did not come, or the parent stopped listening.
pub fn worker(index: usize, counters: &Counters, report: Report) -> Result<()> {
    for (round, layout) in LAYOUTS.iter().enumerate() {
        counters.ready.fetch_add(1, Release);
        let told = || counters.go.load(Acquire) > round as u64;
        wait_until(REPORT_TIMEOUT, "the parent's word", told)?;
        let counter = counters.counter(round, index);
        let started = Instant::now();
        for _ in 0..INCREMENTS {
            // Relaxed is enough: only this worker writes this counter.
            counter.fetch_add(1, Relaxed);
        }
        let took = started.elapsed();
        counters.took_ns[round][index].store(took.as_nanos() as u64, Relaxed);
        let place = counters.place(counter);
        let line = format!(
            "{layout}: counted to {INCREMENTS} in {}, at {place}",
            duration(took)
        );
        report.send(line).context("reporting to the parent")?;
    }
    Ok(())
}

impl Counters {
    /// Every counter at zero; no layout let go yet.
    pub fn new() -> Counters {
        Counters {
            padded: std::array::from_fn(|_| Padded(AtomicU64::new(0))),
            adjacent: std::array::from_fn(|_| AtomicU64::new(0)),
            took_ns: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            ready: AtomicU64::new(0),
            go: AtomicU64::new(0),
        }
    }
}

impl Default for Counters {
    fn default() -> Counters {
        Counters::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_counters_share_lines_and_padded_ones_do_not() {
        let c = Counters::new();
        assert_eq!(c.place(c.counter(0, 0)), "line 256, bytes 0..8");
        assert_eq!(c.place(c.counter(0, 1)), "line 256, bytes 8..16");
        assert_eq!(c.place(c.counter(0, 8)), "line 257, bytes 0..8");
        assert_eq!(c.place(c.counter(1, 0)), "line 0, bytes 0..8");
        assert_eq!(c.place(c.counter(1, 1)), "line 1, bytes 0..8");
        assert_eq!(size_of::<Padded>(), CACHE_LINE);
    }

    #[test]
    fn the_lesson_follows_the_ratio() {
        assert!(lesson(4, 4, 3.0, false).starts_with("3.0x slower"));
        assert!(lesson(4, 4, 1.0, true).contains("busy"));
        assert!(lesson(4, 4, 3.0, true).ends_with("on a busy machine: rerun to confirm"));
        assert!(lesson(4, 4, 1.0, false).contains("rerun"));
        assert!(lesson(1, 4, 3.0, false).contains("--workers 2"));
    }
}
