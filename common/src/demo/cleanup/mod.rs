//! Nothing left behind: a registry of child processes and files to remove if the program is
//! interrupted (Ctrl-C, `SIGTERM`, `SIGHUP`).
//!
//! On a normal exit, guards and `Drop` clean up. On a signal, Rust runs no destructors at all, so
//! [`crate::init`] installs a handler that kills and reaps the registered children, removes the
//! registered paths, and exits with the conventional status `128 + signal`. SIGKILL cannot be
//! handled by anyone: for that case children die through `PR_SET_PDEATHSIG`
//! ([`crate::sys::die_with_parent`]) and shared-memory names are unlinked as early as possible.
//! Three files: this one holds the registry (what to kill and remove); `paths` the guards that
//! remove a file on drop and the sweep of stale names; `handler` what runs on the signal.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};

mod handler;
mod paths;

pub(crate) use handler::install_interrupt_handler;
pub use paths::{sweep_stale, PathGuard};

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
/// return an error in the meantime; [`crate::demo::cli::exit_code`] checks this to let the handler
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

/// Forgets a child registered with [`track_child`].
///
/// Call it once the child has ended but *before* reaping it (a zombie still holds its pid): the
/// interrupt handler signals the registered pids while holding the registry's lock, so a pid
/// untracked first can never be one the kernel has handed to another process meanwhile.
/// [`crate::demo::child::Child`] does this on every path that reaps.
pub fn untrack_child(pid: u32) {
    registry().children.retain(|&p| p != pid);
}

/// Whether `pid` is registered, for tests of the order "untrack, then reap".
#[cfg(test)]
pub(crate) fn is_tracked(pid: u32) -> bool {
    registry().children.contains(&pid)
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
