//! Starting this very program again as a child process, and never losing track of it.
//!
//! A demo's child is the demo's own executable with a hidden subcommand (or, for a pool worker,
//! an environment variable that [`crate::init`] recognizes). Starting it through
//! `/proc/self/exe` guarantees the identical file image even if the binary is rebuilt on disk
//! meanwhile, which is what lets a [`crate::ProcessPool`] send function addresses to it.
//!
//! [`Child`] is the guard around `std::process::Child`: dropped, it kills and reaps the process,
//! so no zombie is left behind, and it is registered with [`crate::cleanup`] so that Ctrl-C does
//! the same.

use std::io;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// Environment variable telling a child started by [`self_command`] its parent's pid.
const ENV_PARENT: &str = "COMMON_CHILD_OF";

/// A `Command` that starts this executable again, as a child that dies with its parent.
///
/// The child's [`crate::init`] asks the kernel for `SIGKILL` when its parent ends
/// (`PR_SET_PDEATHSIG`), and exits at once if the parent is already gone. Doing this in the
/// child rather than between fork and exec (`pre_exec`) lets std start it with `posix_spawn`,
/// which is cheaper than fork + exec. The signal fires when the *thread* that spawned the child
/// ends, so spawn from a thread that lives at least as long as the child (the main thread, or a
/// supervisor thread).
pub fn self_command() -> Command {
    let mut cmd = Command::new("/proc/self/exe");
    // Show the program's real name in `ps`, not "/proc/self/exe".
    if let Some(name) = std::env::args_os().next() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, name);
    }
    cmd.env(ENV_PARENT, std::process::id().to_string());
    cmd
}

/// In a child started by [`self_command`]: die with the parent. Called first by [`crate::init`].
pub(crate) fn die_with_parent_if_child() {
    let Some(parent) = std::env::var(ENV_PARENT)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return;
    };
    // Our own children are not children of our parent.
    std::env::remove_var(ENV_PARENT);
    // Started from /proc/self/exe, the kernel calls us `exe`; take the program's own name.
    if let Some(name) = std::env::args_os().next() {
        let name = std::path::Path::new(&name)
            .file_name()
            .unwrap_or(&name)
            .to_os_string();
        crate::sys::set_process_name(&name.to_string_lossy());
    }
    // If the parent died before this line, PDEATHSIG will never come: getppid tells, since an
    // orphan is adopted by another process.
    if crate::sys::die_with_parent().is_err() || crate::sys::parent_pid() != parent {
        std::process::exit(1);
    }
}

/// A child process that is killed and reaped when dropped.
#[derive(Debug)]
pub struct Child {
    inner: std::process::Child,
    status: Option<ExitStatus>,
    /// The child leads a process group of its own; its end takes the whole group with it.
    group: bool,
}

impl Child {
    /// Starts `cmd` and registers the child for cleanup on Ctrl-C.
    ///
    /// # Errors
    /// The spawn error.
    pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
        let inner = cmd.spawn()?;
        crate::cleanup::track_child(inner.id());
        Ok(Child {
            inner,
            status: None,
            group: false,
        })
    }

    /// Starts `cmd` as the leader of a new process group, and registers it like [`Child::spawn`].
    ///
    /// When the child ends, or is killed, every process left in its group is killed too: a
    /// process that the child forked (without exec) cannot outlive it. A pool worker is started
    /// so, because a task may fork. (The group also keeps a terminal's Ctrl-C from reaching the
    /// child directly: its parent decides, through [`crate::cleanup`].)
    ///
    /// # Errors
    /// The spawn error.
    pub fn spawn_group(cmd: &mut Command) -> io::Result<Child> {
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        let mut child = Child::spawn(cmd)?;
        child.group = true;
        Ok(child)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// The std handle, e.g. to take its piped stdout.
    pub fn inner_mut(&mut self) -> &mut std::process::Child {
        &mut self.inner
    }

    /// The exit status if the child has ended (reaping it), without waiting.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            if self.group {
                // Kill what is left of the group while the leader is an unreaped zombie, so its
                // pid, which is the group's id, cannot have been reused by someone else.
                if !crate::sys::has_exited(self.pid())? {
                    return Ok(None);
                }
                let _ = crate::sys::kill_group(self.pid());
            }
            self.status = self.inner.try_wait()?;
            if self.status.is_some() {
                crate::cleanup::untrack_child(self.pid());
            }
        }
        Ok(self.status)
    }

    /// Waits at most `limit` for the child to end; `None` if it is still running.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_micros(50);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            // Back off from 50 µs to 10 ms: quick for a child that is already exiting,
            // cheap for one that takes a while.
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Kills the child with `SIGKILL` (if it is still running) and reaps it.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        // The child may exit between try_wait and kill; kill then fails harmlessly. It is not
        // reaped yet, so its pid still names its group.
        if self.group {
            let _ = crate::sys::kill_group(self.pid());
        }
        let _ = self.inner.kill();
        let status = self.inner.wait()?;
        self.status = Some(status);
        crate::cleanup::untrack_child(self.pid());
        Ok(status)
    }

    /// Waits up to `grace` for the child to end by itself, then kills it; reaps it either way.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn finish(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        match self.wait_timeout(grace)? {
            Some(status) => Ok(status),
            None => self.kill(),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Nothing better to do with an error here; the process table entry is reaped either way.
        let _ = self.kill();
    }
}
