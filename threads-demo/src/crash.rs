//! Crash: a worker that panics, aborts or is killed, seen from the parent.
//!
//! A panic unwinds one thread only: `join` hands its payload (the message) to the parent, and the
//! other workers finish as if nothing happened. An abort is different: it ends the *process*,
//! every thread in it, at once; so worker 2 aborts in a child process (this program started
//! again), and reads that process's death as `SIGABRT`. And a thread cannot be killed from
//! outside at all: it shares the process's memory and may hold a lock, so there is no safe place
//! to stop it; the parent can only ask it to stop, and it must look. (The deliberate panic
//! prints one line on stderr, from `common::demo::narrate::tidy_panics`.)

use anyhow::{bail, Context, Result};
use common::demo::child::{self_command, Child};
use common::demo::narrate::{conclude, header, thread_tag, tidy_panics};
use common::demo::sys::describe_exit;
use crossbeam_channel::Sender;
use std::io::{Read, Write};
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
    /// Is killed by the parent: impossible for a thread, so it is asked to stop.
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
pub fn run(out: &mut impl Write, workers: usize) -> Result<()> {
    // One tidy line for the deliberate panic, tagged like the narration: `[thread 1] panicked`.
    let tag = || {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let index = name.strip_prefix("worker-").and_then(|i| i.parse().ok());
        index.map_or(format!("[thread {name}]"), thread_tag)
    };
    tidy_panics(tag, || fates(out, workers))
}

/// [`run`], under the tidy panic hook.
fn fates(out: &mut impl Write, _workers: usize) -> Result<()> {
    header(
        out,
        "crash",
        "workers that panic, abort or are killed",
        &[("workers", FATES.len())],
    )?;
    let mut as_expected = 0;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, lines) = crossbeam_channel::unbounded();
    // If narration fails half-way (stdout closed by `| head`), the guard still asks every
    // worker to stop and joins it before the tidy panic hook is taken down: a worker must not
    // panic later under the default hook.
    let mut crew = JoinAll {
        handles: Vec::new(),
        stop: Arc::clone(&stop),
    };
    for index in 0..FATES.len() {
        let (stop, tx) = (Arc::clone(&stop), tx.clone());
        let handle = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || worker(index, &stop, tx))
            .with_context(|| format!("spawning worker {index}"))?;
        crew.handles.push(handle);
    }
    // Every worker says it has started; then the one to be killed is killed.
    for _ in 0..FATES.len() {
        let (index, line) = lines
            .recv_timeout(WAIT_LIMIT)
            .context("waiting for a worker to start")?;
        writeln!(out, "{} {line}", thread_tag(index))?;
    }
    stop.store(true, Release);
    writeln!(
        out,
        "[parent] a thread cannot be killed: asked {} to stop",
        thread_tag(3)
    )?;
    // Each worker ends within WAIT_LIMIT, so each join is bounded.
    let handles = std::mem::take(&mut crew.handles);
    let joined: Vec<_> = handles.into_iter().map(|handle| handle.join()).collect();
    for ((index, fate), joined) in FATES.into_iter().enumerate().zip(joined) {
        let (expected, words) = match (fate, joined) {
            (Fate::Finishes, Ok(Ok(line))) => (line.ends_with("finished"), said(&line)),
            (Fate::Panics, Err(payload)) => (true, panic_message(&*payload)),
            // Every thread of the child ended with it: the sibling did not finish.
            (Fate::Aborts, Ok(Ok(line))) => (aborted(&line), said(&line)),
            (Fate::IsKilled, Ok(Ok(line))) => (line.ends_with("when asked"), said(&line)),
            (_, Ok(Ok(line))) => (false, format!("unexpectedly {}", said(&line))),
            (_, Ok(Err(e))) => (false, format!("failed: {e:#}")),
            (_, Err(_)) => (false, "unexpectedly panicked".into()),
        };
        let tag = thread_tag(index);
        writeln!(out, "{tag} {}: {words}", fate.words())?;
        as_expected += usize::from(expected);
    }
    let left = crate::live_threads("worker-")?;
    writeln!(
        out,
        "[parent] still going; workers left alive: {}",
        left.len()
    )?;

    conclude(
        out,
        as_expected == FATES.len() && left.is_empty(),
        format!(
            "{as_expected} of {} fates as expected: 1 finished, 1 panic caught by join, \
             an abort is SIGABRT for every thread",
            FATES.len()
        ),
        "a panic ends one thread; an abort or a kill ends the whole process",
    )?;
    Ok(())
}

