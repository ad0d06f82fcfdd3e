//! Crash: a task that panics and a task that aborts, on both pools.
//!
//! A panic unwinds: the pool catches it around the one task (`catch_unwind`), reports
//! `Error::Panicked` with message and location for that task, and goes on, on both pools.
//! An abort does not unwind: `std::process::abort` ends the *process* at once with `SIGABRT`.
//! In a process pool that process is one worker: the pool sees it die, reports
//! `Error::WorkerDied` for the task it was running, starts a replacement, and every other task
//! completes. In a thread pool the worker is a thread of *your* program, so the abort ends your
//! program, pool, results and all. No library can catch that from inside, so the demo shows it in a
//! child process (this executable again, with a hidden subcommand) and reports how it died.

use crate::tasks::{faulty, ABORT_AT, PANIC_AT};
use crate::{process_pool, thread_pool, Settings};
use anyhow::Context;
use common::demo::child::{self_command, Child};
use common::demo::narrate::{conclude, header, pid_tag};
use common::{Error, Exit, Pool};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// Items `0..ITEMS`; [`PANIC_AT`] panics and [`ABORT_AT`] aborts.
pub const ITEMS: u64 = 10;
/// The hidden subcommand that runs the aborting task on a thread pool.
pub const CHILD_COMMAND: &str = "abort-in-thread-pool";

/// How each task ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tasks that returned the right value.
    pub right: usize,
    /// Tasks reported as `Error::Panicked`.
    pub panicked: usize,
    /// Tasks reported as `Error::WorkerDied` by `SIGABRT`.
    pub aborted: usize,
    /// Anything else (wrong values, other errors): must stay 0.
    pub other: usize,
    /// Items answered, each exactly once.
    pub answered: usize,
}

/// The one function both pools run: every item, one per batch, tallied as it completes.
///
/// # Errors
/// The writer's.
pub fn survive<P: Pool>(
    out: &mut impl Write,
    prefix: &str,
    pool: &P,
    items: &[u64],
) -> anyhow::Result<Tally> {
    let kind = pool.kind();
    let mut tally = Tally::default();
    let mut seen = vec![false; items.len()];
    for (index, result) in pool.map_unordered(faulty, items.iter().copied()) {
        let item = items.get(index).copied();
        let shown = item.map_or_else(|| format!("#{index}?"), |i| i.to_string());
        writeln!(
            out,
            "{prefix}{kind} pool: item {shown} -> {}",
            describe(&result)
        )?;
        // Which count this answer belongs to; `None` for anything unexpected.
        let count = match &result {
            Ok(v) if item.map(|i| i * 10) == Some(*v) => Some(&mut tally.right),
            Err(Error::Panicked { .. }) => Some(&mut tally.panicked),
            Err(Error::WorkerDied {
                cause: Exit::Signal(libc::SIGABRT),
                ..
            }) => Some(&mut tally.aborted),
            _ => None,
        };
        // An index answered twice, or one that was never sent, is a failure too.
        match (count, seen.get_mut(index)) {
            (Some(count), Some(slot)) if !*slot => {
                *count += 1;
                *slot = true;
            }
            _ => tally.other += 1,
        }
    }
    tally.answered = seen.iter().filter(|&&s| s).count();
    Ok(tally)
}

fn describe(result: &Result<u64, Error>) -> String {
    match result {
        Ok(v) => format!("{v}"),
        Err(e) => format!("error: {e}"),
    }
}

/// The hidden subcommand: the same [`survive`] on a thread pool, aborting task included.
/// It never returns normally: the abort ends this process.
///
/// # Errors
/// A pool that cannot start, or the writer's error.
pub fn child_main(workers: usize) -> anyhow::Result<()> {
    // Wrapped as the parent's own lines are: this child writes to the same stdout.
    let mut out = common::demo::narrate::Wrapped::new(std::io::stdout().lock());
    let prefix = format!("  {} ", pid_tag(std::process::id()));
    writeln!(
        out,
        "{prefix}child: thread pool with all {ITEMS} items, item {ABORT_AT} aborts"
    )?;
    let items: Vec<u64> = (0..ITEMS).collect();
    survive(&mut out, &prefix, &thread_pool(workers, false)?, &items)?;
    writeln!(out, "{prefix}child: survived (this line is not expected)")?;
    Ok(())
}

/// Runs [`survive`] on both pools, and the thread pool's abort in a child process.
///
/// # Errors
/// A pool or child that cannot start, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "crash",
        "a panicking and an aborting task, on both pools",
        &[("workers", workers), ("items", ITEMS as usize)],
    )?;
    writeln!(out, "item {PANIC_AT} panics, item {ABORT_AT} calls std::process::abort, the rest return item*10")?;
    writeln!(
        out,
        "(results arrive as tasks finish, so their order varies between runs)"
    )?;
    let all: Vec<u64> = (0..ITEMS).collect();
    let no_abort: Vec<u64> = all.iter().copied().filter(|&i| i != ABORT_AT).collect();

    let processes = survive(out, "", &process_pool(workers, false)?, &all)?;
    writeln!(
        out,
        "thread pool: without item {ABORT_AT}, whose abort would end this whole program (it runs \
         below, in a child process)"
    )?;
    let threads = survive(out, "", &thread_pool(workers, false)?, &no_abort)?;

    writeln!(
        out,
        "thread pool with the aborting item, in a child process:"
    )?;
    out.flush()?; // the child writes to the same stdout
    let mut cmd = self_command();
    cmd.arg(CHILD_COMMAND)
        .arg("--workers")
        .arg(workers.to_string());
    let mut child = Child::spawn(&mut cmd).context("starting the thread-pool child")?;
    // Bounded: the child aborts within milliseconds; ten seconds means something is wrong.
    let status = child
        .finish(Duration::from_secs(10))
        .context("waiting for the thread-pool child")?;
    let signal = status.signal();
    writeln!(
        out,
        "{} child: {}: the abort ended the whole process, its pool and every pending result",
        pid_tag(child.pid()),
        common::demo::sys::describe_exit(status)
    )?;

    let n = ITEMS as usize;
    let ok = processes
        == Tally {
            right: n - 2,
            panicked: 1,
            aborted: 1,
            other: 0,
            answered: n,
        }
        && threads
            == Tally {
                right: n - 2,
                panicked: 1,
                aborted: 0,
                other: 0,
                answered: n - 1,
            }
        && signal == Some(libc::SIGABRT);
    conclude(
        out,
        ok,
        format_args!(
            "process pool: {} right, {} panicked, {} died (SIGABRT); thread pool: {} right, \
             {} panicked; thread-pool child killed by {}",
            processes.right,
            processes.panicked,
            common::demo::narrate::plural(processes.aborted, "worker", "workers"),
            threads.right,
            threads.panicked,
            signal.map_or("no signal", common::demo::sys::signal_name)
        ),
        "a panic fails one task on either pool; an abort costs one worker process, or the whole \
         program with threads",
    )?;
    Ok(())
}
