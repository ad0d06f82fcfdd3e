//! Private memory: each worker changes "its" copy of a value; the parent's copy is unchanged.
//!
//! A process cannot reach another's memory at all, so every variable is private, even a plain
//! `static` that threads would share: the worker is this program started again, with a fresh
//! copy of every variable, and `value` reaches it only because we pass it on its command line
//! (copied as text). So every worker sees `START + its index + 1` in both, and the parent still
//! sees `START` afterwards.
//! The order of the reports varies between runs: the OS schedules each worker.

use anyhow::{ensure, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, header, pid_tag};
use common::demo::process::Crew;
use common::demo::sys::describe_exit;
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
        LOCAL.load(Relaxed)
    )?;
    // Process boundary: a worker is this program started again; its stdout is our channel.
    let mut reports = Crew::new();
    for index in 0..workers {
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
            .recv(REPORT_TIMEOUT)?
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", pid_tag(reports.pid(index)))?;
        let expected = START + index as u64 + 1;
        if number_after(&line, "value = ") == Some(expected)
            && number_after(&line, "LOCAL = ") == Some(expected)
        {
            right += 1;
        }
    }
    for status in reports.reap(REPORT_TIMEOUT)? {
        ensure!(status.success(), "a worker {}", describe_exit(status));
    }
    let (mine, local) = (value, LOCAL.load(Relaxed));
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
pub fn worker(index: usize, value: u64) -> Result<()> {
    let mut value = value;
    value += index as u64 + 1;
    LOCAL.fetch_add(index as u64 + 1, Relaxed);
    let local = LOCAL.load(Relaxed);
    let line = format!("value = {value}, LOCAL = {local} in my copies");
    // Process boundary: our stdout is a pipe to the parent, which prints the line for us.
    writeln!(std::io::stdout(), "{line}").context("reporting to the parent")
}

/// The number that follows `key` in `line`.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
