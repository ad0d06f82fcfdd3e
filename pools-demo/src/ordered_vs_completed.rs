//! Ordered vs as-completed: `map` waits and keeps order, `map_unordered` streams results as
//! tasks finish, and `submit` returns a handle that can be waited on with a timeout.
//!
//! The tasks sleep for uneven times, longest first. `map` can only hand back its vector when
//! the slowest task is done, so every result "arrives" at the same moment, in item order.
//! `map_unordered` yields each `(index, result)` the moment its task finishes, so the short tasks
//! come first and the index order is scrambled. Which short task wins a close race varies from
//! run to run (two workers, and the OS decides who wakes first), so the printed order may too.
//! A `TaskHandle` waited on for less than the task takes gives `Error::Timeout` and stays valid.

use crate::tasks::nap;
use crate::{process_pool, thread_pool, timed, Settings};
use common::demo::narrate::{conclude, duration, header};
use common::{Error, Pool};
use std::io::Write;
use std::time::{Duration, Instant};

/// Task lengths in ms: uneven on purpose, the longest first, so completion order differs from
/// item order on any number of workers.
pub const NAPS: [u64; 8] = [120, 10, 70, 20, 50, 5, 30, 15];

/// How long the submitted task sleeps, and how long we first wait for it.
const SLOW_MS: u64 = 150;
const IMPATIENT: Duration = Duration::from_millis(20);

/// What the checks need from one pool.
#[derive(Debug, Default)]
pub struct Seen {
    /// `map`'s results equal the input, in order.
    pub map_in_order: bool,
    /// The index of each unordered result, in arrival order.
    pub arrival: Vec<usize>,
    /// Whether each unordered result matched its item.
    pub unordered_values_right: bool,
    /// The submitted task: a timeout first, then its value.
    pub timed_out_then_ok: bool,
}

/// The one function both pools run.
///
/// # Errors
/// A task's error, or the writer's.
pub fn compare<P: Pool>(out: &mut impl Write, pool: &P) -> anyhow::Result<Seen> {
    let kind = pool.kind();
    let mut seen = Seen::default();

    let (results, took) = timed(|| pool.map(nap, NAPS));
    let results = results?;
    writeln!(
        out,
        "{kind} pool, map:           all {} results at {}, in item order: {}",
        results.len(),
        duration(took),
        list(&results)
    )?;
    seen.map_in_order = results == NAPS;

    let start = Instant::now();
    let mut order = Vec::new();
    seen.unordered_values_right = true;
    for (index, result) in pool.map_unordered(nap, NAPS) {
        let value = result?;
        seen.unordered_values_right &= NAPS.get(index) == Some(&value);
        writeln!(
            out,
            "{kind} pool, map_unordered: item {index} ({value} ms) at {}",
            duration(start.elapsed())
        )?;
        order.push(index);
    }
    seen.arrival = order;

    let submitted = Instant::now();
    let mut handle = pool.submit(nap, SLOW_MS);
    let first = handle.wait_timeout(IMPATIENT);
    // A value already in is returned even when the wait's time is up: on a busy machine this
    // thread may run again only after the task ended. That is the handle being right, not late.
    let ran_late = first.is_ok() && submitted.elapsed() >= Duration::from_millis(SLOW_MS);
    writeln!(
        out,
        "{kind} pool, submit(a {SLOW_MS} ms task): wait_timeout({}) -> {}{}",
        duration(IMPATIENT),
        outcome(&first),
        if ran_late {
            " (this thread ran late: the machine is busy)"
        } else {
            ""
        }
    )?;
    // Bounded: the task sleeps SLOW_MS; ten seconds is far more than enough.
    let second = if ran_late {
        first.clone() // its value is taken already
    } else {
        handle.wait_timeout(Duration::from_secs(10))
    };
    writeln!(
        out,
        "{kind} pool, submit: waited again -> {}",
        outcome(&second)
    )?;
    seen.timed_out_then_ok =
        (matches!(first, Err(Error::Timeout(_))) || ran_late) && second == Ok(SLOW_MS);
    Ok(seen)
}

/// Numbers as a student writes them: `120, 10, 70`.
fn list(values: &[u64]) -> String {
    let words: Vec<String> = values.iter().map(u64::to_string).collect();
    words.join(", ")
}

/// A wait's outcome in words: `150 ms` for a value, `not done yet (timed out)`, or the error.
fn outcome(result: &Result<u64, Error>) -> String {
    match result {
        Ok(ms) => format!("done: {ms} (its length in ms)"),
        Err(Error::Timeout(_)) => "not done yet: timed out".to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// Runs [`compare`] on both pools and checks order, completeness and the timeout.
///
/// # Errors
/// A pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "ordered-vs-completed",
        "map keeps order; map_unordered streams; submit with a timeout",
        &[("workers", workers)],
    )?;
    writeln!(out, "task lengths in ms, by item 0 to 7: {}", list(&NAPS))?;
    writeln!(
        out,
        "(the unordered arrival order may vary between runs: close races are decided by the OS)"
    )?;
    let mut all_ok = true;
    for seen in [
        compare(out, &thread_pool(workers, false)?)?,
        compare(out, &process_pool(workers, false)?)?,
    ] {
        let mut indices = seen.arrival.clone();
        indices.sort_unstable();
        let each_once = indices == (0..NAPS.len()).collect::<Vec<_>>();
        all_ok &=
            seen.map_in_order && each_once && seen.unordered_values_right && seen.timed_out_then_ok;
    }
    conclude(
        out,
        all_ok,
        format_args!(
            "on both pools map gave {n} results in order, map_unordered each of {n} exactly \
             once, submit timed out then answered",
            n = NAPS.len()
        ),
        "use map when you need order, the unordered stream to act on results as they come",
    )?;
    Ok(())
}
