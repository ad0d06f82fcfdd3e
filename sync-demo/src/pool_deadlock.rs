//! A pool that waits on itself: the seed's deadlock, one level up, and what common's pool does.
//!
//! Python's `concurrent.futures` documentation shows the trap: a `ThreadPoolExecutor` of one
//! thread runs `wait_on_future`, which submits `pow(5, 2)` to the same executor and waits for
//! it. The only thread that could run `pow` is the one waiting, so Python waits for ever.
//! common's `ThreadPool` answers it as rayon does: a worker that waits on a task of its own pool
//! which has not started runs it itself, inline (`common/src/thread_pool/nested.rs` says why
//! this and not an error). The trap is still there for a wait that cannot help: a task that
//! polls `is_finished` instead of waiting sees its child never start, and this scenario shows
//! that for 200 ms. Then the cures that need no help from the pool: a bigger pool, submitting
//! from the caller, and nested scopes (threads of the task's own, joined before it returns).
//!
//! A `ProcessPool` has no such trap to show: its workers are other processes, and the pool
//! lives in the parent. A task there cannot reach its parent's pool at all; the processes half
//! runs a task that looks for it and reports what it found.

use std::io::Write;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::demo::narrate::{duration, header};
use common::{Pool, ProcessPool, ThreadPool};

use crate::output::conclude;

/// The bound of every wait here: far above what any step takes.
const PATIENCE: Duration = Duration::from_secs(5);
/// How long the task polls `is_finished` to show the trap: its child cannot start meanwhile.
const POLL_FOR: Duration = Duration::from_millis(200);

/// The pool the tasks reach: a task is a plain `fn`, so it finds its pool through a static,
/// as Python's example finds its `executor` through a global.
static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn pool() -> Option<Arc<ThreadPool>> {
    POOL.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Sets the pool the tasks reach for the length of `body`, then drops it (joining its threads).
fn with_pool<T>(workers: usize, body: impl FnOnce(&ThreadPool) -> Result<T>) -> Result<T> {
    let pool = Arc::new(ThreadPool::new(workers).context("starting the pool")?);
    *POOL.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&pool));
    let out = body(&pool);
    POOL.write().unwrap_or_else(PoisonError::into_inner).take();
    out
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

/// Python's `pow(5, 2)`, saying which thread ran it.
fn pow(args: (u64, u32)) -> (u64, String) {
    (args.0.pow(args.1), thread_name())
}

/// What a task saw: the answer, who ran the outer task, who ran `pow`, and a note.
type Seen = (u64, String, String, String);

/// Python's `wait_on_future`: submits `pow(5, 2)` to its own pool and waits. Before it waits,
/// it polls `is_finished` for a while, a wait that cannot help: the trap, bounded.
fn wait_on_future(poll: bool) -> Result<Seen, String> {
    let pool = pool().ok_or("no pool in this process")?;
    let mut handle = pool.submit(pow, (5, 2));
    let mut note = String::new();
    if poll {
        let started = Instant::now();
        while !handle.is_finished() && started.elapsed() < POLL_FOR {
            std::thread::sleep(Duration::from_millis(1));
        }
        let finished = handle.is_finished();
        note = format!("polled is_finished for {}: {finished}", duration(POLL_FOR));
    }
    let (answer, ran_on) = handle.wait_timeout(PATIENCE).map_err(|e| e.to_string())?;
    Ok((answer, thread_name(), ran_on, note))
}

/// Cure 3: the task runs its children on threads of its own, in a scope that joins them.
fn scoped_squares(n: u64) -> u64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|x| s.spawn(move || x * x)).collect();
        // A scoped thread that panicked would re-panic here: inside a task, that is its error.
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

