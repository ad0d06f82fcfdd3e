//! Private memory: each worker changes "its" copy of a value; the parent's copy is unchanged.
//!
//! Process boundary: a process cannot reach another's memory at all, so every variable is
//! private, even a plain `static` that threads would share: the worker is this program started
//! again, with a fresh copy of every variable, and `value` reaches it only because we pass it on
//! its command line (copied as text).
//! So every worker sees `START + its index + 1` in both, and the parent still sees `START`
//! afterwards. The order of the reports varies between runs: the OS schedules each worker.

use crate::crew::{Crew, Report};
use anyhow::{Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, header};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The value every copy starts from.
pub const START: u64 = 100;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

// Process boundary: a plain `static` is enough; no other process can see it.
/// One per process: a `static`, shared by the threads of a process but by no other process.
static LOCAL: AtomicU64 = AtomicU64::new(START);

/// This process's `LOCAL`, after adding `add` to it.
fn local(add: u64) -> u64 {
    LOCAL.fetch_add(add, Relaxed);
    LOCAL.load(Relaxed)
}

/// Each worker adds `index + 1` to its copy of `value` and of `LOCAL`; the parent checks its own.
///
/// # Errors
/// A failed spawn, a missing report, or a failed check.
pub fn run(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "private-memory",
        "each worker changes its own copy",
        &[("workers", workers), ("start", START as usize)],
    )?;
    let value = START;
    writeln!(
        out,
        "[parent] value = {value}, LOCAL = {}; workers report in any order",
        local(0)
    )?;
    let mut reports = Crew::new();
    for index in 0..workers {
        // Process boundary: a worker is this program started again, with its own arguments.
        let mut cmd = self_command();
        cmd.args(["child", "private-memory", &index.to_string()]);
        // The command line copies `value` into the worker: from here on there are two values.
        cmd.arg(value.to_string());
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
        let expected = START + index as u64 + 1;
        if number_after(&line, "value = ") == Some(expected)
            && number_after(&line, "LOCAL = ") == Some(expected)
        {
            right += 1;
        }
    }
    reports.reap(REPORT_TIMEOUT)?;
    let (mine, local) = (value, local(0));
    writeln!(out, "[parent] value = {mine}, LOCAL = {local} (unchanged)")?;

    conclude(
        out,
        right == workers && mine == START && local == START,
        format!("{right} of {workers} workers changed only their copy; parent still {mine} (expected {START})"),
        "every variable of a process is its own, even a static; only copies cross over",
    )?;
    Ok(())
}

/// The worker: changes its copies and reports them.
///
/// # Errors
/// The parent has stopped listening.
pub fn worker(index: usize, value: u64, report: Report) -> Result<()> {
    let mut value = value;
    value += index as u64 + 1;
    let local = local(index as u64 + 1);
    let line = format!("value = {value}, LOCAL = {local} in my copies");
    report.send(line).context("reporting to the parent")
}

/// The number that follows `key` in `line`.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
