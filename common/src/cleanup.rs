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
    registry().children.push(pid);
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
        registry().paths.push(path.clone());
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

/// Kills and reaps every registered child and removes every registered path. Called by the
/// interrupt handler; also useful before a deliberate `std::process::exit`.
pub fn run_now() {
    let (children, paths) = {
        let mut reg = registry();
        (
            std::mem::take(&mut reg.children),
            std::mem::take(&mut reg.paths),
        )
    };
    for &pid in &children {
        let _ = crate::sys::send_signal(pid, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    for &pid in &children {
        crate::sys::reap_until(pid, deadline);
    }
    for path in &paths {
        remove(path);
    }
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
        let spawned = std::thread::Builder::new()
            .name("cleanup-on-signal".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    INTERRUPTED_BY.store(signal, SeqCst); // first, before any child dies
                    eprintln!(
                    "\n[pid {}] interrupted by {}: stopping child processes, removing temporary files",
                    std::process::id(),
                    crate::sys::signal_name(signal)
                );
                    run_now();
                    crate::sys::exit_now(128 + signal);
                }
            });
        // If the thread cannot start, the default action still applies (see above).
        drop(spawned);
    });
}
