//! Speed-up: the same CPU-bound work on 1, 2, ... N workers, timed, with the same answer each time.
//!
//! The work is counting the primes below `limit` by trial division: pure computation, no shared
//! state, dealt out in blocks of 1000 numbers (block `b` goes to worker `b % n`) so every worker
//! gets large and small numbers alike. Ideal speed-up on `n` workers is `n`x; what you see is
//! less, because starting workers costs time and because the CPUs are shared with everything
//! else on the machine. Beyond the number of physical cores, extra workers mostly take turns.
//! The timings vary between runs; the prime count must not, and that is what is checked.
//!
//! Amdahl's law: if a share `s` of the work can only run on one worker, `n` workers take
//! `T(n) = T(1) * (s + (1 - s) / n)`, and no number of workers goes faster than `1 / s`.
//! `--serial PCT` makes `PCT` % of the blocks serial (the parent counts them alone, before the
//! workers start), and the run fits `s` back from its own times (see [`fit_serial`]): the
//! injected share plus what starting and joining the workers costs. Only rows with at most as
//! many workers as CPUs are fitted: beyond that, workers take turns and the law does not apply.

use anyhow::{anyhow, bail, Context, Result};
use common::demo::narrate::{conclude, duration, header, ratio, speedup};
use crossbeam_channel::RecvTimeoutError;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Numbers searched for primes, by default (`0..PRIME_LIMIT`).
pub const PRIME_LIMIT: u64 = 500_000;

/// How long the parent waits for one round before it calls the run stuck.
pub const ROUND_LIMIT: Duration = Duration::from_secs(120);

/// Whether `n` is prime, by trial division: deliberately plain CPU work.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

/// The primes among `start, start + stride, ...` below `end`.
pub fn count_primes(start: u64, end: u64, stride: u64) -> u64 {
    (start..end)
        .step_by(stride.max(1) as usize)
        .filter(|&n| is_prime(n))
        .count() as u64
}

/// Each worker count is timed this many times, and the fastest time kept: a round that lost
/// its CPU to another program for a moment says nothing about the work.
pub const REPEATS: usize = 3;

/// The share of the work made serial, by default (`--serial`, in percent).
pub const SERIAL_PCT: u64 = 0;

/// Numbers are dealt to workers in blocks of this many: block `b` goes to worker `b % n`.
/// Dealing single numbers round-robin would give worker 0 of 2 every even number (each one
/// rejected after a single division) and worker 1 all the real work: no speed-up at all, as a
/// first version of this demo showed. Blocks mix cheap and costly numbers evenly.
pub const BLOCK: u64 = 1000;

/// Whether block `b` is serial when `serial` % of the work is: `serial` blocks of every 100,
/// spread out (37 and 100 share no factor, so `b * 37 % 100` visits 0..100 once per 100
/// blocks), so that serial and parallel blocks hold small and large numbers alike.
pub fn is_serial(b: u64, serial: u64) -> bool {
    b * 37 % 100 < serial
}

/// The primes in the serial blocks of `0..limit`, counted by the caller alone.
pub fn count_serial(limit: u64, serial: u64) -> u64 {
    (0..limit.div_ceil(BLOCK))
        .filter(|&b| is_serial(b, serial))
        .map(|b| count_primes(b * BLOCK, ((b + 1) * BLOCK).min(limit), 1))
        .sum()
}

/// The primes in worker `index`'s share of the parallel blocks of `0..limit`, when `n` workers
/// split them.
pub fn count_share(index: u64, n: u64, limit: u64, serial: u64) -> u64 {
    count_share_reporting(index, n, limit, serial, || {})
}

/// [`count_share`], calling `block_done` after each block, so the parent can show progress.
pub fn count_share_reporting(
    index: u64,
    n: u64,
    limit: u64,
    serial: u64,
    mut block_done: impl FnMut(),
) -> u64 {
    (0..limit.div_ceil(BLOCK))
        .filter(|&b| !is_serial(b, serial))
        .skip(index as usize)
        .step_by(n.max(1) as usize)
        .map(|b| {
            let primes = count_primes(b * BLOCK, ((b + 1) * BLOCK).min(limit), 1);
            block_done();
            primes
        })
        .sum()
}

/// The worker counts to try: 1, 2, 3, 4, then doubling, always ending with `workers`.
pub fn worker_counts(workers: usize) -> Vec<usize> {
    let mut counts: Vec<usize> = (1..=workers.min(4)).collect();
    let mut n = 8;
    while n < workers {
        counts.push(n);
        n *= 2;
    }
    if counts.last() != Some(&workers) {
        counts.push(workers);
    }
    counts
}

