//! Nothing left behind: a registry of child processes and files to remove if the program is
//! interrupted (Ctrl-C, `SIGTERM`, `SIGHUP`).
//!
//! On a normal exit, guards and `Drop` clean up. On a signal, Rust runs no destructors at all, so
//! [`crate::init`] installs a handler that kills and reaps the registered children, removes the
//! registered paths, and exits with the conventional status `128 + signal`. SIGKILL cannot be
//! handled by anyone: for that case children die through `PR_SET_PDEATHSIG`
//! ([`crate::sys::die_with_parent`]) and shared-memory names are unlinked as early as possible.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

struct Registry {
    children: Vec<u32>,
    paths: Vec<PathBuf>,
    /// Set once the interrupt handler has taken the lists: the program is ending.
    closed: bool,
}

/// The signal that is ending the program, or 0.
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

/// The signal (`SIGINT`, `SIGTERM`, `SIGHUP`) that is ending the program, if one is.
///
/// The handler kills the children before it exits, so the main thread may see a child die and
/// return an error in the meantime; [`crate::cli::exit_code`] checks this to let the handler
/// finish and end the program with the right status (`128 + signal`).
pub fn interrupted_by() -> Option<i32> {
    match INTERRUPTED_BY.load(SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    children: Vec::new(),
    paths: Vec::new(),
    closed: false,
});

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding this lock cannot leave the two lists inconsistent (each operation is
    // a single push or retain), so a poisoned lock is still safe to use.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a child process to kill and reap if the program is interrupted.
pub fn track_child(pid: u32) {
    let mut registry = registry();
    if registry.closed {
        drop(registry);
        let _ = crate::sys::send_signal(pid, libc::SIGKILL);
        too_late();
    }
    registry.children.push(pid);
}

/// Forgets a child registered with [`track_child`] (call it once the child is reaped).
pub fn untrack_child(pid: u32) {
    registry().children.retain(|&p| p != pid);
}

/// Removes `path` (a file, or a directory and all it holds) when dropped, or when the program is
/// interrupted before that.
///
/// ```
/// let path = std::env::temp_dir().join(format!("cleanup-doc-{}", std::process::id()));
/// std::fs::write(&path, "scratch").unwrap();
/// let guard = common::cleanup::PathGuard::new(&path);
/// drop(guard);
/// assert!(!path.exists());
/// ```
#[derive(Debug)]
pub struct PathGuard {
    path: PathBuf,
}

impl PathGuard {
    /// Registers `path` for removal; it need not exist yet.
    pub fn new(path: impl AsRef<Path>) -> PathGuard {
        let path = path.as_ref().to_path_buf();
        let mut registry = registry();
        if registry.closed {
            drop(registry);
            remove(&path);
            too_late();
        }
        registry.paths.push(path.clone());
        PathGuard { path }
    }

    /// The guarded path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PathGuard {
    fn drop(&mut self) {
        remove(&self.path);
        registry().paths.retain(|p| p != &self.path);
    }
}

fn remove(path: &Path) {
    // Already gone is fine: the goal is that it does not exist afterwards.
    if std::fs::remove_file(path).is_err() {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Removes what an earlier run left behind when it was killed too hard to clean up (`SIGKILL`):
/// every entry of `dir` named `<prefix><pid>...` whose process `pid` no longer runs. Returns
/// the paths removed.
///
/// This is why shared names in this workspace carry their owner's pid: a later run can tell a
/// stale name from a live one. An entry whose pid was reused by a new process is left alone;
/// a later sweep will get it.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("sweep-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("demo-4194304-left-over"), "").unwrap(); // no such pid on Linux
/// std::fs::write(dir.join(format!("demo-{}-mine", std::process::id())), "").unwrap();
/// let removed = common::cleanup::sweep_stale(&dir, "demo-");
/// assert_eq!(removed, vec![dir.join("demo-4194304-left-over")]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn sweep_stale(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(owner) = digits.parse::<u32>() else {
            continue;
        };
        let path = entry.path();
        if !crate::sys::is_alive(owner) {
            remove(&path);
            // Report only what is really gone (another user's file in a sticky directory is not).
            if std::fs::symlink_metadata(&path).is_err() {
                removed.push(path);
            }
        }
    }
    removed.sort();
    removed
}

/// A thread registered something after the interrupt handler took its lists: the program is
/// ending. Whatever it registered was undone on the spot; the thread must not go on to create
/// more (a file it registered before creating it, a socket, a child), so it waits here for the
/// handler to end the process, which it does within about a second.
fn too_late() -> ! {
    loop {
        std::thread::park();
    }
}

/// Kills and reaps every registered child and removes every registered path, then closes the
/// registry: from here on, a thread that registers something has it undone at once and is
/// stopped (see `too_late`). Only the interrupt handler calls this, just before it ends the
/// process: other threads go on running meanwhile, and this is what keeps them from leaving
/// something behind that the handler has not seen.
fn run_now() -> (usize, usize) {
    let (children, paths) = {
        let mut reg = registry();
        reg.closed = true;
        (
            std::mem::take(&mut reg.children),
            std::mem::take(&mut reg.paths),
        )
    };
    for &pid in &children {
        // A pool worker leads its own process group (see `Child::spawn_group`); for any other
        // child there is no such group and this fails harmlessly.
        let _ = crate::sys::kill_group(pid);
        let _ = crate::sys::send_signal(pid, libc::SIGKILL);
    }
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
    mine.is_some() && mine == id(format!("/proc/{}/exe", crate::sys::parent_pid()))
}

/// The interrupt message of this process, or `None` if it has nothing to say: a worker process
/// that had no children and no files. The user pressed Ctrl-C once; one line from the program
/// they started, plus one from each process that cleaned something up, is what they need.
fn interrupt_message(signal: i32, is_child: bool, children: usize, paths: usize) -> Option<String> {
    use crate::narrate::plural;
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
