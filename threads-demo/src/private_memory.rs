//! Private memory: each worker changes "its" copy of a value; the parent's copy is unchanged.
//!
//! A thread could reach any memory of its process, so privacy between threads is something Rust
//! arranges for us: the `move` closure gives each worker its own copy of `value` (a `u64` is
//! `Copy`), and a `thread_local!` exists once per thread, each starting from `START`. So every
//! worker sees `START + its index + 1` in both, and the parent still sees `START` afterwards.
//! The order of the reports varies between runs: the OS schedules each worker.

use anyhow::{anyhow, Context, Result};
use common::demo::narrate::{conclude, header, thread_tag};
use crossbeam_channel::Sender;
use std::cell::Cell;
use std::io::Write;
use std::time::Duration;

/// The value every copy starts from.
pub const START: u64 = 100;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    /// One per thread: a thread-local starts at `START` in every thread that touches it.
    static LOCAL: Cell<u64> = const { Cell::new(START) };
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
        LOCAL.get()
    )?;
    let (tx, reports) = crossbeam_channel::unbounded();
    let mut handles = Vec::new();
    for index in 0..workers {
        let tx = tx.clone();
        // `move` copies `value` into the worker: from here on there are two values.
        let handle = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || worker(index, value, tx))
            .with_context(|| format!("spawning worker {index}"))?;
        handles.push(handle);
    }
    drop(tx);

    let mut right = 0;
    for _ in 0..workers {
        let (index, line) = reports
            .recv_timeout(REPORT_TIMEOUT)
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", thread_tag(index))?;
        let expected = START + index as u64 + 1;
        if number_after(&line, "value = ") == Some(expected)
            && number_after(&line, "LOCAL = ") == Some(expected)
        {
            right += 1;
        }
    }
    for handle in handles {
        handle.join().map_err(|_| anyhow!("a worker panicked"))??;
    }
    let (mine, local) = (value, LOCAL.get());
    writeln!(out, "[parent] value = {mine}, LOCAL = {local} (unchanged)")?;

    conclude(
        out,
        right == workers && mine == START && local == START,
        format!("{right} of {workers} workers changed only their copy; parent still {mine} (expected {START})"),
        "a moved value and a thread_local! belong to one thread; other memory is shared",
    )?;
    Ok(())
}

/// The worker: changes its copies and reports them.
///
/// # Errors
/// The parent has stopped listening.
pub fn worker(index: usize, value: u64, tx: Sender<(usize, String)>) -> Result<()> {
    let mut value = value;
    value += index as u64 + 1;
    LOCAL.set(LOCAL.get() + index as u64 + 1);
    let local = LOCAL.get();
    let line = format!("value = {value}, LOCAL = {local} in my copies");
    tx.send((index, line)).context("reporting to the parent")
}

/// The number that follows `key` in `line`.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
