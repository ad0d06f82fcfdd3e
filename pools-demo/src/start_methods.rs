//! Start methods: how a worker process can begin, what each costs, and why this pool
//! re-executes itself instead of forking.
//!
//! Three ways to start 2 workers, each timed from the first start to the last worker reaped:
//!
//! - `fork`: the child is a copy of the parent, memory and all (copy-on-write), and starts at
//!   once. Python's `fork` start method, the default on Linux until 3.14.
//! - `fork` + `exec`: the copy replaces itself with a fresh program (here this one, with a
//!   hidden subcommand), which loads and starts from `main`. Python's `spawn` does this with a
//!   fresh interpreter, which must then import the program and unpickle the task: "Can't pickle
//!   local object" is its error.
//! - the pool's re-exec: `ProcessPool` starts this same program again, and `common::init()`
//!   turns it into a worker that connects and takes tasks; the cost of a program start plus a
//!   handshake.
//!
//! Why not fork, if it is the fastest? The copy holds only the thread that called `fork`.
//! Any lock another thread held at that moment is copied *held*, and its owner was not copied:
//! in the child nobody will ever release it. Here a thread of the demo holds a lock while the
//! main thread forks, and the child tries the lock: it waits forever. The parent sees that the
//! child's second byte never comes within [`STUCK_AFTER`], kills it and says so. A re-executed
//! program starts from fresh memory, so its lock is free. Python 3.12 warns about `fork` in a
//! threaded program; 3.14 made `forkserver` the default on POSIX (a small server, started
//! before any thread exists, forks the workers) for this reason.

use crate::sys::{fork_with, reap, ExecArgs, Plan};
use anyhow::{ensure, Context, Result};
use common::demo::cleanup::{track_child, untrack_child};
use common::demo::narrate::{conclude, duration, header, load_warning, pid_tag, speedup};
use common::demo::sys::{describe_exit, has_exited, send_signal, wait_readable};
use std::io::{PipeReader, Read, Write};
use std::os::fd::AsFd;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Workers each method starts.
pub const WORKERS: usize = 2;
/// Each method is timed this many times; the fastest round is shown.
pub const ROUNDS: usize = 3;
/// How long a forked child may take for the lock before the parent calls it stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(1);
/// How long any child may take to start or to end before the parent gives up on it.
const LIMIT: Duration = Duration::from_secs(10);

/// The lock a thread of the demo holds while the main thread forks.
static LOCK: Mutex<()> = Mutex::new(());

/// The hidden `start-methods-child` subcommand: a fresh start of this program. Its `LOCK` is
/// its own, never held by anyone: it takes it at once, and ends.
///
/// # Errors
/// None in practice (the lock is never poisoned in a fresh program).
pub fn child_main() -> Result<()> {
    let held = LOCK.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    drop(held);
    Ok(())
}

/// A forked child of this scenario. Ctrl-C kills it (`track_child`), it dies with this process
/// (`PR_SET_PDEATHSIG`), and if the scenario returns early (a closed stdout) the drop kills it.
struct Forked {
    pid: u32,
    reaped: bool,
}

impl Forked {
    /// Forks a child that carries out `plan`.
    fn start(plan: Plan<'_>) -> Result<Forked> {
        let pid = fork_with(plan).context("fork")?;
        track_child(pid);
        Ok(Forked { pid, reaped: false })
    }

    /// Waits up to `limit` for the child to end, then reaps it; `None` if it is still running.
    fn finish(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        while !has_exited(self.pid)? {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        // Forgotten before it is reaped: until then its pid cannot be anyone else's, so the
        // Ctrl-C handler never signals a stranger.
        untrack_child(self.pid);
        self.reaped = true;
        Ok(Some(reap(self.pid)?))
    }

    /// Kills the child with `SIGKILL` and reaps it.
    fn kill(&mut self) -> Result<Option<ExitStatus>> {
        let _ = send_signal(self.pid, libc::SIGKILL); // an error only if it ended meanwhile
        self.finish(LIMIT)
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.kill();
        }
    }
}

/// Starts [`WORKERS`] forked children that carry out `plan`, and reaps them all.
fn fork_and_reap<'a>(plan: impl Fn() -> Plan<'a>) -> Result<()> {
    let mut children = Vec::new();
    for _ in 0..WORKERS {
        children.push(Forked::start(plan())?);
    }
    for child in &mut children {
        let status = child.finish(LIMIT)?;
        let status = status.with_context(|| format!("child {} did not end", child.pid))?;
        ensure!(
            status.success(),
            "child {} {}",
            child.pid,
            describe_exit(status)
        );
    }
    Ok(())
}

/// The fastest of [`ROUNDS`] runs of `start`.
fn fastest(mut start: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        start()?;
        best = best.min(started.elapsed());
    }
    Ok(best)
}

