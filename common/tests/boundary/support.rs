//! Scratch directories, this executable, and running it confined in a pids cgroup.

use crate::confine;
use crate::{MAIN_LOG, ROLE};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fresh scratch directory for one test.
pub(crate) fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boundaries-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
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
    let log = scratch(test).join("main.log");
    let mut cmd = cgroup.command(&this_exe());
    cmd.env(ROLE, role).env(MAIN_LOG, &log);
    let outcome = cgroup.run(&mut cmd, Duration::from_secs(20));
    Some((outcome, main_runs(&log)))
}
