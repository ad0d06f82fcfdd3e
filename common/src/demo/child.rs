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
//!
//! No signal to a reaped pid: once a child is reaped its pid is free, and the kernel may give it
//! to an unrelated process (or make it the id of an unrelated group) when pids wrap. So a pid is
//! struck out of every list that may signal it (the Ctrl-C registry, a pool's `worker_pids`)
//! *before* it is reaped, while the ended child is a zombie that still holds its pid; and whoever
//! signals from such a list holds that list's lock while doing it. Every path that reaps
//! (`try_wait`, `kill`, `finish`, `wait_timeout`, `Drop`) goes through `reap_zombie`, which
//! strikes first.
//!
//! Why not pidfds (`pidfd_open` + `pidfd_send_signal`), which cannot name a reused pid? A pidfd
//! names one process, but a pool worker must be killed with its whole process group (what a task
//! forked), and signalling a group through a pidfd needs Linux 6.9
//! (`PIDFD_SIGNAL_PROCESS_GROUP`); the Ctrl-C registry would also hold a descriptor per child.
//! A zombie covers both: it keeps its pid, and so its group's id, from being reused.

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

/// What strikes a pid out of a list of its owner's (a pool's `worker_pids`), under that list's
/// lock, once the child has ended and before it is reaped (see the module doc).
type Strike = Box<dyn FnOnce(u32) + Send + Sync>;