/// Worker threads that are asked to stop and joined when the scenario ends early.
struct JoinAll {
    handles: Vec<std::thread::JoinHandle<Result<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for JoinAll {
    fn drop(&mut self) {
        self.stop.store(true, Release);
        for handle in self.handles.drain(..) {
            let _ = handle.join(); // bounded: every worker ends within WAIT_LIMIT
        }
    }
}

/// The worker: meets its fate.
///
/// # Errors
/// The aborting child could not be started or did not end in time.
pub fn worker(index: usize, stop: &AtomicBool, tx: Sender<(usize, String)>) -> Result<String> {
    let fate = FATES[index % FATES.len()];
    let line = format!("worker {index} started; its fate: {}", fate.words());
    tx.send((index, line)).context("reporting to the parent")?;
    // On purpose: give the other workers time to be running when this one crashes.
    std::thread::sleep(Duration::from_millis(20));
    match fate {
        Fate::Finishes => Ok(format!("worker {index} finished")),
        Fate::Panics => panic!("worker {index} gives up"),
        // An abort ends every thread of its process, so it runs in a child, not here.
        Fate::Aborts => abort_in_a_child(index),
        Fate::IsKilled => {
            // Wait to be asked to stop, but not forever.
            let started = std::time::Instant::now();
            while started.elapsed() < WAIT_LIMIT {
                if stop.load(Acquire) {
                    return Ok(format!("worker {index} stopped when asked"));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            bail!("worker {index} was never asked to stop")
        }
    }
}

/// Whether worker 2's line says its process died of `SIGABRT` before the sibling finished.
fn aborted(line: &str) -> bool {
    line.contains("(SIGABRT), sibling stopped")
}

/// What join returned, in words.
fn said(line: &str) -> String {
    format!("join returned \"{line}\"")
}

/// The message of a panic, in words.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    // `panic!` with format arguments always carries a `String`.
    let message = payload.downcast_ref::<String>().expect("a formatted panic");
    format!("join returned the panic's message \"{message}\"")
}

/// Starts this program again as a process whose two threads work and abort, and says how that
/// process ended.
fn abort_in_a_child(index: usize) -> Result<String> {
    let mut cmd = self_command();
    cmd.args(["child", "crash", &index.to_string()]);
    let mut child = Child::spawn(cmd.stdout(Stdio::piped())).context("spawning the child")?;
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
    let mut stdout = child
        .inner_mut()
        .stdout
        .take()
        .expect("stdout is piped: set above");
    stdout
        .read_to_string(&mut said)
        .context("reading the child's output")?;
    let steps = said.lines().filter(|l| l.contains("still working")).count();
    // An abort ends every thread: the sibling never gets to say "finished".
    let sibling = match said.contains("finished") {
        true => "sibling finished".to_string(),
        false => format!("sibling stopped at step {steps}"),
    };
    Ok(format!("process {}, {sibling}", describe_exit(status)))
}

/// The hidden `child crash <index>` subcommand: one thread works, another aborts the process.
///
/// # Errors
/// Never returns normally: the process dies of `SIGABRT`.
pub fn aborting_process(index: usize) -> Result<()> {
    // Keeps the deliberate abort below from leaving a core file behind.
    common::demo::sys::no_core_dump().context("turning core dumps off")?;
    std::thread::Builder::new()
        .name("sibling".into())
        .spawn(move || {
            // writeln!, not println!: a closed pipe must not become a panic message.
            for step in 0..100 {
                let _ = writeln!(std::io::stdout(), "still working (step {step})");
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = writeln!(std::io::stdout(), "finished");
        })?;
    // On purpose: let the sibling print a few lines before the abort ends it too.
    std::thread::sleep(Duration::from_millis(35));
    let _ = writeln!(std::io::stdout(), "worker {index} aborting the process");
    std::process::abort()
}
