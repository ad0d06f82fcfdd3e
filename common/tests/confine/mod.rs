//! Runs a command that might start processes without limit inside a pids cgroup, with a timeout.
//!
//! A regression in the "forgot `init()`" guard is a fork storm. `RLIMIT_NPROC` does not bind
//! root, so these tests confine their subject to a fresh pids cgroup (v1 `pids` hierarchy, or v2
//! where the `pids` controller is available) whose `pids.max` caps the whole tree, and kill
//! everything in it afterwards. Where no cgroup can be made (no permission, no controller), the
//! tests that need one say so and are skipped: running them unconfined could take the machine
//! down.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a confined run did.
pub struct Outcome {
    /// The exit code, or `None` if it was killed (by a signal, or at the timeout).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// How often the cgroup refused a new process (`pids.events` "max"): a storm's footprint.
    pub refused_forks: u64,
    pub timed_out: bool,
}

/// A fresh pids cgroup, removed (after killing whatever is left in it) when dropped.
pub struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    /// A new cgroup allowing at most `max` processes, or `None` if this machine does not let us.
    pub fn new(max: u32) -> Option<Cgroup> {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "common-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Relaxed)
        );
        for root in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"] {
            let dir = PathBuf::from(root).join(&name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            let cgroup = Cgroup { dir };
            if std::fs::write(cgroup.dir.join("pids.max"), max.to_string()).is_ok() {
                return Some(cgroup);
            }
            // Dropping removes the directory again.
        }
        None
    }

    /// `program args...` started inside this cgroup: a shell moves itself in, then execs it, so
    /// not even its first fork escapes the limit.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", r#"echo $$ > "$0/cgroup.procs" && exec "$@""#])
            .arg(&self.dir)
            .arg(program);
        cmd
    }

    fn members(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    fn refused_forks(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("pids.events"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("max ").and_then(|n| n.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// Runs `cmd` (from [`Cgroup::command`]) to its end, or kills the whole cgroup at `limit`.
    pub fn run(&self, cmd: &mut Command, limit: Duration) -> Outcome {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("/bin/sh starts");
        let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + limit;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waitpid") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Whatever is left (a storm, a stray worker) goes now, so the pipes close and the
        // cgroup can be removed.
        self.kill_all();
        let status = status.or_else(|| child.wait().ok());
        Outcome {
            code: status.and_then(|s| s.code()),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            refused_forks: self.refused_forks(),
            timed_out,
        }
    }

    fn kill_all(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let members = self.members();
            if members.is_empty() || Instant::now() >= deadline {
                return;
            }
            for pid in members {
                // SAFETY: kill only sends a signal; these pids were read from our own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.kill_all();
        // The kernel refuses to remove a cgroup for a moment after its last process exits.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Says why a test that needs a cgroup did not run.
pub fn skipped(test: &str) {
    println!("   {test}: skipped: no pids cgroup can be made here (not root, or no controller)");
}