/// Threads: the trap and the pool's answer on `ThreadPool(1)`, then the cures.
///
/// # Errors
/// A pool could not start, a task failed, or a check did not hold.
pub fn threads(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "pool-deadlock (threads)",
        "a task that waits on a task of its own pool",
        &[("workers", 1)],
    )?;
    writeln!(
        out,
        "-- the trap (Python's concurrent.futures example): ThreadPool(1) runs wait_on_future,\n   \
         which submits pow(5, 2) to the same pool and waits; its one thread is the one waiting"
    )?;
    let started = Instant::now();
    let trap = with_pool(1, |pool| {
        let mut outer = pool.submit(wait_on_future, true);
        Ok(outer.wait_timeout(PATIENCE)?)
    })?;
    let took = started.elapsed();
    let (answer, outer_on, pow_on, note) = trap.map_err(anyhow::Error::msg)?;
    writeln!(
        out,
        "[{outer_on}] wait_on_future submitted pow(5, 2) to its own pool"
    )?;
    writeln!(
        out,
        "[{outer_on}] {note}: the one thread that could run it polls"
    )?;
    writeln!(
        out,
        "[{pow_on}] ran pow(5, 2) = {answer} inside the wait: the waiter ran it itself"
    )?;
    let helped = answer == 25 && outer_on == pow_on && took < PATIENCE;
    writeln!(out, "   answered after {} (Python: never)", duration(took))?;

    writeln!(
        out,
        "-- cure 1, a bigger pool: ThreadPool(2), the same task"
    )?;
    let bigger = with_pool(2, |pool| {
        let mut outer = pool.submit(wait_on_future, true);
        Ok(outer.wait_timeout(PATIENCE)?)
    })?;
    let (answer2, outer_on, pow_on, note) = bigger.map_err(anyhow::Error::msg)?;
    writeln!(out, "[{outer_on}] {note}: a second thread was free")?;
    writeln!(out, "[{pow_on}] ran pow(5, 2) = {answer2}")?;

    writeln!(
        out,
        "-- cure 2, submit from the caller: [main] submits pow(5, 2) itself, then waits"
    )?;
    let from_caller = with_pool(1, |pool| {
        let mut handle = pool.submit(pow, (5, 2));
        Ok(handle.wait_timeout(PATIENCE)?)
    })?;
    writeln!(
        out,
        "[{}] ran pow(5, 2) = {}: no task waits on another",
        from_caller.1, from_caller.0
    )?;

    writeln!(
        out,
        "-- cure 3, nested scopes: the task spawns its own threads in a scope and joins them"
    )?;
    let scoped = with_pool(1, |pool| {
        let mut handle = pool.submit(scoped_squares, 10);
        Ok(handle.wait_timeout(PATIENCE)?)
    })?;
    writeln!(
        out,
        "[pool-thread-0] the sum of the squares 0..10 = {scoped}, from 10 scoped threads"
    )?;

    let passed = helped && answer2 == 25 && from_caller.0 == 25 && scoped == 285;
    let what = format!(
        "ThreadPool(1) task waiting on its own pool: {answer} after {} (the waiter ran it); \
         cures: bigger pool {answer2}, from the caller {}, nested scope {scoped}",
        duration(took),
        from_caller.0
    );
    conclude(
        out,
        passed,
        &what,
        "a wait inside a pool needs a free thread: be one (run it inline), or leave one free",
    )?;
    Ok(())
}

/// Processes: a `ProcessPool` task looks for its parent's pool, and cannot find it.
///
/// # Errors
/// The pool could not start, or the check did not hold.
pub fn processes(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "pool-deadlock (processes)",
        "a ProcessPool task cannot reach its parent's pool",
        &[("workers", 1)],
    )?;
    writeln!(
        out,
        "   the parent sets its pool where tasks find it; the task runs in another process,\n   \
         where that static was never set"
    )?;
    let found = with_pool(1, |_| {
        let processes = ProcessPool::new(1).context("starting the process pool")?;
        let mut handle = processes.submit(wait_on_future, false);
        let seen = handle.wait_timeout(PATIENCE)?;
        Ok((seen, processes.workers()))
    })?;
    let (seen, _) = found;
    let answer = match &seen {
        Ok((answer, ..)) => format!("an answer, {answer}?!"),
        Err(e) => e.clone(),
    };
    writeln!(out, "[worker process] wait_on_future: {answer}")?;
    let passed = seen.is_err();
    conclude(
        out,
        passed,
        format!("the task found its parent's pool: {}", !passed),
        "a worker process shares nothing with its parent: it cannot wait on the parent's pool",
    )?;
    Ok(())
}
