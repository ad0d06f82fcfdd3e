//! A student's machine is not ours: a demo's default tour under a read-only, missing or full
//! `TMPDIR`, a full or 64 MiB `/dev/shm`, `ulimit -n 64`, and few processes. Each run must end
//! with exit status 0, or with [`MACHINE_STATUS`] and one `error:` line that names the resource;
//! never a panic, a signal (`SIGBUS`) or a hang; and leave nothing in `/dev/shm` or `TMPDIR`.
//!
//! Each run gets a mount namespace of its own (`unshare -m`, as root) with a fresh `tmpfs` on
//! `/dev/shm`, sized for the condition, so that a full `/dev/shm` harms nobody else and whatever
//! the run leaves there is found exactly; a `TMPDIR` of its own (a read-only or tiny `tmpfs`
//! mounted in the namespace, or none); `ulimit -n`; or a pids cgroup (`RLIMIT_NPROC` does not
//! bind root; a cgroup's `pids.max` does, and counts threads as `ulimit -u` does). Where this
//! machine allows none of that (not root, no `unshare`), the checks say so and pass: they cannot
//! run here, and running a demo with `/dev/shm` really full would harm the machine's other users.
//!
//! A demo's `tests/hostile.rs` runs them all with [`hostile_tests!`](crate::hostile_tests).

use crate::demo::machine::MACHINE_STATUS;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the machine lacks during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `TMPDIR` is a read-only file system.
    ReadOnlyTmpdir,
    /// `TMPDIR` names a folder that does not exist.
    MissingTmpdir,
    /// `TMPDIR` is a 64 KiB file system, full.
    FullTmpdir,
    /// `/dev/shm` is a 64 KiB file system, full.
    FullDevShm,
    /// `/dev/shm` is 64 MiB, as in a container by default: every default tour must pass.
    SmallDevShm,
    /// At most 64 open files (`ulimit -n 64`).
    FewFiles,
    /// At most 12 processes and threads in all (a pids cgroup, as `ulimit -u 12` would be for
    /// an unprivileged user).
    FewProcesses,
}

impl Condition {
    /// Words a refusal under this condition must contain: the resource it names.
    fn resource(self) -> &'static str {
        match self {
            Condition::ReadOnlyTmpdir | Condition::MissingTmpdir | Condition::FullTmpdir => {
                "TMPDIR"
            }
            Condition::FullDevShm | Condition::SmallDevShm => "/dev/shm",
            Condition::FewFiles => "ulimit -n",
            Condition::FewProcesses => "ulimit -u",
        }
    }

    /// The shell lines that set the condition up inside the namespace, before the demo runs.
    /// `$S` is the run's scratch folder (outside the namespace's mounts).
    fn setup(self) -> &'static str {
        match self {
            Condition::ReadOnlyTmpdir => {
                "mkdir $S/ro && mount -t tmpfs -o size=1m,ro tmpfs $S/ro && export TMPDIR=$S/ro"
            }
            Condition::MissingTmpdir => "export TMPDIR=$S/missing",
            Condition::FullTmpdir => {
                "mkdir $S/full && mount -t tmpfs -o size=64k tmpfs $S/full && export \
                 TMPDIR=$S/full && { head -c 1m /dev/zero > $S/full/fill 2>/dev/null || true; }"
            }
            Condition::FullDevShm => {
                "mount -t tmpfs -o size=64k tmpfs /dev/shm && { head -c 1m /dev/zero > /dev/shm/fill \
                 2>/dev/null || true; }"
            }
            Condition::SmallDevShm => "mount -t tmpfs -o size=64m tmpfs /dev/shm",
            Condition::FewFiles => "ulimit -n 64",
            Condition::FewProcesses => "echo $$ > $CG/cgroup.procs",
        }
    }
}

/// Why these checks cannot run here, if they cannot: they need root and `unshare`.
fn cannot_confine() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root: no mount namespace for a private /dev/shm".into());
    }
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(s) if s.success() => None,
        _ => Some("`unshare -m` does not work here".into()),
    }
}

