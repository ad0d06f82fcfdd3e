//! Paths removed on drop or on an interrupt, and the sweep of names a killed run left behind.

use super::{registry, too_late};
use std::path::{Path, PathBuf};

/// Removes `path` (a file, or a directory and all it holds) when dropped, or when the program is
/// interrupted before that.
///
/// ```
/// let path = std::env::temp_dir().join(format!("cleanup-doc-{}", std::process::id()));
/// std::fs::write(&path, "scratch").unwrap();
/// let guard = common::demo::cleanup::PathGuard::new(&path);
/// drop(guard);
/// assert!(!path.exists());
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard removes the path at once"]
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

pub(super) fn remove(path: &Path) {
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
/// let removed = common::demo::cleanup::sweep_stale(&dir, "demo-");
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
