//! Crash: a worker that panics, aborts or is killed, seen from the parent.
//!
//! Each worker is a process, so whatever happens to it happens to it alone: a panic ends it with
//! exit code 101, an abort with the signal `SIGABRT`, and the parent can kill one outright with
//! `SIGKILL` (the kernel frees everything a process held, so there is no unsafe moment to fear).
//! The parent learns each ending from the exit status that `wait` collects, and goes on. (The
//! deliberate panic prints one line on stderr, from `common::demo::narrate::tidy_panics`.)

use anyhow::{bail, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, header, pid_tag, tidy_panics};
use common::demo::process::Crew;
use common::demo::sys::{describe_exit, send_signal};
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
    header(
        out,
        "crash",
        "workers that panic, abort or are killed",
        &[("workers", FATES.len())],
    )?;
    let mut as_expected = 0;
    // Process boundary: a worker is this program started again; its stdout is our channel.
    let mut lines = Crew::new();
    for index in 0..FATES.len() {
        let mut cmd = self_command();
        cmd.args(["child", "crash", &index.to_string()]);
        lines
            .start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    // Every worker says it has started; then the one to be killed is killed.
    for _ in 0..FATES.len() {
        let (index, line) = lines
            .recv(WAIT_LIMIT)?
            .context("waiting for a worker to start")?;
        writeln!(out, "{} {line}", pid_tag(lines.pid(index)))?;
    }
    let victim = lines.pid(3);
    send_signal(victim, SIGKILL).with_context(|| format!("killing pid {victim}"))?;
    writeln!(
        out,
        "[parent] a process can be killed: sent SIGKILL to {}",
        pid_tag(victim)
    )?;
    // Each worker ends within WAIT_LIMIT, so each wait is bounded.
    let statuses = lines.reap(WAIT_LIMIT)?;
    for ((index, fate), status) in FATES.into_iter().enumerate().zip(statuses) {
        let (expected, words) = match fate {
            Fate::Finishes => (status.code() == Some(0), describe_exit(status)),
            Fate::Panics => (status.code() == Some(101), describe_exit(status)),
            Fate::Aborts => (status.signal() == Some(SIGABRT), describe_exit(status)),
            Fate::IsKilled => (status.signal() == Some(SIGKILL), describe_exit(status)),
        };
        let tag = pid_tag(lines.pid(index));
        writeln!(out, "{tag} {}: {words}", fate.words())?;
        as_expected += usize::from(expected);
    }
    let left = crate::live_children(&lines.pids());
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

/// The worker, in its own process: meets its fate.
///
/// # Errors
/// Only if it outlives its fate (the killed worker waits 10 s at most).
pub fn worker(index: usize) -> Result<()> {
    let fate = FATES[index % FATES.len()];
    let line = format!("worker {index} started; its fate: {}", fate.words());
    // Process boundary: our stdout is a pipe to the parent, which tags the line with our pid.
    writeln!(std::io::stdout(), "{line}").context("reporting to the parent")?;
    // On purpose: give the other workers time to be running when this one crashes.
    std::thread::sleep(Duration::from_millis(20));
    match fate {
        Fate::Finishes => Ok(()),
        // Process boundary: one tidy line on stderr instead of Rust's full panic message.
        Fate::Panics => tidy_panics(
            || pid_tag(std::process::id()),
            || panic!("worker {index} gives up"),
        ),
        Fate::Aborts => {
            // Keeps the deliberate abort below from leaving a core file behind.
            common::demo::sys::no_core_dump().context("turning core dumps off")?;
            std::process::abort()
        }
        Fate::IsKilled => {
            // Wait to be killed, but not forever.
            std::thread::sleep(WAIT_LIMIT);
            bail!("worker {index} was not killed")
        }
    }
}
