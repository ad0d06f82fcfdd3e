//! Scratch directories, this executable, and running it confined in a pids cgroup.

use crate::confine;
use crate::{MAIN_LOG, ROLE};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fresh scratch directory for one test, removed with everything in it when dropped.
pub(crate) struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A test may have made a directory read-only; give its owner back the right to empty it.
        use std::os::unix::fs::PermissionsExt;
        let dirs = walk(&self.0);
        for dir in &dirs {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `dir` and every directory under it (not following links).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut at = 0;
    while at < found.len() {
        let entries = std::fs::read_dir(&found[at])
            .into_iter()
            .flatten()
            .flatten();
        let subdirs = entries.filter(|e| e.file_type().is_ok_and(|t| t.is_dir()));
        found.extend(subdirs.map(|e| e.path()).collect::<Vec<_>>());
        at += 1;
    }
    found
}

/// A fresh scratch directory for one test (see [`Scratch`]).
pub(crate) fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("boundaries-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Scratch(dir)
}

pub(crate) fn this_exe() -> String {
    std::env::current_exe()
        .expect("current_exe")
        .to_string_lossy()
        .into_owned()
}

/// How many times `main` ran, from the log.
fn main_runs(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |s| s.lines().count())
}

/// Runs this binary as `role` in a pids cgroup (at most 32 processes) for at most 20 s.
pub(crate) fn confined_role(test: &str, role: &str) -> Option<(confine::Outcome, usize)> {
    let Some(cgroup) = confine::Cgroup::new(32) else {
        confine::skipped(test);
        return None;
    };
    let dir = scratch(test);
    let log = dir.join("main.log");
    let mut cmd = cgroup.command(&this_exe());
    cmd.env(ROLE, role).env(MAIN_LOG, &log);
    let outcome = cgroup.run(&mut cmd, Duration::from_secs(20));
    Some((outcome, main_runs(&log)))
}
