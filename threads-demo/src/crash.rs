//! Crash: a worker that panics, aborts or is killed, seen from the parent.
//!
//! A panic unwinds one thread only: `join` hands its message to the parent, and the others
//! finish. An abort ends the *process*, every thread in it: so worker 2 aborts in a child process
//! (this program started again), read from outside as `SIGABRT`. A thread cannot be killed (it
//! shares the process's memory and may hold a lock): the parent can only ask, and it must look.
//! (The deliberate panic prints one line on stderr, from `common::demo::narrate::tidy_panics`.)

use crate::crew::{Crew, Report};
use anyhow::{bail, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, header, tidy_panics};
use common::demo::threads::{current_tag, Ended};
use std::io::Write;
use std::time::Duration;

/// What happens to each worker, one worker per fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Does its work and ends normally.
    Finishes,
    /// Panics in the middle of its work.
    Panics,
    /// Calls `std::process::abort`.
    Aborts,
    /// Is killed by the parent: impossible for a thread, so it is asked to stop.
    IsKilled,
}

impl Fate {
    /// The fate in words, for the narration.
    pub fn words(self) -> &'static str {
        match self {
            Fate::Finishes => "finishes",
            Fate::Panics => "panics",
            Fate::Aborts => "aborts",
            Fate::IsKilled => "is killed",
        }
    }
}

/// One worker per fate, in this order.
pub const FATES: [Fate; 4] = [Fate::Finishes, Fate::Panics, Fate::Aborts, Fate::IsKilled];

/// How long the parent waits for a worker before it calls the run stuck.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Starts one worker per fate and reports how each one ended.
///
/// # Errors
/// A failed spawn, a worker that does not end in time, or a failed check.
pub fn run(out: &mut impl Write, _workers: usize) -> Result<()> {
    // One tidy line for the deliberate panic, tagged like the narration: `[thread 1] panicked`.
    tidy_panics(current_tag, || fates(out))
}

/// [`run`], one worker per fate.
fn fates(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "crash",
        "workers that panic, abort or are killed",
        &[("workers", FATES.len())],
    )?;
    let mut as_expected = 0;
    // If narration fails half-way (stdout closed by `| head`), dropping the crew ends every worker.
    let mut lines = Crew::new();
    for index in 0..FATES.len() {
        let report = lines.report();
        let cmd = move || worker(index, report);
        lines
            .start(cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    // Every worker says it has started; then the one to be killed is killed.
    for _ in 0..FATES.len() {
        let (index, line) = lines
            .recv(WAIT_LIMIT)
            .context("waiting for a worker to start")?;
        writeln!(out, "{} {line}", lines.tag(index))?;
    }
    lines.stop(3).context("stopping worker 3")?;
    writeln!(
        out,
        "[parent] a thread cannot be killed: asked {} to stop",
        lines.tag(3)
    )?;
    // Each worker ends within WAIT_LIMIT, so each wait is bounded.
    let endings = lines.endings(WAIT_LIMIT)?;
    for ((index, fate), ending) in FATES.into_iter().enumerate().zip(endings) {
        let expected = match (fate, &ending) {
            (Fate::Finishes, Ended::Returned(Ok(words))) => words.ends_with("finished"),
            (Fate::Panics, Ended::Panicked(message)) => message.ends_with("gives up"),
            (Fate::Aborts, Ended::Returned(Ok(words))) => words.contains("(SIGABRT), sibling"),
            (Fate::IsKilled, Ended::Returned(Ok(words))) => words.ends_with("when asked"),
            _ => false,
        };
        let tag = lines.tag(index);
        writeln!(out, "{tag} {}: {}", fate.words(), ending.said())?;
        as_expected += usize::from(expected);
    }
    let left = lines.still_alive()?;
    writeln!(
        out,
        "[parent] still going; workers left alive: {}",
        left.len()
    )?;

    conclude(
        out,
        as_expected == FATES.len() && left.is_empty(),
        format!(
            "{as_expected} of {} fates as expected: finished, panic caught, SIGABRT, asked to stop",
            FATES.len()
        ),
        "a panic ends one thread; an abort or a kill ends the whole process",
    )?;
    Ok(())
}

/// The worker: meets its fate, and says how in the value that `join` returns.
///
/// # Errors
/// A failed report, or a fate that did not come about (the last worker waits 10 s at most).
pub fn worker(index: usize, report: Report) -> Result<String> {
    let fate = FATES[index % FATES.len()];
    let line = format!("worker {index} started; its fate: {}", fate.words());
    report.send(line).context("reporting to the parent")?;
    // On purpose: give the other workers time to be running when this one crashes.
    std::thread::sleep(Duration::from_millis(20));
    match fate {
        Fate::Finishes => Ok(format!("worker {index} finished")),
        Fate::Panics => panic!("worker {index} gives up"),
        // An abort ends every thread of its process, so it runs in a child: see `child` below.
        Fate::Aborts => {
            let mut cmd = self_command();
            cmd.args(["child", "crash", &index.to_string()]);
            Ok(common::demo::abort::watch(&mut cmd, WAIT_LIMIT)?.to_string())
        }
        Fate::IsKilled => {
            // Wait to be asked to stop, but not forever: a thread must look.
            if report.stop_asked_within(WAIT_LIMIT) {
                return Ok(format!("worker {index} stopped when asked"));
            }
            bail!("worker {index} was never stopped")
        }
    }
}

/// The child that worker 2 starts: two threads, one aborts them both (`common::demo::abort`).
///
/// # Errors
/// Core dumps cannot be turned off, or the sibling cannot start; else it never returns.
pub fn child(index: usize) -> Result<()> {
    match common::demo::abort::beside_a_sibling(index)? {}
}
