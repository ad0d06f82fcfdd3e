//! This demo's segments in `/dev/shm`: whose they are, listing them, sweeping stale ones.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every segment of this demo is named `/dev/shm/shm-demo-<pid>-...`.
pub const PREFIX: &str = "shm-demo-";

/// The owner pid in a demo segment's file name, if the name is one of ours.
pub fn owner_of(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix(PREFIX)?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

/// This demo's segments in `/dev/shm`, sorted: (file name, owner pid, size, mode).
pub fn list() -> Vec<(String, u32, u64, u32)> {
    let mut found: Vec<_> = common::demo::procfs::shm_entries(PREFIX)
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let owner = owner_of(&name)?;
            let meta = std::fs::metadata(&path).ok()?;
            Some((name, owner, meta.len(), meta.permissions().mode() & 0o777))
        })
        .collect();
    found.sort();
    found
}

/// Prints this demo's segments in `/dev/shm` (or that there are none), one line each.
///
/// # Errors
/// Only the writer's errors.
pub fn print_list(out: &mut impl Write, when: &str) -> std::io::Result<usize> {
    let found = list();
    if found.is_empty() {
        writeln!(out, "   /dev/shm {when}: no {PREFIX}* segments")?;
    } else {
        writeln!(out, "   /dev/shm {when}:")?;
    }
    for (name, owner, len, mode) in &found {
        let state = if common::demo::sys::is_alive(*owner) {
            "owner alive"
        } else {
            "owner gone"
        };
        writeln!(out, "     {name}  {len} bytes  mode {mode:04o}  ({state})")?;
    }
    Ok(found.len())
}

/// Removes every demo segment whose owner process no longer runs, and names each one removed.
///
/// Only our user's files can be removed (`/dev/shm` is sticky), and a live owner's segment is
/// never touched, so parallel runs of the demo cannot disturb each other. A reused pid makes a
/// stale segment look alive; it is then left for a later sweep, never removed wrongly. The sweep
/// itself is `common::demo::cleanup::sweep_stale`; this names what it removed.
///
/// # Errors
/// Only the writer's errors.
pub fn remove_stale(out: &mut impl Write) -> std::io::Result<usize> {
    let removed = common::demo::cleanup::sweep_stale(Path::new("/dev/shm"), PREFIX);
    for path in &removed {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .expect("sweep_stale returns entries of /dev/shm, each with a name");
        let owner = owner_of(&name).map_or_else(|| "?".to_string(), |pid| pid.to_string());
        writeln!(
            out,
            "removed stale segment {} (owner pid {owner} is gone)",
            path.display()
        )?;
    }
    Ok(removed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_is_read_from_our_names_only() {
        assert_eq!(owner_of("shm-demo-4123-lost-update-0"), Some(4123));
        assert_eq!(owner_of("shmem_ABCDEF"), None);
        assert_eq!(owner_of("shm-demo-x-1"), None);
    }
}
