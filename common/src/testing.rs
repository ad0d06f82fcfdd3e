//! Helpers for tests that check what a program leaves behind: processes, zombies, `/dev/shm`.
//!
//! They read `/proc` directly, so they need no extra tools and work inside containers.

use std::path::PathBuf;

pub mod faces;
pub mod hostile;

pub use crate::demo::procfs::{
    children_of, descendants_of, eventually, is_running, parent_of, process_state,
    processes_with_env, shm_entries,
};

/// How many [`Shared`](crate::Shared) values this process keeps decoded: in a process pool's
/// worker, read through `Pool::broadcast`, it shows when a worker lets a value go (see the
/// policy in common's `src/shared/cache.rs`).
pub fn shared_values_kept() -> usize {
    crate::shared::kept_here()
}

/// How many rounds a fault test runs: `quick` normally, `full` with `FAULTS_FULL=1` set (the
/// full suite described in the root README).
pub fn fault_rounds(quick: usize, full: usize) -> usize {
    if std::env::var_os("FAULTS_FULL").is_some() {
        full
    } else {
        quick
    }
}

/// A pseudo-random number below `bound` (xorshift, seeded from the clock and pid): enough to
/// spread interrupts over a run, with no dependency for it.
pub fn random_below(bound: u64) -> u64 {
    use std::cell::Cell;
    thread_local!(static STATE: Cell<u64> = Cell::new(crate::sys::monotonic_nanos() ^ (u64::from(std::process::id()) << 32) | 1));
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x % bound.max(1)
    })
}

/// What a run left behind: processes, `/dev/shm` entries, temporary files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Live processes that carry the run's marker (the demo and its descendants).
    pub processes: Vec<u32>,
    /// `/dev/shm` entries named with the demo's pid (`...-<pid>-...`): segments, semaphores.
    pub shm: Vec<PathBuf>,
    /// Anything in the run's own temporary directory.
    pub temp: Vec<PathBuf>,
}

impl Leftovers {
    /// Nothing left at all.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.shm.is_empty() && self.temp.is_empty()
    }
}

/// One run of a demo binary under test: it gets a temporary directory of its own (`TMPDIR`),
/// so whatever temporary file it leaves is found exactly, and a marker in its environment,
/// which its child processes inherit, so they are found even after the demo is gone.
#[derive(Debug)]
pub struct Probe {
    child: std::process::Child,
    marker: String,
    tmp: PathBuf,
    stderr: PathBuf,
}

/// The environment variable that marks a probe's processes.
pub const PROBE_MARKER: &str = "COMMON_TESTING_PROBE";

impl Probe {
    /// Starts `bin` with `args`; stdout is discarded, stderr kept for [`Probe::stderr`].
    ///
    /// # Errors
    /// Creating the temporary directory, or the spawn.
    pub fn start(bin: impl AsRef<std::path::Path>, args: &[&str]) -> std::io::Result<Probe> {
        let marker = format!("{}-{}", std::process::id(), random_below(u64::MAX));
        let base = std::env::temp_dir().join(format!("probe-{marker}"));
        let tmp = base.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let stderr = base.join("stderr");
        let child = std::process::Command::new(bin.as_ref())
            .args(args)
            .env(PROBE_MARKER, &marker)
            .env("TMPDIR", &tmp)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()?;
        Ok(Probe {
            child,
            marker,
            tmp,
            stderr,
        })
    }

    /// The demo's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the demo (not to its children).
    pub fn signal(&self, signal: i32) {
        let _ = crate::sys::send_signal(self.pid(), signal);
    }

