//! An abort seen from outside: a child process whose two threads work until one of them aborts,
//! and the parent's bounded wait for it.
//!
//! `std::process::abort` ends the *process*, every thread in it, at once: no unwinding, no
//! destructors, no chance for a sibling thread to finish. To show that without ending the demo
//! itself, threads-demo's crash scenario starts itself again as a child that does it
//! ([`beside_a_sibling`]) and reads how that child ended ([`watch`]): `SIGABRT`, with the
//! sibling stopped mid-way. Spawning is not that scenario's lesson, so the plumbing is here.

use crate::demo::child::Child;
use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// Steps the sibling thread would take if nothing stopped it (10 ms each).
pub const SIBLING_STEPS: usize = 100;

/// The child's side: starts a sibling thread that prints `still working (step N)` every 10 ms,
/// lets it print a few lines, then aborts the process (core dumps off, so no core file is left).
///
/// # Errors
/// Returns only if core dumps cannot be turned off or the sibling cannot start.
pub fn beside_a_sibling(index: usize) -> io::Result<std::convert::Infallible> {
    crate::demo::sys::no_core_dump()?;
    std::thread::Builder::new()
        .name("sibling".into())
        .spawn(move || {
            // writeln!, not println!: a closed pipe must not become a panic message.
            for step in 0..SIBLING_STEPS {
                let _ = writeln!(io::stdout(), "still working (step {step})");
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = writeln!(io::stdout(), "finished");
        })?;
    // On purpose: let the sibling print a few lines before the abort ends it too.
    std::thread::sleep(Duration::from_millis(35));
    let _ = writeln!(io::stdout(), "worker {index} aborting the process");
    std::process::abort()
}

/// How an aborting child ended, as its parent saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aborted {
    /// The child's exit status: `SIGABRT` if the abort happened.
    pub status: ExitStatus,
    /// How many steps the sibling thread printed before the process ended.
    pub steps: usize,
    /// Whether the sibling got to its end (it should not: the abort ends it too).
    pub sibling_finished: bool,
}

impl Aborted {
    /// Whether the child died of `SIGABRT` before its sibling thread finished.
    pub fn as_expected(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal() == Some(libc::SIGABRT) && !self.sibling_finished
    }
}

impl std::fmt::Display for Aborted {
    /// `its child process aborted: killed by signal 6 (SIGABRT), sibling stopped at step 3`:
    /// the words of the thread that watched it (an abort itself never returns to `join`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = crate::demo::sys::describe_exit(self.status);
        match self.sibling_finished {
            true => write!(f, "its child process aborted: {how}, sibling finished"),
            false => write!(
                f,
                "its child process aborted: {how}, sibling stopped at step {}",
                self.steps
            ),
        }
    }
}

/// The parent's side: starts `cmd` (this program again, as a child that calls
/// [`beside_a_sibling`]) with its stdout piped, waits at most `limit` for its end, and reads
/// what it printed. The child is registered for Ctrl-C and killed if it outlives the wait.
///
/// # Errors
/// The spawn or wait error, or `TimedOut` if the child did not end within `limit`.
pub fn watch(cmd: &mut Command, limit: Duration) -> io::Result<Aborted> {
    let mut child = Child::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))?;
    let mut stdout = child
        .inner_mut()
        .stdout
        .take()
        .expect("stdout is piped: set above");
    // Read on a thread while we wait, so a chatty child never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut said = String::new();
        stdout.read_to_string(&mut said).map(|_| said)
    });
    let Some(status) = child.wait_timeout(limit)? else {
        child.kill()?; // closes its end of the pipe, so the reader ends too
        let _ = reader.join();
        let words = format!(
            "the child did not end within {}",
            crate::demo::narrate::duration(limit)
        );
        return Err(io::Error::new(io::ErrorKind::TimedOut, words));
    };
    // The child is dead, so its end of the pipe is closed and the reader has ended or soon will.
    let said = reader
        .join()
        .map_err(|_| io::Error::other("the reader panicked"))??;
    Ok(Aborted {
        status,
        steps: said
            .lines()
            .filter(|l| l.starts_with("still working"))
            .count(),
        sibling_finished: said.lines().any(|l| l == "finished"),
    })
}

#[cfg(test)]
mod tests {
    use super::watch;
    use std::process::Command;
    use std::time::Duration;

    /// A child that prints two steps and aborts: SIGABRT, stopped at step 2, as expected.
    #[test]
    fn an_abort_is_seen_with_the_sibling_stopped() {
        let mut cmd = Command::new("sh");
        let script = "echo 'still working (step 0)'; echo 'still working (step 1)'; kill -ABRT $$";
        cmd.args(["-c", script]);
        let seen = watch(&mut cmd, Duration::from_secs(10)).unwrap();
        assert!(seen.as_expected(), "{seen}");
        assert_eq!(
            seen.to_string(),
            "its child process aborted: killed by signal 6 (SIGABRT), sibling stopped at step 2"
        );
    }

    /// A child that finishes normally is not an abort; one that outlives the wait is killed.
    #[test]
    fn other_endings_are_not_aborts() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo finished"]);
        let seen = watch(&mut cmd, Duration::from_secs(10)).unwrap();
        assert!(!seen.as_expected() && seen.sibling_finished, "{seen}");
        let mut cmd = Command::new("sleep");
        cmd.arg("10");
        let e = watch(&mut cmd, Duration::from_millis(50)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    }
}
