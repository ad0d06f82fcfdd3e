//! Crash: a worker that panics, aborts or is killed, seen from the parent.
//!
//! A panic unwinds one thread only: `join` hands its payload (the message) to the parent, and the
//! other workers finish as if nothing happened. An abort is different: it ends the *process*,
//! every thread in it, at once; so it is shown here in a child process (this program started
//! again), and the parent reads the child's death as `SIGABRT`. And a thread cannot be killed
//! from outside at all: it shares the process's memory and may hold a lock, so there is no safe
//! place to stop it. (The deliberate panic prints one line on stderr, from
//! `common::demo::narrate::tidy_panics`, instead of Rust's full panic message.)

use anyhow::{anyhow, bail, Context, Result};
use common::demo::child::{self_command, Child};
use common::demo::narrate::{conclude, header, pid_tag, thread_tag};
use common::demo::sys::describe_exit;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Release},
};
use std::sync::Arc;
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
    // One tidy line for the deliberate panic, tagged like the narration: `[thread 1] panicked`.
    let tag = || {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let index = name.strip_prefix("worker-").and_then(|i| i.parse().ok());
        index.map_or(format!("[thread {name}]"), thread_tag)
    };
    let joined = common::demo::narrate::tidy_panics(tag, || -> Result<_> {
        let mut handles = Vec::new();
        for (index, fate) in FATES.into_iter().enumerate().take(2) {
            let handle = std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || worker(index, fate))
                .with_context(|| format!("spawning worker {index}"))?;
            handles.push((index, fate, handle));
        }
        // A worker sleeps 20 ms at most, so each join is short.
        Ok(handles
            .into_iter()
            .map(|(index, fate, handle)| (index, fate, handle.join()))
            .collect::<Vec<_>>())
    })?;
    for (index, fate, joined) in joined {
        match (fate, joined) {
            (Fate::Finishes, Ok(line)) => {
                writeln!(
                    out,
                    "{} {}: join returned \"{line}\"",
                    thread_tag(index),
                    fate.words()
                )?;
                as_expected += 1;
            }
            (Fate::Panics, Err(payload)) => {
                // `panic!` with format arguments always carries a `String`.
                let message = payload
                    .downcast_ref::<String>()
                    .expect("worker panics with a formatted message");
                writeln!(
                    out,
                    "{} {}: join returned the panic's message \"{message}\"",
                    thread_tag(index),
                    fate.words()
                )?;
                as_expected += 1;
            }
            (fate, Ok(_)) => writeln!(
                out,
                "{} {}: unexpectedly ended well",
                thread_tag(index),
                fate.words()
            )?,
            (fate, Err(_)) => writeln!(
                out,
                "{} {}: unexpectedly panicked",
                thread_tag(index),
                fate.words()
            )?,
        }
    }

    // An abort ends every thread of its process, so it runs in a child, not here.
    let mut child = Child::spawn(
        self_command()
            .arg("abort-from-thread")
            .stdout(Stdio::piped()),
    )
    .context("spawning the child that aborts")?;
    let Some(status) = child
        .wait_timeout(WAIT_LIMIT)
        .context("waiting for the child")?
    else {
        bail!(
            "the aborting child is still running after {}",
            common::demo::narrate::duration(WAIT_LIMIT)
        );
    };
    let mut said = String::new();
    // The child is dead, so its end of the pipe is closed and this read ends at once.
    if let Some(mut stdout) = child.inner_mut().stdout.take() {
        stdout
            .read_to_string(&mut said)
            .context("reading the child's output")?;
    }
    for line in said.lines() {
        writeln!(out, "{} {line}", pid_tag(child.pid()))?;
    }
    let all_gone = !said.contains("finished");
    writeln!(
        out,
        "[thread 2] aborts: its process was {}; its sibling thread never finished",
        describe_exit(status)
    )?;
    if status.signal() == Some(libc::SIGABRT) && all_gone {
        as_expected += 1;
    }
    // A thread cannot be killed from outside: std has no such call, because a thread stopped
    // at an arbitrary instruction could leave a lock held or data half-written for the others.
    // The parent can only ask it to stop, and the thread must look.
    let stop = Arc::new(AtomicBool::new(false));
    let asked = Arc::clone(&stop);
    let handle = std::thread::Builder::new()
        .name("worker-3".into())
        .spawn(move || stop_when_asked(3, &asked))
        .context("spawning worker 3")?;
    stop.store(true, Release);
    let line = handle.join().map_err(|_| anyhow!("worker 3 panicked"))?;
    writeln!(
        out,
        "{} is killed: a thread cannot be; asked to stop, it returned \"{line}\"",
        thread_tag(3)
    )?;
    if line.ends_with("stopped when asked") {
        as_expected += 1;
    }

    conclude(
        out,
        as_expected == FATES.len(),
        format!(
            "{as_expected} of {} fates as expected: 1 finished, 1 panic caught by join, \
             an abort is SIGABRT for every thread",
            FATES.len()
        ),
        "a panic ends one thread; an abort or a kill ends the whole process",
    )?;
    Ok(())
}

/// The worker: meets its fate.
fn worker(index: usize, fate: Fate) -> String {
    // On purpose: give the other worker time to be running when this one panics.
    std::thread::sleep(Duration::from_millis(20));
    match fate {
        Fate::Panics => panic!("worker {index} gives up"),
        _ => format!("worker {index} finished"),
    }
}

/// The worker that cannot be killed: it checks `stop` until the parent sets it (or gives up
/// after [`WAIT_LIMIT`]).
fn stop_when_asked(index: usize, stop: &AtomicBool) -> String {
    let started = std::time::Instant::now();
    while started.elapsed() < WAIT_LIMIT {
        if stop.load(Acquire) {
            return format!("worker {index} stopped when asked");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    format!("worker {index} was never asked to stop")
}

/// The hidden `abort-from-thread` subcommand: one thread works, another aborts the process.
///
/// # Errors
/// Never returns normally: the process dies of `SIGABRT`.
pub fn abort_from_thread() -> Result<()> {
    // Keeps the deliberate abort below from leaving a core file behind.
    common::demo::sys::no_core_dump().context("turning core dumps off")?;
    let tag = thread_tag(0);
    std::thread::Builder::new()
        .name("worker-0".into())
        .spawn(move || {
            // writeln!, not println!: a closed pipe must not become a panic message.
            for step in 0..100 {
                let _ = writeln!(std::io::stdout(), "{tag} still working (step {step})");
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = writeln!(std::io::stdout(), "{tag} finished");
        })?;
    let aborter = std::thread::Builder::new()
        .name("worker-1".into())
        .spawn(|| {
            // On purpose: let worker 0 print a few lines before the abort ends it too.
            std::thread::sleep(Duration::from_millis(35));
            let _ = writeln!(std::io::stdout(), "{} aborting the process", thread_tag(1));
            std::process::abort();
        })?;
    let _ = aborter.join();
    bail!("unreachable: the process aborted")
}