    /// Waits at most `limit` for the demo to end; `None` if it did not (it is then killed).
    pub fn wait_within(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = crate::handle::deadline_in(limit);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// What the demo wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What the run has left behind now.
    pub fn leftovers(&self) -> Leftovers {
        let tag = format!("-{}-", self.pid());
        let temp = std::fs::read_dir(&self.tmp)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        Leftovers {
            processes: processes_with_env(PROBE_MARKER, &self.marker),
            shm: shm_entries(&tag),
            temp,
        }
    }

    /// The run's temporary directory (to run a later demo in the same one).
    pub fn tmp(&self) -> &std::path::Path {
        &self.tmp
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in processes_with_env(PROBE_MARKER, &self.marker) {
            let _ = crate::sys::send_signal(pid, libc::SIGKILL);
        }
        if let Some(base) = self.tmp.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// Runs `bin args` to completion (at most 30 s) and returns its exit code and stderr.
///
/// # Panics
/// If the binary cannot be started or runs longer than 30 s (a test failure either way).
pub fn run_to_end(bin: impl AsRef<std::path::Path>, args: &[&str]) -> (Option<i32>, String) {
    let mut probe = Probe::start(bin, args).expect("the binary starts");
    let status = probe
        .wait_within(std::time::Duration::from_secs(30))
        .expect("the binary ends within 30 s");
    (status.code(), probe.stderr())
}

/// Ctrl-C anywhere: runs `bin args` `rounds` times, each interrupted with SIGINT at a random
/// moment within `run_ms`, and checks that each run exits within 2 s (130, or 0 if it finished
/// first) and leaves no process, `/dev/shm` entry or temporary file behind.
///
/// # Panics
/// On the first run that breaks a rule, naming the moment of the interrupt.
pub fn ctrl_c_anywhere(bin: &str, args: &[&str], run_ms: u64, rounds: usize) {
    use std::os::unix::process::ExitStatusExt;
    for round in 0..rounds {
        let at = std::time::Duration::from_millis(random_below(run_ms));
        let mut probe = Probe::start(bin, args).expect("the demo starts");
        std::thread::sleep(at);
        probe.signal(libc::SIGINT);
        let Some(status) = probe.wait_within(std::time::Duration::from_secs(2)) else {
            panic!("round {round}: still running 2 s after SIGINT at {at:?}");
        };
        let expected =
            status.code() == Some(130) || status.success() || status.signal() == Some(libc::SIGINT);
        assert!(
            expected,
            "round {round}: SIGINT at {at:?} ended with {status}; stderr:\n{}",
            probe.stderr()
        );
        // No check for "panicked" in stderr: crash scenarios panic on purpose. A panic of the
        // demo itself would end it with status 101, which the check above refuses.
        let mut left = probe.leftovers();
        eventually(std::time::Duration::from_secs(1), || {
            left = probe.leftovers();
            left.is_empty()
        });
        assert!(
            left.is_empty(),
            "round {round}: SIGINT at {at:?} left {left:?}"
        );
    }
}

/// Parent killed: runs `bin args` `rounds` times, each SIGKILLed at a random moment within
/// `run_ms` (no handler runs). Its children must be gone within 1 s; shared resources named
/// with its pid must be gone, or removed by the next run, `bin next_args`, in the same `TMPDIR`.
///
/// # Panics
/// On the first run that breaks a rule.
pub fn parent_killed(bin: &str, args: &[&str], run_ms: u64, rounds: usize, next_args: &[&str]) {
    for round in 0..rounds {
        let at = std::time::Duration::from_millis(random_below(run_ms));
        let mut probe = Probe::start(bin, args).expect("the demo starts");
        std::thread::sleep(at);
        probe.signal(libc::SIGKILL);
        probe
            .wait_within(std::time::Duration::from_secs(1))
            .expect("SIGKILL ends it");
        let gone = eventually(std::time::Duration::from_secs(1), || {
            probe.leftovers().processes.is_empty()
        });
        assert!(
            gone,
            "round {round}: children alive 1 s after SIGKILL at {at:?}: {:?}",
            probe.leftovers()
        );
        let stale = probe.leftovers();
        if !stale.shm.is_empty() || !stale.temp.is_empty() {
            let mut next = std::process::Command::new(bin);
            next.args(next_args)
                .env("TMPDIR", probe.tmp())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let status = next.status().expect("the next run starts");
            assert!(
                status.success(),
                "round {round}: the next run failed: {status}"
            );
            let after = probe.leftovers();
            // Names that carry the dead pid are swept at once by the next run. (A demo's own
            // ipc-channel socket directory has a random name that carries no pid: not checked.)
            let unswept: Vec<_> = after
                .shm
                .iter()
                .chain(
                    after
                        .temp
                        .iter()
                        .filter(|p| p.to_string_lossy().contains(&format!("-{}-", probe.pid()))),
                )
                .collect();
            assert!(
                unswept.is_empty(),
                "round {round}: SIGKILL at {at:?} left {unswept:?}, not swept by the next run"
            );
        }
    }
}

/// Bad input: each argument list must end at once with exit status 2, a first stderr line that
/// starts with `error:`, and no panic or backtrace.
///
/// # Panics
/// On the first argument list that breaks a rule.
pub fn bad_input(bin: &str, cases: &[&[&str]]) {
    for args in cases {
        let (code, stderr) = run_to_end(bin, args);
        assert_eq!(code, Some(2), "{args:?}: exit status; stderr:\n{stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error:") && first.len() > 7 && stderr.lines().count() == 1,
            "{args:?}: one line `error: ...` expected; stderr:\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{args:?}: {stderr}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_running_and_its_parent_is_known() {
        let me = std::process::id();
        assert!(is_running(me));
        assert_eq!(parent_of(me), Some(crate::sys::parent_pid()));
        assert!(children_of(crate::sys::parent_pid()).contains(&me));
    }
}
