//! Spawn and join: N workers say who they are, and the parent waits for every one.
//!
//! Process boundary: every process reports a pid of its own, and the parent's pid as its parent:
//! a process is a program of its own, here this very program started again.
//! The order of the reports changes from run to run, because once started each worker is
//! scheduled by the OS on whichever CPU is free and nothing orders them unless we do.
//! `wait` is how the parent waits; an ended child stays in the process table as a zombie until
//! then, so afterwards no child of ours is left, not even a zombie.

use crate::crew::{Crew, Report};
use anyhow::{Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, header, pid_tag, plural};
use std::io::Write;
use std::time::Duration;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `workers` workers, prints their reports as they arrive, waits for every one.
///
/// # Errors
/// A failed spawn, a missing report, or a failed check.
pub fn run(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "spawn-join",
        "N workers say who they are; the parent waits for all",
        &[("workers", workers)],
    )?;
    let parent = std::process::id();
    writeln!(out, "[parent] pid {parent}; the reports' order varies between runs: the OS schedules each worker")?;
    let mut reports = Crew::new();
    for index in 0..workers {
        // Process boundary: a worker is this program started again, with its own arguments.
        let mut cmd = self_command();
        cmd.args(["child", "spawn-join", &index.to_string()]);
        reports
            .start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }

    let mut right = 0;
    for _ in 0..workers {
        let (index, line) = reports
            .recv(REPORT_TIMEOUT)
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", reports.tag(index))?;
        // Process boundary: a pid of its own, and ours as its parent.
        let own = reported_pid(&line).map(pid_tag) == Some(reports.tag(index));
        if own && line.contains(&format!("parent pid {parent},")) {
            right += 1;
        }
    }
    // Every worker has reported, so each wait below returns soon.
    let mut joined = 0;
    for (index, how) in reports.reap(REPORT_TIMEOUT)?.into_iter().enumerate() {
        writeln!(out, "[parent] reaped {}: {how}", reports.tag(index))?;
        joined += 1;
    }
    // Process boundary: an ended child that nobody waited for would still be listed (a zombie).
    let left = reports.still_alive()?;
    writeln!(
        out,
        "[parent] reaped {}; still alive or zombie afterwards: {}",
        plural(joined, "worker", "workers"),
        left.len()
    )?;

    conclude(
        out,
        joined == workers && left.is_empty() && right == workers,
        format!(
            "{joined} of {workers} workers exited 0, each with its own pid and parent {parent}, {} left",
            left.len()
        ),
        "each process is a program of its own: own pid, and wait collects its exit status",
    )?;
    Ok(())
}

/// The worker: reports who it is.
///
/// # Errors
/// The parent has stopped listening.
pub fn worker(index: usize, report: Report) -> Result<()> {
    let parent = std::os::unix::process::parent_id();
    let me = std::process::id();
    let line = format!("pid {me}, parent pid {parent}, worker {index}");
    report.send(line).context("reporting to the parent")
}

/// The pid in a report line `pid 123, ...`.
fn reported_pid(line: &str) -> Option<u32> {
    line.strip_prefix("pid ")?.split(',').next()?.parse().ok()
}
