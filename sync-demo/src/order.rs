//! What the order pair shares: the work of one step, a run's steps in time order, and the
//! line a child process sends for each step.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::demo::narrate::{duration, pid_tag};

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
        at: common::demo::sys::nanos_between(start, nanos),
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
