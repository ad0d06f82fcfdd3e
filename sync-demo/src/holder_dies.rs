//! What happens to a lock when its holder dies: released, poisoned, or locked for good.
//!
//! A thread that panics while holding a `std::sync::Mutex` unlocks it on the way out but marks
//! it poisoned: the next `lock()` returns an error that still carries the guard, so the data can
//! be inspected and the decision is yours. A process killed with SIGKILL runs no code at all.
//! A file lock is the kernel's, and the kernel drops it when it closes the dead process's files,
//! so the next process simply gets it. A pthread mutex in shared memory is just bytes: nobody
//! unlocks it, and it stays locked for as long as the memory exists; only a bounded try-lock
//! tells you, with `ETIMEDOUT`. That is the practical reason to prefer kernel-kept locks between
//! processes (or robust mutexes, which raw_sync does not offer).

use std::io::Write;
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::{duration, header, thread_tag};
use common::demo::sys::describe_exit;

use crate::output::conclude;

use crate::crew::child::{report, say};
use crate::crew::Crew;
use crate::sys::SharedMutex;

const PATIENCE: Duration = Duration::from_secs(10);
/// How long the parent tries the orphaned shared-memory mutex. Whole seconds on purpose:
/// raw_sync 0.1.5 adds the sub-second part to the clock's nanoseconds without carrying into the
/// seconds, so e.g. 200 ms fails with EINVAL (not ETIMEDOUT) whenever the clock's nanoseconds
/// are past 0.8 s.
const TRY_FOR: Duration = Duration::from_secs(1);

/// Threads: a thread panics while holding a `Mutex`; the lock comes back poisoned.
///
/// # Errors
/// The check did not hold.
pub fn threads(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "holder-dies (threads)",
        "a thread panics while holding a Mutex",
        &[("workers", 1)],
    )?;
    let balance = Mutex::new(100i64);
    writeln!(
        out,
        "{} locks the balance, takes 30 out, and panics before putting it back",
        thread_tag(1)
    )?;
    // A one-line panic message instead of the default hook's (and a backtrace): the panic is
    // the point here, not a bug. The hook is global, so the default one is put back after.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "{} panicked: {}",
            thread_tag(1),
            info.payload().downcast_ref::<&str>().unwrap_or(&"?")
        )
    }));
    let panicked = std::thread::scope(|s| {
        s.spawn(|| {
            let mut guard = balance
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *guard -= 30;
            panic!("worker failed halfway through a transfer");
        })
        .join()
        .is_err()
    });
    std::panic::set_hook(default_hook);
    writeln!(
        out,
        "{} panicked while holding the lock (its message went to stderr)",
        thread_tag(1)
    )?;
    let (poisoned, seen) = match balance.try_lock() {
        Ok(guard) => (false, *guard),
        Err(TryLockError::Poisoned(e)) => (true, *e.into_inner()),
        Err(TryLockError::WouldBlock) => anyhow::bail!("the mutex is still locked"),
    };
    writeln!(
        out,
        "[parent] lock(): {}; the data inside reads {seen} (the half-done update)",
        if poisoned {
            "an error, the lock is poisoned"
        } else {
            "granted, not poisoned"
        }
    )?;
    conclude(
        out,
        panicked && poisoned,
        format!("lock released and poisoned: {poisoned}, balance {seen}"),
        "poisoning tells the next holder the data may be half-updated",
    )?;
    Ok(())
}