/// Fits Amdahl's serial fraction `s` to `(workers, time)` rows: the least-squares solution of
/// `T(n) / T(1) = s + (1 - s) / n` over the rows with `1 < n <= cpus`, with `T(1)` the row of
/// one worker. With `x = 1/n` and `y = T(n)/T(1)` that is `y - x = s * (1 - x)`, a line through
/// the origin, so `s = sum((y - x)(1 - x)) / sum((1 - x)^2)`, kept within `0..=1`. `None` when
/// no row has `1 < n <= cpus`.
pub fn fit_serial(rows: &[(usize, Duration)], cpus: usize) -> Option<f64> {
    let t1 = rows.iter().find(|(n, _)| *n == 1)?.1.as_secs_f64();
    let (mut num, mut den) = (0.0, 0.0);
    for &(n, t) in rows.iter().filter(|(n, _)| (2..=cpus).contains(n)) {
        let (x, y) = (1.0 / n as f64, t.as_secs_f64() / t1);
        (num, den) = (num + (y - x) * (1.0 - x), den + (1.0 - x) * (1.0 - x));
    }
    (den > 0.0).then(|| (num / den).clamp(0.0, 1.0))
}

/// Amdahl's speed-up on `n` workers with serial fraction `s`: `1 / (s + (1 - s) / n)`.
pub fn amdahl(s: f64, n: usize) -> f64 {
    1.0 / (s + (1.0 - s) / n as f64)
}

/// Times the prime count on each worker count and prints time, speed-up and efficiency, then
/// the serial fraction fitted from those times beside the injected one.
///
/// # Errors
/// A failed spawn, a stuck round, or counts that differ.
pub fn run(out: &mut impl Write, workers: usize, limit: u64, serial: u64) -> Result<()> {
    header(
        out,
        "speedup",
        "the same CPU-bound work on 1, 2, ... N workers",
        &[
            ("workers", workers as u64),
            ("limit", limit),
            ("serial", serial),
        ],
    )?;
    let (logical, physical) = (num_cpus::get(), num_cpus::get_physical());
    writeln!(
        out,
        "cpus: {logical} logical (num_cpus::get), {physical} physical (num_cpus::get_physical)"
    )?;
    writeln!(out, "      logical counts hardware threads, physical counts cores; where logical > physical, two")?;
    writeln!(
        out,
        "      hyper-threads share one core, so expect well under 2x from such a pair"
    )?;
    // Other programs compete for the same CPUs; the load average says how many there were.
    let busy = common::demo::narrate::load_warning(out)?;
    writeln!(
        out,
        "{:>8} {:>12} {:>9} {:>11} {:>8}   (time: the fastest of {REPEATS} rounds)",
        "workers", "time", "speed-up", "efficiency", "primes"
    )?;
    let mut baseline = None;
    let (mut counts, mut best, mut rows) = (Vec::new(), 1.0f64, Vec::new());
    for n in worker_counts(workers) {
        let (mut primes, mut took) = (0, Duration::MAX);
        for _ in 0..REPEATS {
            let started = Instant::now();
            // The serial part: the parent alone, before any worker starts.
            primes = count_serial(limit, serial) + count_on(out, n, limit, serial)?;
            took = took.min(started.elapsed());
        }
        rows.push((n, took));
        let base = *baseline.get_or_insert(took);
        let efficiency = 100.0 * ratio(base, took) / n as f64;
        writeln!(
            out,
            "{n:>8} {:>12} {:>9} {efficiency:>10.0}% {primes:>8}",
            duration(took),
            speedup(base, took)
        )?;
        counts.push(primes);
        best = best.max(ratio(base, took));
    }
    let fitted = fit_serial(&rows, logical);
    amdahl_lines(out, serial, fitted, workers.min(logical))?;
    let first = counts[0];
    let same = counts.iter().all(|&c| c == first);
    conclude(
        out,
        same,
        format!(
            "{first} primes below {limit} on every worker count ({} runs agree)",
            counts.len()
        ),
        &lesson(workers, logical, best, busy, fitted, serial),
    )?;
    Ok(())
}

/// Prints the fitted serial fraction beside the injected one, and what Amdahl predicts.
fn amdahl_lines(out: &mut impl Write, serial: u64, fit: Option<f64>, n: usize) -> Result<()> {
    let Some(s) = fit else {
        writeln!(out, "amdahl: no row with 2 to {n} workers to fit")?;
        return Ok(());
    };
    writeln!(
        out,
        "amdahl: T(n)/T(1) = s + (1 - s)/n, s by least squares over n = 2..{n} (n <= CPUs)"
    )?;
    let ceiling = if s > 0.0 {
        format!("at most {} on any number of workers", times(1.0 / s))
    } else {
        "no ceiling".to_string()
    };
    writeln!(
        out,
        "serial share: injected {serial}%, fitted {:.1}%: {ceiling}, {} on {n}",
        100.0 * s,
        times(amdahl(s, n))
    )?;
    Ok(())
}

/// A speed-up factor in the workspace's format (`1.93x`, `81.9x`).
fn times(factor: f64) -> String {
    speedup(Duration::from_secs_f64(factor), Duration::from_secs(1))
}