/// A child process that is killed and reaped when dropped.
pub struct Child {
    inner: std::process::Child,
    status: Option<ExitStatus>,
    /// The child leads a process group of its own; its end takes the whole group with it.
    group: bool,
    /// Run once, just before the child is reaped (see [`Child::strike_before_reaping`]).
    strike: Option<Strike>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid())
            .field("status", &self.status)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
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
            strike: None,
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

    /// Has `strike` called with the child's pid once the child has ended and before it is
    /// reaped, on every path that reaps it (`try_wait`, `kill`, `finish`, `Drop`).
    ///
    /// A list of pids that someone signals (a pool's `worker_pids`, which `terminate` kills)
    /// takes its pid out in `strike`, under the lock the signaller holds: then every pid the
    /// signaller sees is unreaped, alive or a zombie, never a number the kernel gave to another
    /// process. Replaces an earlier `strike`.
    pub(crate) fn strike_before_reaping(
        &mut self,
        strike: impl FnOnce(u32) + Send + Sync + 'static,
    ) {
        self.strike = Some(Box::new(strike));
    }

    /// The exit status if the child has ended (reaping it), without waiting.
    ///
    /// # Errors
    /// The `waitid` error.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        // Ended but not reaped yet (WNOWAIT): a zombie, still holding its pid.
        if !crate::sys::has_exited(self.pid())? {
            return Ok(None);
        }
        self.reap_zombie().map(Some)
    }

    /// Reaps the child, which has ended: the one place a `Child` reaps. First, while the child
    /// is a zombie and its pid (which is also its group's id) cannot have been reused: what is
    /// left of its group is killed, and its pid is struck out of the Ctrl-C registry and of the
    /// owner's list (see the module doc). Only then the pid is freed.
    fn reap_zombie(&mut self) -> io::Result<ExitStatus> {
        let pid = self.pid();
        if self.group {
            let _ = crate::sys::kill_group(pid);
        }
        crate::cleanup::untrack_child(pid);
        if let Some(strike) = self.strike.take() {
            strike(pid);
        }
        // The child has exited, so this returns at once.
        let status = self.inner.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    /// Waits at most `limit` for the child to end; `None` if it is still running.
    ///
    /// # Errors
    /// The `waitid` error.
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        // A limit past the end of `Instant` (`Duration::MAX`) has no deadline: wait as long as
        // it takes.
        let deadline = Instant::now().checked_add(limit);
        let mut pause = Duration::from_micros(50);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(now));
            if left.is_zero() {
                return Ok(None);
            }
            // Back off from 50 µs to 10 ms: quick for a child that is already exiting,
            // cheap for one that takes a while.
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Kills the child with `SIGKILL` (if it is still running) and reaps it.
    ///
    /// # Errors
    /// The `waitid` error.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        // The child may exit between try_wait and kill; kill then hits a zombie, harmlessly. It
        // is not reaped yet, so its pid still names it and its group.
        if self.group {
            let _ = crate::sys::kill_group(self.pid());
        }
        let _ = self.inner.kill();
        // Wait for the end without reaping, so that `reap_zombie` strikes the pid out first.
        crate::sys::wait_exited(self.pid())?;
        self.reap_zombie()
    }

    /// Waits up to `grace` for the child to end by itself, then kills it; reaps it either way.
    ///
    /// # Errors
    /// The `waitid` error.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What the strike saw when it ran: the child's state letter in `/proc` (`Z`: a zombie,
    /// ended but not reaped) and whether the Ctrl-C registry still held its pid.
    type Seen = Arc<Mutex<Vec<(Option<char>, bool)>>>;

    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        rest.trim_start().chars().next()
    }

    /// Starts `sh -c script` with a strike that records what it sees.
    fn watched(script: &str, group: bool) -> (Child, Seen) {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        let mut child = if group {
            Child::spawn_group(&mut cmd)
        } else {
            Child::spawn(&mut cmd)
        }
        .expect("sh starts");
        assert!(crate::cleanup::is_tracked(child.pid()));
        let seen = Seen::default();
        let record = Arc::clone(&seen);
        child.strike_before_reaping(move |pid| {
            let entry = (state(pid), crate::cleanup::is_tracked(pid));
            record.lock().expect("no panic while held").push(entry);
        });
        (child, seen)
    }

    /// The strike ran once, while the child was a zombie, after the registry let go of it; and
    /// the child is reaped now (no longer our child to wait for).
    fn struck_while_a_zombie(pid: u32, seen: &Seen) {
        let seen = seen.lock().expect("no panic while held").clone();
        assert_eq!(
            seen,
            vec![(Some('Z'), false)],
            "pid {pid}: (state, still tracked)"
        );
        assert!(crate::sys::has_exited(pid).is_err(), "pid {pid} is reaped");
    }

    #[test]
    fn try_wait_strikes_the_pid_out_before_it_reaps() {
        let (mut child, seen) = watched("exit 3", false);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(status.code(), Some(3));
        struck_while_a_zombie(child.pid(), &seen);
        // Reaped once: asking again neither reaps nor strikes again.
        assert_eq!(child.try_wait().unwrap(), Some(status));
        struck_while_a_zombie(child.pid(), &seen);
    }

    #[test]
    fn kill_strikes_the_pid_out_before_it_reaps() {
        for group in [false, true] {
            let (mut child, seen) = watched("sleep 30", group);
            let status = child.kill().unwrap();
            assert_eq!(
                crate::Exit::from(status).to_string(),
                "killed by signal 9 (SIGKILL)"
            );
            struck_while_a_zombie(child.pid(), &seen);
        }
    }

    #[test]
    fn finish_strikes_the_pid_out_before_it_reaps_on_both_of_its_paths() {
        // Ends by itself within the grace (the `wait_timeout` path)...
        let (mut child, seen) = watched("exit 0", true);
        assert_eq!(
            child.finish(Duration::from_secs(10)).unwrap().code(),
            Some(0)
        );
        struck_while_a_zombie(child.pid(), &seen);
        // ...or is killed once the grace has passed (the `kill` path).
        let (mut child, seen) = watched("sleep 30", true);
        assert_eq!(
            child.finish(Duration::from_millis(20)).unwrap().code(),
            None
        );
        struck_while_a_zombie(child.pid(), &seen);
    }

    #[test]
    fn drop_strikes_the_pid_out_before_it_reaps() {
        let (child, seen) = watched("sleep 30", true);
        let pid = child.pid();
        drop(child);
        struck_while_a_zombie(pid, &seen);
    }

    #[test]
    fn a_wait_without_a_deadline_does_not_overflow() {
        let (mut child, seen) = watched("exit 5", false);
        let status = child.wait_timeout(Duration::MAX).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(5));
        struck_while_a_zombie(child.pid(), &seen);
    }
}
