//! Spawn and join: N workers say who they are, and the parent waits for every one.
//!
//! Every process reports a pid of its own, and the parent's pid as its parent: a process is a
//! program running with its own memory, here this very program started again with a hidden
//! subcommand. The order of the reports changes from run to run, because once started each
//! worker is scheduled by the OS on whichever CPU is free and nothing orders them unless we do.
//! `wait` is how the parent waits; it also collects the exit status, and until it does, the ended
//! child stays in the process table as a zombie. So afterwards no child of ours is left.

use anyhow::{Context, Result};
use common::narrate::{conclude, header, pid_tag, plural};
use common::sys::{describe_exit, parent_pid};
use std::io::Write;
use std::time::Duration;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `workers` processes, prints their reports as they arrive, reaps every one.
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
    let mut children = Vec::new();
    for index in 0..workers {
        children.push(crate::spawn_worker("spawn-join", index, &[])?);
    }
    let reports = crate::lines_from(&mut children)?;

    let mut right = 0;
    for _ in 0..workers {
        let (index, line) = reports
            .recv_timeout(REPORT_TIMEOUT)
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", pid_tag(children[index].pid()))?;
        // Its own pid, and ours as its parent.
        if reported_pid(&line) == Some(children[index].pid())
            && line.contains(&format!("parent pid {parent},"))
        {
            right += 1;
        }
    }
    // Every worker has reported and ends right after, so each wait below is short.
    let statuses = crate::reap(&mut children, REPORT_TIMEOUT)?;
    let joined = statuses.iter().filter(|s| s.success()).count();
    for (child, status) in children.iter().zip(&statuses) {
        writeln!(
            out,
            "[parent] reaped {}: {}",
            pid_tag(child.pid()),
            describe_exit(*status)
        )?;
    }
    let left = crate::live_children(&children.iter().map(|c| c.pid()).collect::<Vec<_>>());
    writeln!(
        out,
        "[parent] reaped {}; still alive or zombie afterwards: {}",
        plural(joined, "worker", "workers"),
        left.len()
    )?;

    conclude(
        out,
        joined == workers && left.is_empty() && right == workers,
        format!("{joined} of {workers} workers exited 0, each with its own pid and parent {parent}, {} left", left.len()),
        "each process is a program of its own: own pid, and wait collects its exit status",
    )?;
    Ok(())
}

/// The worker, in its own process: reports who it is, then ends.
///
/// # Errors
/// Never; the signature matches the other workers'.
pub fn worker(index: usize) -> Result<()> {
    let line = format!(
        "pid {}, parent pid {}, worker {index}",
        std::process::id(),
        parent_pid()
    );
    // Our stdout is a pipe to the parent, which prints the line for us.
    writeln!(std::io::stdout(), "{line}").context("writing stdout")?;
    Ok(())
}

/// The pid in a report line `pid 123, ...`.
fn reported_pid(line: &str) -> Option<u32> {
    line.strip_prefix("pid ")?.split(',').next()?.parse().ok()
}