/// Processes: a child is SIGKILLed holding a file lock, then one holding a shared-memory mutex.
///
/// # Errors
/// A spawn, file or shared-memory operation failed, or the check did not hold.
pub fn processes(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "holder-dies (processes)",
        "a child is SIGKILLed while holding a lock",
        &[("workers", 1)],
    )?;
    let me = std::process::id();

    // 1. A file lock (flock), kept by the kernel.
    let guard = common::demo::cleanup::PathGuard::new(
        std::env::temp_dir().join(format!("sync-demo-{me}-holder.lock")),
    );
    let file = std::fs::File::create(guard.path()).context("creating the lock file")?;
    let mut crew = Crew::spawn([["flock-holder".into(), guard.path().display().to_string()]])
        .context("spawning the holder")?;
    crew.expect_all(out, "locked", PATIENCE)?;
    let busy = matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock));
    writeln!(
        out,
        "[parent] try_lock while the child holds it: {}",
        if busy { "busy" } else { "free?!" }
    )?;
    let pid = crew.pids()[0];
    writeln!(
        out,
        "[parent] kills {}: {}",
        common::demo::narrate::pid_tag(pid),
        describe_exit(crew.child(0).kill()?)
    )?;
    let freed = file.try_lock().is_ok();
    writeln!(
        out,
        "[parent] try_lock after the kill: {}",
        if freed {
            "got it: the kernel released the dead holder's lock"
        } else {
            "still busy?!"
        }
    )?;
    drop(crew);

    // 2. A pthread mutex in shared memory (raw_sync): just bytes, nobody releases it.
    let os_id = format!("/sync-demo-{me}-holder");
    let _shm_guard = common::demo::cleanup::PathGuard::new(format!("/dev/shm{os_id}"));
    let mut mutex = SharedMutex::create(&os_id).context("creating the shared-memory mutex")?;
    let mut crew = Crew::spawn([["shm-holder", os_id.as_str()]]).context("spawning the holder")?;
    crew.expect_all(out, "locked", PATIENCE)?;
    // Both processes have it mapped: remove the name now (mappings outlive names).
    std::fs::remove_file(format!("/dev/shm{os_id}")).context("removing the segment's name")?;
    mutex.set_owner(false);
    let pid = crew.pids()[0];
    writeln!(
        out,
        "[parent] kills {}: {}",
        common::demo::narrate::pid_tag(pid),
        describe_exit(crew.child(0).kill()?)
    )?;
    let stuck = match mutex.try_lock_for(TRY_FOR) {
        Ok(()) => {
            writeln!(out, "[parent] try_lock for {}: got it?!", duration(TRY_FOR))?;
            false
        }
        Err(e) => {
            // raw_sync reports the errno as a number: 110 is ETIMEDOUT on Linux.
            let timed_out = e.ends_with(&format!(": {}", libc::ETIMEDOUT));
            let why = if timed_out {
                "timed out (ETIMEDOUT)".to_string()
            } else {
                format!("failed: {e}")
            };
            writeln!(out, "[parent] try_lock for {}: {why}", duration(TRY_FOR))?;
            if timed_out {
                writeln!(
                    out,
                    "   the mutex is held by a process that no longer exists"
                )?;
            }
            timed_out
        }
    };
    drop(crew);
    let what = format!(
        "file lock released by the kernel: {freed}; shared-memory mutex still locked: {stuck}"
    );
    conclude(
        out,
        busy && freed && stuck,
        &what,
        "a lock the kernel keeps dies with its holder; a lock in plain memory does not",
    )?;
    Ok(())
}

/// In a child: takes the file lock on `path` and holds it until killed.
///
/// # Errors
/// A file operation failed.
pub fn child_flock(path: &std::path::Path) -> Result<()> {
    let file = std::fs::File::open(path).context("opening the lock file")?;
    file.lock().context("locking the file")?;
    say("holds the file lock and waits to be killed");
    report("locked", "");
    std::thread::sleep(PATIENCE * 3); // killed long before; the bound is only a safety net
    Ok(())
}

/// In a child: locks the shared-memory mutex `os_id` and holds it until killed.
///
/// # Errors
/// The segment could not be opened or locked.
pub fn child_shm(os_id: &str) -> Result<()> {
    let mutex = SharedMutex::open(os_id).context("opening the shared-memory mutex")?;
    mutex
        .lock_and_keep()
        .context("locking the shared-memory mutex")?;
    say("holds the shared-memory mutex and waits to be killed");
    report("locked", "");
    std::thread::sleep(PATIENCE * 3); // killed long before; the bound is only a safety net
    Ok(())
}