/// Runs `bin args` under `condition` and checks how it ends and what it leaves (see the module).
///
/// # Panics
/// When the run breaks a rule (this is a test helper).
pub fn check(bin: &str, args: &[&str], condition: Condition) {
    if let Some(why) = cannot_confine() {
        eprintln!("skipped: {condition:?} needs root and `unshare -m`: {why}");
        return;
    }
    let marker = format!(
        "hostile-{}-{}",
        std::process::id(),
        super::random_below(u64::MAX)
    );
    let scratch = std::env::temp_dir().join(&marker);
    std::fs::create_dir_all(scratch.join("tmp")).expect("a scratch folder");
    let cgroup = match condition {
        Condition::FewProcesses => match Cgroup::new(&marker, 12) {
            Some(cgroup) => Some(cgroup),
            None => {
                eprintln!("skipped: {condition:?} needs a pids cgroup, which this machine lacks");
                let _ = std::fs::remove_dir_all(&scratch);
                return;
            }
        },
        _ => None,
    };
    // A private /dev/shm for every condition, so that what the run leaves there is found.
    let script = format!(
        "set -e; mount -t tmpfs -o size=256m tmpfs /dev/shm; export TMPDIR=$S/tmp; {}; set +e; \
         \"$@\"; rc=$?; ls -A /dev/shm | grep -vx fill > $S/shm-left; \
         ls -A \"$TMPDIR\" 2>/dev/null | grep -vx fill > $S/tmp-left; exit $rc",
        condition.setup()
    );
    let mut child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh", bin])
        .args(args)
        .env("S", &scratch)
        .env(
            "CG",
            cgroup.as_ref().map_or(Path::new(""), |c| c.dir.as_path()),
        )
        .env(super::PROBE_MARKER, &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare starts");
    let stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let status = wait_within(&mut child, Duration::from_secs(120));
    // Whatever still carries the marker is left behind (or hung): kill it, then report it.
    let left_running = super::processes_with_env(super::PROBE_MARKER, &marker);
    for &pid in &left_running {
        let _ = crate::sys::send_signal(pid, libc::SIGKILL);
    }
    drop(cgroup);
    let stderr = reader.join().unwrap_or_default();
    let read = |name: &str| std::fs::read_to_string(scratch.join(name)).unwrap_or_default();
    let (shm_left, tmp_left) = (read("shm-left"), read("tmp-left"));
    let created_tmpdir = scratch.join("missing").exists();
    let _ = std::fs::remove_dir_all(&scratch);
    let what = format!("{bin} {args:?} under {condition:?}");
    let Some(status) = status else {
        panic!("{what}: still running after 120 s; stderr:\n{stderr}");
    };
    assert!(
        status.signal().is_none(),
        "{what}: killed by signal {:?}; stderr:\n{stderr}",
        status.signal()
    );
    let code = status.code().unwrap_or(-1);
    if condition == Condition::SmallDevShm {
        assert_eq!(
            code, 0,
            "{what}: a 64 MiB /dev/shm is enough; stderr:\n{stderr}"
        );
    }
    assert!(
        code == 0 || code == i32::from(MACHINE_STATUS),
        "{what}: exit status {code}, not 0 or {MACHINE_STATUS}; stderr:\n{stderr}"
    );
    let uncaught = stderr.lines().any(|l| {
        (l.starts_with("thread '") && l.contains("panicked"))
            || l.contains("stack backtrace")
            || l.contains("Bus error")
    });
    assert!(!uncaught, "{what}: a panic or a crash; stderr:\n{stderr}");
    if code != 0 {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            errors.len() == 1 && last.starts_with("error: "),
            "{what}: one `error: ...` line expected, last; stderr:\n{stderr}"
        );
        assert!(
            last.contains(condition.resource()),
            "{what}: the error line does not name {}: {last}",
            condition.resource()
        );
    }
    assert!(
        left_running.is_empty(),
        "{what}: processes left running: {left_running:?}"
    );
    assert!(
        shm_left.trim().is_empty(),
        "{what}: left in /dev/shm: {shm_left}"
    );
    assert!(!created_tmpdir, "{what}: created the missing TMPDIR");
    assert!(
        tmp_left.trim().is_empty(),
        "{what}: left in TMPDIR: {tmp_left}"
    );
}

/// Waits at most `limit` for `child`; `None` (after killing it) if it did not end.
fn wait_within(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = crate::handle::deadline_in(limit);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A pids cgroup of its own (v1 `pids` hierarchy, or v2), removed when dropped.
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn new(name: &str, max: u32) -> Option<Cgroup> {
        for root in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"] {
            let dir = PathBuf::from(root).join(name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            let cgroup = Cgroup { dir };
            if std::fs::write(cgroup.dir.join("pids.max"), max.to_string()).is_ok() {
                return Some(cgroup);
            }
        }
        None
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Its members were killed above; removal fails only while one is still exiting.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One `#[test]` per [`Condition`] for the binary `$bin`'s default tour: put
/// `common::hostile_tests!(env!("CARGO_BIN_EXE_<name>"));` in a demo's `tests/hostile.rs`.
#[macro_export]
macro_rules! hostile_tests {
    ($bin:expr) => {
        #[test]
        fn a_read_only_tmpdir() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::ReadOnlyTmpdir,
            );
        }
        #[test]
        fn a_missing_tmpdir() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::MissingTmpdir,
            );
        }
        #[test]
        fn a_full_tmpdir() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::FullTmpdir,
            );
        }
        #[test]
        fn a_full_dev_shm() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::FullDevShm,
            );
        }
        #[test]
        fn a_64_mib_dev_shm() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::SmallDevShm,
            );
        }
        #[test]
        fn at_most_64_open_files() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::FewFiles,
            );
        }
        #[test]
        fn at_most_12_processes() {
            $crate::testing::hostile::check(
                $bin,
                &[],
                $crate::testing::hostile::Condition::FewProcesses,
            );
        }
    };
}
