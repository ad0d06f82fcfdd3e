//! Asynchronous work: N workers announce their steps with no coordination at all.
//!
//! Each worker does a little work per step (a sleep of 1 to 3 ms, on purpose: real work takes a
//! different time each time, and while they sleep the workers need no CPU, so even two cores
//! run them all at once), then notes the moment it finished the step. Nothing makes worker 1 go
//! before worker 2, so the merged order of the steps is whatever the work and the scheduler made
//! of it this time, and it changes from run to run. The demo runs the workers again until two
//! runs differ (at most [`MAX_RUNS`] runs), and prints both orders. Two runs can agree by
//! chance; that is no failure, only a reason to run again.
//!
//! Threads note the time with `Instant`; processes use the system-wide monotonic clock and send
//! the reading to the parent, which merges every worker's steps by time.

use std::io::Write;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::demo::narrate::{duration, header, plural, thread_tag};

use crate::crew::{self, child, Crew};
use crate::order::{parse_step, step_work, worker_tags, Run, Step, STEP_WORK};
use crate::output::{conclude, say_wrapped};

/// The most runs made while looking for two that differ.
pub const MAX_RUNS: usize = 10;

/// How long a run of children may take before they are killed.
const CHILD_LIMIT: Duration = Duration::from_secs(20);

/// One run of `workers` threads, `steps` steps each, started together and never coordinated.
///
/// # Errors
/// A worker thread panicked.
pub fn threads_once(workers: usize, steps: usize) -> Result<Run> {
    // The barrier only starts them together; after it, nothing orders them.
    let start_line = Barrier::new(workers + 1);
    let (all, start) = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=workers)
            .map(|_| {
                let start_line = &start_line;
                scope.spawn(move || {
                    start_line.wait();
                    (1..=steps)
                        .map(|step| {
                            std::thread::sleep(step_work()); // the step's work
                            (step, Instant::now())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        let all: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (all, start)
    });
    let mut found = Vec::new();
    for (index, result) in all.into_iter().enumerate() {
        let worker = index + 1;
        let Ok(done) = result else {
            bail!("worker {worker} panicked");
        };
        found.extend(done.into_iter().map(|(step, when)| Step {
            worker,
            step,
            at: when.saturating_duration_since(start),
        }));
    }
    let took = found.iter().map(|s| s.at).max().unwrap_or_default();
    let tags = (1..=workers).map(thread_tag).collect();
    Ok(Run::new(found, took, tags))
}

/// One run of `workers` child processes, `steps` steps each, started together (a gate of pipes)
/// and never coordinated.
///
/// # Errors
/// A child could not start, failed, or took too long.
pub fn processes_once(out: &mut impl Write, workers: usize, steps: usize) -> Result<Run> {
    let args: Vec<Vec<String>> = (1..=workers)
        .map(|worker| {
            let v = [worker.to_string(), steps.to_string()];
            ["independent-order-worker".to_string()]
                .into_iter()
                .chain(v)
                .collect()
        })
        .collect();
    let mut crew = Crew::spawn(args).context("spawning the workers")?;
    let tags = worker_tags(&crew.pids());
    crew.expect_all(out, "ready", CHILD_LIMIT)?;
    // Process boundary: no shared Instant; both sides read the system-wide monotonic clock.
    let start = common::demo::sys::monotonic_nanos();
    crew.broadcast(crew::GO).context("opening the start gate")?;
    let told = crew.finish(out, "step", CHILD_LIMIT)?;
    let mut found = Vec::new();
    for (_, text) in told {
        found.push(parse_step(&text, start)?);
    }
    let took = found.iter().map(|s| s.at).max().unwrap_or_default();
    Ok(Run::new(found, took, tags))
}

/// In a child: worker `worker` waits for the gate, then does `steps` steps of work, telling the
/// parent the moment each one ends.
///
/// # Errors
/// The parent closed the gate instead of opening it.
pub fn child(worker: usize, steps: usize) -> Result<()> {
    child::report("ready", "");
    crew::wait_for_go()?;
    for step in 1..=steps {
        std::thread::sleep(step_work()); // the step's work
        child::report(
            "step",
            format!("{worker} {step} {}", common::demo::sys::monotonic_nanos()),
        );
    }
    Ok(())
}

/// The scenario for threads or processes: run until two runs differ, and show both.
fn show(
    out: &mut impl Write,
    kind: &str,
    workers: usize,
    steps: usize,
    mut once: impl FnMut(&mut dyn Write) -> Result<Run>,
) -> Result<()> {
    header(
        out,
        &format!("independent-order ({kind})"),
        "workers announce their steps with no coordination",
        &[("workers", workers), ("steps", steps)],
    )?;
    writeln!(
        out,
        "   each step is {} to {} of work; nothing orders the workers, so the order varies",
        duration(STEP_WORK / 2),
        duration(STEP_WORK * 3 / 2)
    )?;
    let first = once(out)?;
    writeln!(out, "-- run 1, step by step")?;
    first.narrate(out)?;
    say_wrapped(
        out,
        "   run 1 order (worker of each step):",
        &first.order_text(),
    )?;
    let mut differing = None;
    for run in 2..=MAX_RUNS {
        let next = once(out)?;
        let label = format!("   run {run} order (worker of each step):");
        say_wrapped(out, &label, &next.order_text())?;
        if next.order() != first.order() {
            differing = Some((run, next));
            break;
        }
    }
    let total = workers * steps;
    let (passed, what) = match &differing {
        Some((run, next)) => (
            true,
            format!(
                "run 1 and run {run} announced {} in different orders ({} and {} in all)",
                plural(total, "step", "steps"),
                duration(first.took),
                duration(next.took)
            ),
        ),
        None => (
            false,
            format!("{MAX_RUNS} runs announced their steps in the same order"),
        ),
    };
    conclude(
        out,
        passed,
        &what,
        "with no coordination the order is whatever the work and the scheduler make it, new on \
         every run",
    )?;
    Ok(())
}

/// The scenario with threads.
///
/// # Errors
/// A worker panicked, the check failed, or `out` failed.
pub fn threads(out: &mut impl Write, workers: usize, steps: usize) -> Result<()> {
    show(out, "threads", workers, steps, |_| {
        threads_once(workers, steps)
    })
}

/// The scenario with processes.
///
/// # Errors
/// A child failed, the check failed, or `out` failed.
pub fn processes(out: &mut impl Write, workers: usize, steps: usize) -> Result<()> {
    show(out, "processes", workers, steps, |mut out| {
        processes_once(&mut out, workers, steps)
    })
}
