//! Spawn and join: N workers say who they are, and the parent waits for every one.
//!
//! Every thread reports the same process id: a thread is a line of execution *inside* one
//! process, sharing its memory and its pid; only the thread id and the name we gave it differ.
//! The order of the reports changes from run to run, because once started each worker is
//! scheduled by the OS on whichever CPU is free and nothing orders them unless we do.
//! `join` is how the parent waits; a joined thread is gone, so afterwards no `worker-*` thread
//! is left.

use crate::crew::{Crew, Report};
use anyhow::{Context, Result};
use common::demo::narrate::{conclude, header, plural};
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
        let report = reports.report();
        let cmd = move || worker(index, report);
        reports
            .start(cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }

    let mut right = 0;
    for _ in 0..workers {
        let (index, line) = reports
            .recv(REPORT_TIMEOUT)
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", reports.tag(index))?;
        // The same pid as ours: one process.
        if reported_pid(&line) == Some(parent) {
            right += 1;
        }
    }
    // Every worker has reported, so each wait below returns soon.
    let mut joined = 0;
    for (index, how) in reports.reap(REPORT_TIMEOUT)?.into_iter().enumerate() {
        writeln!(out, "[parent] joined {}: {how}", reports.tag(index))?;
        joined += 1;
    }
    // A joined thread is gone: no `worker-*` thread is listed any more.
    let left = reports.still_alive()?;
    writeln!(
        out,
        "[parent] joined {}; still alive afterwards: {}",
        plural(joined, "worker", "workers"),
        left.len()
    )?;

    conclude(
        out,
        joined == workers && left.is_empty() && right == workers,
        format!(
            "{joined} of {workers} workers joined, every one in pid {parent}, {} left",
            left.len()
        ),
        "threads live inside one process: one pid, and join waits for each to end",
    )?;
    Ok(())
}

/// The worker: reports who it is.
///
/// # Errors
/// The parent has stopped listening.
pub fn worker(index: usize, report: Report) -> Result<()> {
    let me = std::thread::current();
    // ThreadId has no number accessor on stable Rust; its debug form is `ThreadId(3)`.
    let id = format!("{:?}", me.id());
    let id = id.trim_start_matches("ThreadId(").trim_end_matches(')');
    let name = me.name().expect("every worker is spawned with a name");
    let line = format!(
        "pid {}, thread id {id}, named {name}, worker {index}",
        std::process::id()
    );
    report.send(line).context("reporting to the parent")
}

/// The pid in a report line `pid 123, ...`.
fn reported_pid(line: &str) -> Option<u32> {
    line.strip_prefix("pid ")?.split(',').next()?.parse().ok()
}
