//! Crash: a worker that panics, aborts or is killed, seen from the parent.
//!
//! Process boundary: each worker is a process, and what happens to it happens to it alone: a
//! panic ends it with exit code 101, an abort with the signal `SIGABRT`, and the parent can kill
//! one outright with `SIGKILL` (the kernel frees all it held, so there is no unsafe moment to
//! fear). The parent reads each ending from the exit status that `wait` collects.
//! (The deliberate panic prints one line on stderr, from `common::demo::narrate::tidy_panics`.)

use crate::crew::{Crew, Report};
use anyhow::{bail, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, header, pid_tag, tidy_panics};
use common::demo::sys::describe_exit;
use libc::{SIGABRT, SIGKILL};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
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
    /// Is sent `SIGKILL` by the parent.
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
    // Process boundary: the deliberate panic happens in a worker's own process, which tidies it.
    fates(out)
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
        // Process boundary: a worker is this program started again, with its own arguments.
        let mut cmd = self_command();
        cmd.args(["child", "crash", &index.to_string()]);
        lines
            .start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    // Every worker says it has started; then the one to be killed is killed.
    for _ in 0..FATES.len() {
        let (index, line) = lines
            .recv(WAIT_LIMIT)
            .context("waiting for a worker to start")?;
        writeln!(out, "{} {line}", lines.tag(index))?;
    }
    // Process boundary: a process can be killed from outside; the kernel frees all it held.
    lines.stop(3).context("stopping worker 3")?;
    writeln!(
        out,
        "[parent] a process can be killed: sent SIGKILL to {}",
        lines.tag(3)
    )?;
    // Each worker ends within WAIT_LIMIT, so each wait is bounded.
    let endings = lines.endings(WAIT_LIMIT)?;
    for ((index, fate), ending) in FATES.into_iter().enumerate().zip(endings) {
        // Process boundary: what the parent sees is an exit status: a code, or a signal.
        let expected = match fate {
            Fate::Finishes => ending.code() == Some(0),
            Fate::Panics => ending.code() == Some(101),
            Fate::Aborts => ending.signal() == Some(SIGABRT),
            Fate::IsKilled => ending.signal() == Some(SIGKILL),
        };
        let tag = lines.tag(index);
        writeln!(out, "{tag} {}: {}", fate.words(), describe_exit(ending))?;
        as_expected += usize::from(expected);
    }
    let left = lines.still_alive()?;
    writeln!(
        out,
        "[parent] still going; workers left alive or zombie: {}",
        left.len()
    )?;

    conclude(
        out,
        as_expected == FATES.len() && left.is_empty(),
        format!(
            "{as_expected} of {} fates as expected: exit 0, exit 101 (panic), SIGABRT, SIGKILL",
            FATES.len()
        ),
        "a crash ends one process only; the parent reads how from its exit status",
    )?;
    Ok(())
}

/// The worker: meets its fate, and says how in its exit status.
///
/// # Errors
/// A failed report, or a fate that did not come about (the last worker waits 10 s at most).
pub fn worker(index: usize, report: Report) -> Result<()> {
    let fate = FATES[index % FATES.len()];
    let line = format!("worker {index} started; its fate: {}", fate.words());
    report.send(line).context("reporting to the parent")?;
    // On purpose: give the other workers time to be running when this one crashes.
    std::thread::sleep(Duration::from_millis(20));
    match fate {
        Fate::Finishes => Ok(()),
        Fate::Panics => panic!("worker {index} gives up"),
        // Process boundary: an abort ends this process, and this process is this worker only.
        Fate::Aborts => std::process::abort(),
        Fate::IsKilled => {
            // Process boundary: the kill comes from outside; wait for it, but not forever.
            std::thread::sleep(WAIT_LIMIT);
            bail!("worker {index} was never stopped")
        }
    }
}

/// Process boundary: the worker's own process, with a tidy panic line and no core dump.
///
/// # Errors
/// Core dumps cannot be turned off, or the worker's own error.
pub fn child(index: usize) -> Result<()> {
    common::demo::sys::no_core_dump().context("turning core dumps off")?;
    tidy_panics(|| pid_tag(std::process::id()), || worker(index, Report))
}
