//! Same interface: one generic function runs on both pools and gets identical results.
//!
//! `summarize` is written once, over `P: Pool`. On a `ThreadPool` its items move to worker
//! threads of this process; on a `ProcessPool` they are encoded, sent to worker processes and
//! decoded there. The results cannot differ, because the task is a plain function of its
//! argument: only *where* it ran differs, and the pids it reports make that visible.

use crate::{process_pool, thread_pool, Settings};
use common::demo::narrate::{conclude, header};
use common::Pool;
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

/// What the generic function found. Equal summaries mean identical results.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    /// Steps for every start, in item order.
    pub steps: Vec<u64>,
    /// `(start, steps)` of the longest sequence.
    pub longest: (u64, u64),
}

/// The one function both pools run. It knows nothing about threads or processes.
///
/// # Errors
/// A task's error (none is expected: `collatz_steps` cannot panic for these inputs).
pub fn summarize<P: Pool>(out: &mut impl Write, pool: &P) -> anyhow::Result<Summary> {
    let starts: Vec<u64> = (1..=ITEMS).collect();
    let steps = pool.map(collatz_steps, starts.clone())?;
    let longest = starts
        .iter()
        .zip(&steps)
        .map(|(&n, &s)| (n, s))
        .max_by_key(|&(n, s)| (s, std::cmp::Reverse(n)));
    // Which processes did the work: the pool's own pid for threads, the workers' for processes.
    let pids: BTreeSet<u32> = pool
        .map(|_: u64| std::process::id(), 0..4 * pool.workers() as u64)?
        .into_iter()
        .collect();
    let tags: Vec<String> = pids
        .iter()
        .map(|&p| common::demo::narrate::pid_tag(p))
        .collect();
    writeln!(
        out,
        "{} pool: total {} steps; work ran in {}",
        pool.kind(),
        steps.iter().sum::<u64>(),
        tags.join(" ")
    )?;
    Ok(Summary {
        steps,
        longest: longest.unwrap_or_default(),
    })
}

/// Runs [`summarize`] on both pools and checks both against a sequential run.
///
/// # Errors
/// A pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "same-interface",
        "one generic function, both pools, identical results",
        &[("workers", workers as u64), ("items", ITEMS)],
    )?;
    writeln!(
        out,
        "this process is {}",
        common::demo::narrate::pid_tag(std::process::id())
    )?;
    let expected: Vec<u64> = (1..=ITEMS).map(collatz_steps).collect();

    let threads = summarize(out, &thread_pool(workers, false)?)?;
    let processes = summarize(out, &process_pool(workers, false)?)?;

    let (start, steps) = threads.longest;
    writeln!(
        out,
        "longest sequence: from {start}, {steps} steps (both pools)"
    )?;
    let same = threads == processes && threads.steps == expected;
    conclude(
        out,
        same,
        format_args!("thread and process pools gave identical results for {ITEMS} items (longest: {start} in {steps} steps)"),
        "one generic function over P: Pool; only where the work ran differs",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collatz_is_right_for_known_starts() {
        assert_eq!(collatz_steps(1), 0);
        assert_eq!(collatz_steps(6), 8);
        assert_eq!(collatz_steps(27), 111);
    }
}
