//! Deadlock between two processes, refused by the kernel: `fcntl` record locks on a file.
//!
//! Two processes lock byte 0 ("A") and byte 1 ("B") of one file, in opposite order, each
//! getting its first lock before asking for the second (they report holding it, and the parent
//! lets them go on together). Unlike a thread's mutex, a record lock is kept by the kernel, which
//! knows every holder and every sleeper in `F_SETLKW`: when the second process's wait would close
//! the cycle, the kernel refuses it with `EDEADLK` instead of putting it to sleep forever. That
//! process lets go of its lock; the other one gets it. The cure is the same as for threads: one
//! order, A before B, for both.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::header;

use crate::output::conclude;

use crate::crew::child::{report, say};
use crate::crew::{wait_for_go, Crew, GO};
use crate::sys::{lock_range, unlock_range};

const PATIENCE: Duration = Duration::from_secs(10);
const NAMES: [&str; 2] = ["A (byte 0)", "B (byte 1)"];

/// Runs two children with orders `orders`; returns how many were refused with EDEADLK.
fn pair(out: &mut impl Write, path: &str, orders: [[usize; 2]; 2], force: bool) -> Result<usize> {
    let args: Vec<Vec<String>> = orders
        .iter()
        .map(|o| {
            let mut a = vec![
                "range-locker".into(),
                path.into(),
                o[0].to_string(),
                o[1].to_string(),
            ];
            if force {
                a.push("--handshake".into());
            }
            a
        })
        .collect();
    let mut crew = Crew::spawn(args).context("spawning the lockers")?;
    if force {
        // Both hold their first lock now; let both reach for the second together.
        crew.expect_all(out, "holding", PATIENCE)?;
    }
    crew.broadcast(GO).context("opening the start gate")?;
    // If the kernel did not refuse, the two would wait forever: the deadline kills them then.
    let refused = crew.finish(out, "edeadlk", PATIENCE)?;
    Ok(refused.len())
}

/// Processes: the opposite order, refused with EDEADLK, then the cure.
///
/// # Errors
/// A spawn or file operation failed, a child hung, or the check did not hold.
pub fn processes(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "deadlock (processes)",
        "two processes lock two byte ranges of a file in opposite order",
        &[("workers", 2)],
    )?;
    writeln!(
        out,
        "   which process the kernel refuses varies from run to run: the one whose wait\n   \
         closes the cycle"
    )?;
    let guard = common::demo::cleanup::PathGuard::new(
        std::env::temp_dir().join(format!("sync-demo-{}-records", std::process::id())),
    );
    std::fs::write(guard.path(), b"AB").context("creating the locked file")?;
    let path = guard.path().display().to_string();
    writeln!(
        out,
        "-- opposite order: one process takes A then B, the other B then A"
    )?;
    let refused = pair(out, &path, [[0, 1], [1, 0]], true)?;
    writeln!(out, "-- cure: both take A then B")?;
    let cured = pair(out, &path, [[0, 1], [0, 1]], false)?;
    let what = format!("opposite order: kernel refused {refused} wait with EDEADLK, both finished; one order: {cured} refused");
    conclude(
        out,
        refused == 1 && cured == 0,
        &what,
        "the kernel sees the whole wait-for graph of record locks and refuses to close a cycle",
    )?;
    Ok(())
}

/// In a child: locks byte `first`, then byte `second` of `path`, waiting with `F_SETLKW`.
/// With `handshake`, it reports holding the first lock and waits for the parent before the
/// second; otherwise it waits for the parent first and pauses between the two.
///
/// # Errors
/// A file operation failed, other than the `EDEADLK` this demo is about.
pub fn child(path: &Path, first: usize, second: usize, handshake: bool) -> Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .context("opening the locked file")?;
    if !handshake {
        wait_for_go()?;
    }
    lock_range(&file, first as i64, 1, true).context("fcntl(F_SETLKW) on the first byte")?;
    say(format_args!("holds {}", NAMES[first]));
    if handshake {
        report("holding", "");
        wait_for_go()?;
    } else {
        std::thread::sleep(Duration::from_millis(10)); // on purpose: the pause that deadlocked
    }
    say(format_args!("waits for {}", NAMES[second]));
    match lock_range(&file, second as i64, 1, true) {
        Ok(()) => {
            say(format_args!(
                "holds {} and {}: works, then releases both",
                NAMES[first], NAMES[second]
            ));
            unlock_range(&file, second as i64, 1).context("unlocking")?;
        }
        Err(e) if e.raw_os_error() == Some(libc::EDEADLK) => {
            say(format_args!("F_SETLKW on {} refused: {e}", NAMES[second]));
            say(format_args!(
                "the kernel refused to close the cycle; gives up {} so the other can go on",
                NAMES[first]
            ));
            report("edeadlk", "");
        }
        Err(e) => return Err(e).context("fcntl(F_SETLKW) on the second byte"),
    }
    unlock_range(&file, first as i64, 1).context("unlocking")?;
    Ok(())
}
