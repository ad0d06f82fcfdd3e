//! What runs when the program is interrupted: kill and reap the children, remove the paths, say
//! so in one line, and exit with status `128 + signal`.

use super::paths::remove;
use super::{registry, INTERRUPTED_BY};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Once;
use std::time::{Duration, Instant};

/// Kills and reaps every registered child and removes every registered path, then closes the
/// registry: from here on, a thread that registers something has it undone at once and is
/// stopped (see `too_late`). Only the interrupt handler calls this, just before it ends the
/// process: other threads go on running meanwhile, and this is what keeps them from leaving
/// something behind that the handler has not seen.
fn run_now() -> (usize, usize) {
    let (children, paths) = {
        let mut reg = registry();
        reg.closed = true;
        // Signal while holding the registry's lock: a `Child` untracks its pid under this lock
        // *before* it reaps it (see `crate::child`), so every pid here is unreaped, alive or a
        // zombie, never a number the kernel may have given to an unrelated process.
        for &pid in &reg.children {
            // A pool worker leads its own process group (see `Child::spawn_group`); for any
            // other child there is no such group and this fails harmlessly.
            let _ = crate::sys::kill_group(pid);
            let _ = crate::sys::send_signal(pid, libc::SIGKILL);
        }
        (
            std::mem::take(&mut reg.children),
            std::mem::take(&mut reg.paths),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    for &pid in &children {
        crate::sys::reap_until(pid, deadline);
    }
    for path in &paths {
        remove(path);
    }
    (children.len(), paths.len())
}

/// Whether this process is a child of the same program (a demo's worker): its parent runs the
/// same executable file. Compared by device and inode, not by path text (see FACTS: a path may
/// read `(deleted)`).
fn parent_runs_this_program() -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |path: String| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let mine = id("/proc/self/exe".to_string());
    mine.is_some() && mine == id(format!("/proc/{}/exe", std::os::unix::process::parent_id()))
}

/// The interrupt message of this process, or `None` if it has nothing to say: a worker process
/// that had no children and no files. The user pressed Ctrl-C once; one line from the program
/// they started, plus one from each process that cleaned something up, is what they need.
fn interrupt_message(signal: i32, is_child: bool, children: usize, paths: usize) -> Option<String> {
    use crate::demo::narrate::plural;
    let mut did = Vec::new();
    if children > 0 {
        did.push(format!(
            "stopped {}",
            plural(children, "child process", "child processes")
        ));
    }
    if paths > 0 {
        did.push(format!(
            "removed {}",
            plural(paths, "temporary file", "temporary files")
        ));
    }
    if is_child && did.is_empty() {
        return None;
    }
    let mut line = format!(
        "[pid {}] interrupted by {}",
        std::process::id(),
        crate::sys::signal_name(signal)
    );
    if !did.is_empty() {
        line.push_str(": ");
        line.push_str(&did.join(", "));
    }
    Some(line)
}

/// Installs the interrupt handler once per process (done by [`crate::init`]).
pub(crate) fn install_interrupt_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            // Without a handler the default action (terminate) still applies; children still
            // die with us through PR_SET_PDEATHSIG. Nothing better can be done, so go on.
            return;
        };
        // Decided now: at the time of the signal the parent may already be gone.
        let is_child = parent_runs_this_program();
        let spawned = std::thread::Builder::new()
            .name("cleanup-on-signal".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    INTERRUPTED_BY.store(signal, SeqCst); // first, before any child dies
                    let (children, paths) = run_now();
                    if let Some(line) = interrupt_message(signal, is_child, children, paths) {
                        use std::io::{IsTerminal, Write};
                        // On a terminal, "^C" was just echoed: start on a line of our own.
                        let start = if std::io::stderr().is_terminal() {
                            "\n"
                        } else {
                            ""
                        };
                        // One write per message, so two processes' lines cannot interleave.
                        let whole = format!("{start}{line}\n");
                        let _ = std::io::stderr().write_all(whole.as_bytes());
                    }
                    // A thread that created something just before `run_now` closed the registry
                    // is a few instructions from registering it, which now undoes it at once
                    // (see `too_late`). Give such threads a moment to get there.
                    std::thread::sleep(Duration::from_millis(10));
                    crate::sys::exit_now(128 + signal);
                }
            });
        // If the thread cannot start, the default action still applies (see above).
        drop(spawned);
    });
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_with_nothing_to_clean_says_nothing_and_the_program_always_speaks() {
        assert_eq!(interrupt_message(libc::SIGINT, true, 0, 0), None);
        let me = std::process::id();
        assert_eq!(
            interrupt_message(libc::SIGINT, false, 0, 0).unwrap(),
            format!("[pid {me}] interrupted by SIGINT")
        );
        assert_eq!(
            interrupt_message(libc::SIGTERM, true, 1, 2).unwrap(),
            format!("[pid {me}] interrupted by SIGTERM: stopped 1 child process, removed 2 temporary files")
        );
    }
}