/// The lesson, chosen from the measurement: a speed-up that did not show is not claimed, and
/// a fit taken on a busy machine is not trusted.
fn lesson(
    workers: usize,
    logical: usize,
    best: f64,
    busy: bool,
    fit: Option<f64>,
    serial: u64,
) -> String {
    let words = if workers == 1 {
        "one worker is only the baseline: rerun with --workers 2 or more to see a speed-up"
    } else if logical == 1 {
        "one CPU: the workers took turns on it, so more workers could not go faster"
    } else if busy {
        "the machine was busy, so the times and the fitted share may mislead: rerun"
    } else if best < 1.2 {
        "little speed-up this time: other programs may have had the CPUs; rerun"
    } else if let Some(s) = fit.filter(|&s| s >= 0.05) {
        // More serial time than was injected: starting and joining the workers is serial too.
        let extra = if 100.0 * s > serial as f64 + 5.0 {
            " (more than injected: starting workers is serial too)"
        } else {
            ""
        };
        return format!(
            "a serial share of {:.0}%{extra} caps the speed-up at {:.1}x",
            100.0 * s,
            1.0 / s
        );
    } else {
        "threads split CPU work with no copying; the speed-up is capped by the cores"
    };
    words.to_string()
}

/// How often a long round reports how far it got.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// Prints a line every [`PROGRESS_EVERY`] while a round runs, so a large `--limit` is not a
/// minute of silence. Short rounds (the default) print nothing.
struct Progress {
    started: Instant,
    next: Duration,
    blocks: u64,
}

impl Progress {
    fn new(limit: u64) -> Progress {
        Progress {
            started: Instant::now(),
            next: PROGRESS_EVERY,
            blocks: limit.div_ceil(BLOCK).max(1),
        }
    }

    /// Reports `done` blocks of the round on `n` workers, if the time has come.
    fn show(&mut self, out: &mut impl Write, n: usize, done: u64) -> std::io::Result<()> {
        let elapsed = self.started.elapsed();
        if elapsed < self.next {
            return Ok(());
        }
        self.next = elapsed + PROGRESS_EVERY;
        writeln!(
            out,
            "{n:>8}   ... {}% of the numbers checked after {}",
            100 * done.min(self.blocks) / self.blocks,
            duration(elapsed)
        )
    }
}

/// Counts the primes below `limit` on `n` threads, showing progress if the round runs long.
fn count_on(out: &mut impl Write, n: usize, limit: u64, serial: u64) -> Result<u64> {
    let (tx, results) = crossbeam_channel::unbounded();
    let blocks = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for index in 0..n {
        let (tx, blocks) = (tx.clone(), Arc::clone(&blocks));
        let handle = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || {
                let tick = || {
                    blocks.fetch_add(1, Relaxed);
                };
                tx.send(count_share_reporting(
                    index as u64,
                    n as u64,
                    limit,
                    serial,
                    tick,
                ))
            })
            .with_context(|| format!("spawning worker {index}"))?;
        handles.push(handle);
    }
    drop(tx);
    let (mut total, mut got, mut progress) = (0, 0, Progress::new(limit));
    let deadline = Instant::now() + ROUND_LIMIT;
    while got < n {
        match results.recv_timeout(PROGRESS_EVERY / 3) {
            Ok(count) => (total, got) = (total + count, got + 1),
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => bail!(
                "a worker's count did not come within {}",
                duration(ROUND_LIMIT)
            ),
        }
        progress.show(out, n, blocks.load(Relaxed))?;
    }
    for handle in handles {
        handle
            .join()
            .map_err(|_| anyhow!("a worker panicked"))?
            .ok();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_known_prime_counts() {
        assert_eq!(count_primes(0, 100, 1), 25);
        assert_eq!(
            count_primes(0, 1000, 3) + count_primes(1, 1000, 3) + count_primes(2, 1000, 3),
            168
        );
    }

    #[test]
    fn worker_counts_start_at_one_and_end_at_workers() {
        assert_eq!(worker_counts(1), vec![1]);
        assert_eq!(worker_counts(2), vec![1, 2]);
        assert_eq!(worker_counts(20), vec![1, 2, 3, 4, 8, 16, 20]);
    }

    #[test]
    fn shares_add_up_to_the_whole() {
        let whole = count_primes(0, 10_500, 1);
        for n in 1..=5 {
            let shares: u64 = (0..n).map(|i| count_share(i, n, 10_500, 0)).sum();
            assert_eq!(shares, whole, "{n} workers");
        }
    }

    #[test]
    fn serial_and_parallel_blocks_add_up_to_the_whole() {
        let whole = count_primes(0, 250_000, 1);
        for serial in [0, 20, 99] {
            let shares: u64 = (0..3).map(|i| count_share(i, 3, 250_000, serial)).sum();
            assert_eq!(
                count_serial(250_000, serial) + shares,
                whole,
                "serial {serial}"
            );
        }
    }

    #[test]
    fn the_fit_recovers_amdahls_serial_share() {
        let t = |n: usize| Duration::from_secs_f64(10.0 / amdahl(0.25, n));
        let rows: Vec<_> = [1, 2, 3, 4, 8].into_iter().map(|n| (n, t(n))).collect();
        let s = fit_serial(&rows, 4).unwrap();
        assert!((s - 0.25).abs() < 1e-9, "{s}");
        // Rows beyond the CPUs are left out; one row alone fits nothing.
        assert_eq!(fit_serial(&rows[..1], 4), None);
        assert_eq!(fit_serial(&rows, 1), None);
        assert!((amdahl(0.0, 4) - 4.0).abs() < 1e-9);
    }
}
