//! Asynchronous work: N workers announce their steps with no coordination at all.
//!
//! Each worker does a little work per step (a sleep of 1 to 3 ms, on purpose: real work takes a
//! different time each time, and while they sleep the workers need no CPU, so even two cores
//! run them all at once), then notes the moment it finished the step. Nothing makes worker 1 go
//! before worker 2, so the merged order of the steps is whatever the work and the scheduler made
//! of it this time, and it changes from run to run. The demo runs
//! the workers again until two runs differ (at most [`MAX_RUNS`] runs), and prints both orders.
//! Two runs can agree by chance; that is no failure, only a reason to run again.
//!
//! Threads note the time with `Instant`; processes use the system-wide monotonic clock and send
//! the reading to the parent, which merges every worker's steps by time.

use std::io::Write;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::narrate::{duration, header, pid_tag, plural, thread_tag};

use crate::crew::{self, Crew};
use crate::output::{conclude, say_wrapped};

/// The mean work of one step (a sleep, on purpose: every worker is asleep at once, and nothing
/// but the clock and the scheduler decides who goes on first).
pub const STEP_WORK: Duration = Duration::from_millis(2);

/// The work of one step: from half to one and a half [`STEP_WORK`], drawn afresh each time, as
/// real work varies. Equal sleeps would race only by microseconds, and a quiet machine could
/// then wake the workers in the same order run after run.
pub fn step_work() -> Duration {
    use std::hash::BuildHasher;
    // A fresh RandomState is seeded at random: hashing the time with it is a random number.
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    STEP_WORK / 2 + Duration::from_micros(random % STEP_WORK.as_micros() as u64)
}

/// The most runs made while looking for two that differ.
pub const MAX_RUNS: usize = 10;

/// How long a run of children may take before they are killed.
const CHILD_LIMIT: Duration = Duration::from_secs(20);

/// One announced step: worker (numbered from 1), its step (from 1), and when, from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub worker: usize,
    pub step: usize,
    pub at: Duration,
}

/// One run: every step in time order, how long the run took, and the actor of each worker.
pub struct Run {
    pub steps: Vec<Step>,
    pub took: Duration,
    /// How each line of worker N (index N - 1) starts: `[thread N]`, `[pid 4123] worker N:`.
    pub tags: Vec<String>,
}

impl Run {
    pub fn new(mut steps: Vec<Step>, took: Duration, tags: Vec<String>) -> Run {
        // Ties are broken by worker, so the same times always give the same order.
        steps.sort_by_key(|s| (s.at, s.worker, s.step));
        Run { steps, took, tags }
    }

    /// The workers in the order their steps were announced: `1 3 2 1 2 3 ...`.
    pub fn order(&self) -> Vec<usize> {
        self.steps.iter().map(|s| s.worker).collect()
    }

    /// The order as text, one number per step.
    pub fn order_text(&self) -> String {
        let order: Vec<String> = self.order().iter().map(usize::to_string).collect();
        order.join(" ")
    }

    /// Prints one line per step, tagged with its actor, in the order they happened.
    ///
    /// # Errors
    /// Only the writer's errors.
    pub fn narrate(&self, out: &mut impl Write) -> std::io::Result<()> {
        for s in &self.steps {
            writeln!(
                out,
                "{} step {} done at {}",
                self.tags[s.worker - 1],
                s.step,
                duration(s.at)
            )?;
        }
        Ok(())
    }
}

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
    let args = (1..=workers)
        .map(|worker| {
            let v = [worker.to_string(), steps.to_string()];
            ["independent-order-worker".to_string()]
                .into_iter()
                .chain(v)
                .collect()
        })
        .collect();
    let mut crew = Crew::spawn(args)?;
    let tags = worker_tags(&crew.pids());
    crew.expect(out, "ready", workers, CHILD_LIMIT)?;
    // Process boundary: no shared Instant; both sides read the system-wide monotonic clock.
    let start = common::sys::monotonic_nanos();
    crew.go()?;
    let told = crew.finish(out, "step", CHILD_LIMIT)?;
    let mut found = Vec::new();
    for (_, text) in told {
        found.push(parse_step(&text, start)?);
    }
    let took = found.iter().map(|s| s.at).max().unwrap_or_default();
    Ok(Run::new(found, took, tags))
}

/// The line prefix of each child worker: `[pid 4123] worker 2:`.
pub fn worker_tags(pids: &[u32]) -> Vec<String> {
    let tag = |(i, &pid): (usize, &u32)| format!("{} worker {}:", pid_tag(pid), i + 1);
    pids.iter().enumerate().map(tag).collect()
}

/// Reads `<worker> <step> <monotonic nanos>` as a [`Step`] timed from `start`.
///
/// # Errors
/// The line does not have that form.
pub fn parse_step(text: &str, start: u64) -> Result<Step> {
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("a child sent a malformed step: {text}"))?;
    let &[worker, step, nanos] = numbers.as_slice() else {
        bail!("a child sent a malformed step: {text}");
    };
    Ok(Step {
        worker: worker as usize,
        step: step as usize,
        at: common::sys::nanos_between(start, nanos),
    })
}

/// In a child: worker `worker` waits for the gate, then does `steps` steps of work, telling the
/// parent the moment each one ends.
///
/// # Errors
/// The parent closed the gate instead of opening it.
pub fn child(worker: usize, steps: usize) -> Result<()> {
    crew::tell("ready", "");
    crew::wait_for_go()?;
    for step in 1..=steps {
        std::thread::sleep(step_work()); // the step's work
        crew::tell(
            "step",
            format!("{worker} {step} {}", common::sys::monotonic_nanos()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_merged_by_time() {
        let at = Duration::from_millis;
        let steps = vec![
            Step {
                worker: 2,
                step: 1,
                at: at(3),
            },
            Step {
                worker: 1,
                step: 1,
                at: at(1),
            },
            Step {
                worker: 1,
                step: 2,
                at: at(5),
            },
        ];
        let run = Run::new(steps, at(5), vec!["a".into(), "b".into()]);
        assert_eq!(run.order(), vec![1, 2, 1]);
        assert_eq!(run.order_text(), "1 2 1");
    }

    #[test]
    fn a_step_line_is_parsed_or_refused() {
        let s = parse_step("2 3 1500", 500).unwrap();
        assert_eq!((s.worker, s.step, s.at), (2, 3, Duration::from_nanos(1000)));
        assert!(parse_step("2 x 1500", 0).is_err());
        assert!(parse_step("2 3", 0).is_err());
    }
}
