//! What `/proc` says about processes, and what `/dev/shm` holds: for demos that show their
//! children, and tests that check nothing was left behind.
//!
//! They read `/proc` directly, so they need no extra tools and work inside containers.

use std::path::PathBuf;

/// The state letter of process `pid` (`R`, `S`, `Z` for a zombie, ...), or `None` if no such
/// process exists.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name field may hold spaces and parentheses; the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether `pid` exists and is not a zombie (the same as [`super::sys::is_alive`]).
pub fn is_running(pid: u32) -> bool {
    crate::sys::is_alive(pid)
}

/// The parent pid of process `pid`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The direct children of `pid` (zombies included), read from every `/proc/<n>/stat`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| parent_of(p) == Some(pid))
        .collect()
}

/// Every descendant of `pid`: children, their children, and so on.
pub fn descendants_of(pid: u32) -> Vec<u32> {
    let mut found = children_of(pid);
    let mut i = 0;
    while i < found.len() {
        let more = children_of(found[i]);
        found.extend(more);
        i += 1;
    }
    found
}

/// Processes whose environment holds `KEY=value`, e.g. a marker a test set on a program it ran:
/// the way to find a killed parent's former children, which init has adopted by then.
pub fn processes_with_env(key: &str, value: &str) -> Vec<u32> {
    let needle = format!("{key}={value}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| is_running(*p))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Entries of `/dev/shm` whose name contains `pattern`.
pub fn shm_entries(pattern: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(pattern))
        .collect()
}

/// Polls `condition` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = crate::handle::deadline_in(limit);
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