/// Times the three methods, then shows the fork-after-threads hazard live.
///
/// # Errors
/// A child that cannot start or end, a pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "start-methods",
        "fork, fork + exec, the pool's re-exec; a lock held at fork",
        &[("workers", WORKERS), ("rounds", ROUNDS)],
    )?;
    load_warning(out)?;
    // Made before the fork: the child may not allocate.
    let exe = std::env::current_exe().context("finding this program")?;
    let args = ExecArgs::new(&exe, &["pools-demo", "start-methods-child"])?;
    let fork = fastest(|| fork_and_reap(|| Plan::Exit))?;
    let exec = fastest(|| fork_and_reap(|| Plan::Exec(&args)))?;
    let pool = fastest(|| {
        drop(crate::process_pool(WORKERS, false)?); // started, connected, then reaped
        Ok(())
    })?;
    writeln!(
        out,
        "{WORKERS} workers started and reaped, fastest of {ROUNDS} rounds each:"
    )?;
    writeln!(
        out,
        "  fork                  {:>9}   a copy of this process",
        duration(fork)
    )?;
    writeln!(
        out,
        "  fork + exec           {:>9}   {} the fork's time: a fresh program loads",
        duration(exec),
        speedup(exec, fork),
    )?;
    writeln!(
        out,
        "  the pool's re-exec    {:>9}   {}: a program start and a handshake each",
        duration(pool),
        speedup(pool, fork),
    )?;

    let (stuck_pid, how, waited) = hazard(out)?;
    let fresh = fresh_start(out)?;
    conclude(
        out,
        how.contains("SIGKILL") && fresh,
        format!(
            "the forked child stuck on the held lock was found after {} and killed; the \
             re-executed one took its own lock",
            duration(waited)
        ),
        "fork copies held locks and not their owners: Python's fork, spawn and forkserver \
         trade speed for that; 3.14 made forkserver the default, and this pool re-executes",
    )
    .with_context(|| format!("child {}", pid_tag(stuck_pid)))?;
    Ok(())
}

/// A thread holds [`LOCK`] for as long as the returned sender lives (at most [`LIMIT`]).
fn hold_lock() -> Result<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)> {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held_tx, held) = std::sync::mpsc::channel();
    let holder = std::thread::Builder::new()
        .name("lock-holder".into())
        .spawn(move || {
            let guard = LOCK.lock();
            let _ = held_tx.send(());
            let _ = released.recv_timeout(LIMIT); // a word, or the sender dropped
            drop(guard);
        })
        .context("spawning the lock holder")?;
    held.recv_timeout(LIMIT)
        .context("the holder never took the lock")?;
    Ok((release, holder))
}

/// The bytes that come on `pipe` within `limit`, until it has `want` of them or closes.
fn bytes_within(pipe: &mut PipeReader, want: usize, limit: Duration) -> Result<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if !wait_readable(pipe.as_fd(), left)? {
            break;
        }
        let mut byte = [0u8];
        if pipe.read(&mut byte)? == 0 {
            break; // every writer is gone
        }
        got.push(byte[0]);
    }
    Ok(got)
}

/// Forks while another thread holds [`LOCK`]; the child tries it. Returns the child's pid, how
/// it ended, and how long the parent waited before it called the child stuck.
fn hazard(out: &mut impl Write) -> Result<(u32, String, Duration)> {
    let (release, holder) = hold_lock()?;
    writeln!(
        out,
        "[thread lock-holder] holds LOCK; the main thread forks now"
    )?;
    let (mut reader, writer) = std::io::pipe().context("a pipe")?;
    let mut child = Forked::start(Plan::TakeLock {
        lock: &LOCK,
        pipe: &writer,
    })?;
    let pid = child.pid;
    drop(writer); // the child's copy is the only writer left
    let started = bytes_within(&mut reader, 1, LIMIT)?;
    ensure!(
        started == b"f",
        "the forked child did not start within {}",
        duration(LIMIT)
    );
    let asked = Instant::now();
    writeln!(
        out,
        "{} forked: only the main thread was copied; I try LOCK",
        pid_tag(pid)
    )?;
    let got = bytes_within(&mut reader, 1, STUCK_AFTER)?;
    let waited = asked.elapsed();
    let status = if got.is_empty() {
        writeln!(
            out,
            "[parent] no word from {} after {}: stuck on a lock whose owner was never copied",
            pid_tag(pid),
            duration(waited)
        )?;
        child.kill()?
    } else {
        writeln!(
            out,
            "{} took the lock: it was free at the fork",
            pid_tag(pid)
        )?;
        child.finish(LIMIT)?
    };
    let how = status.map_or("did not end".to_string(), describe_exit);
    writeln!(out, "[parent] ended {}: {how}", pid_tag(pid))?;
    let _ = release.send(());
    holder.join().ok();
    Ok((pid, how, waited))
}

/// Starts this program afresh (`fork` + `exec`, as the pool does) while the lock is held
/// again; whether its own lock was free and it ended well within [`STUCK_AFTER`].
fn fresh_start(out: &mut impl Write) -> Result<bool> {
    let (release, holder) = hold_lock()?;
    let mut cmd = common::demo::child::self_command();
    cmd.arg("start-methods-child");
    let mut child = common::demo::child::Child::spawn(&mut cmd).context("re-executing")?;
    let status = child.wait_timeout(STUCK_AFTER)?;
    let ok = status.is_some_and(|s| s.success());
    let how = match status {
        Some(s) => describe_exit(s),
        None => describe_exit(child.kill()?),
    };
    writeln!(
        out,
        "{} re-executed while LOCK was held here: its LOCK is a fresh one; {how}",
        pid_tag(child.pid())
    )?;
    let _ = release.send(());
    holder.join().ok();
    Ok(ok)
}
