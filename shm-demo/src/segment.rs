//! A shared-memory segment that cannot outlive the demo: named, guarded, unlinked early, swept.
//!
//! The shared_memory crate removes a segment only in its owner's `Drop`, and a process that is
//! killed, interrupted or calls `process::exit` runs no `Drop`: the name stays in `/dev/shm`
//! (a file in a RAM file system) until reboot. Four measures close every gap:
//!
//! 1. **A recognisable name** `/shm-demo-<owner pid>-<scenario>-<n>`, so anyone can tell whose
//!    segment it is and whether its owner still lives. No flink files are used (the crate's
//!    optional "file link" would be one more file to leak).
//! 2. **A [`PathGuard`]** for `/dev/shm/<name>`, registered *before* the segment exists: the
//!    Ctrl-C/SIGTERM handler of `common::init` removes it, and so does unwinding from a panic.
//! 3. **Unlink early**: once every child has reported that it mapped the segment, the name is
//!    removed. Mappings stay valid (the kernel frees the memory when the last one goes), so from
//!    here on even SIGKILL cannot leak anything.
//! 4. **Sweep stale names** at start: a segment whose owner pid is no longer alive was leaked by
//!    a SIGKILL between creation and unlink, and is removed ([`remove_stale`]).

use anyhow::{Context, Result};
use common::cleanup::PathGuard;
use shared_memory::{Shmem, ShmemConf};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

/// Every segment of this demo is named `/dev/shm/shm-demo-<pid>-...`.
pub const PREFIX: &str = "shm-demo-";

/// Test hooks, set once by `main` from hidden flags (see `src/main.rs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Hooks {
    /// Panic in the parent after every child mapped a segment, before its name is unlinked.
    pub panic_after_map: bool,
    /// Sleep this long after every child mapped a segment, before unlinking (a window for tests
    /// to send a signal while the name still exists).
    pub hold_before_unlink: Option<Duration>,
}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// Installs the test hooks (once; later calls are ignored).
pub fn set_hooks(hooks: Hooks) {
    let _ = HOOKS.set(hooks);
}

/// The `/dev/shm` path of a segment name (`/shm-demo-...`).
pub fn dev_shm_path(os_id: &str) -> PathBuf {
    PathBuf::from("/dev/shm").join(os_id.trim_start_matches('/'))
}

/// A segment created by this process. Dropping it unmaps it and removes its name if still there.
pub struct Segment {
    // Field order matters: the mapping is dropped before the guard removes the name.
    shmem: Shmem,
    guard: Option<PathGuard>,
    os_id: String,
}

impl Segment {
    /// Creates a zero-filled segment of `len` bytes for `scenario`, readable by this user only.
    ///
    /// # Errors
    /// If the segment cannot be created or its mode cannot be set.
    pub fn create(scenario: &str, len: usize) -> Result<Segment> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let os_id = format!(
            "/{PREFIX}{}-{scenario}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Relaxed)
        );
        let path = dev_shm_path(&os_id);
        // Registered before the name exists, so that no signal can fall between the two.
        let guard = PathGuard::new(&path);
        let shmem = ShmemConf::new()
            .os_id(&os_id)
            .size(len)
            .create()
            .with_context(|| format!("creating shared memory segment {os_id} of {len} bytes"))?;
        // shared_memory asks shm_open for mode 0600, which the umask can only narrow. Make the
        // mode exactly 0600 anyway, so the segment is readable and writable by this user alone.
        let mode = std::fs::metadata(&path)
            .with_context(|| format!("stat {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o777 != 0o600 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("chmod 0600 {}", path.display()))?;
        }
        Ok(Segment {
            shmem,
            guard: Some(guard),
            os_id,
        })
    }

    /// The name children open the segment by (`/shm-demo-...`).
    pub fn os_id(&self) -> &str {
        &self.os_id
    }

    /// The segment's path under `/dev/shm` (gone once unlinked).
    pub fn path(&self) -> PathBuf {
        dev_shm_path(&self.os_id)
    }

    /// The first byte of the mapping (page-aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.shmem.as_ptr()
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.shmem.len()
    }

    /// Always false: a segment has at least one byte (shared_memory refuses size 0).
    pub fn is_empty(&self) -> bool {
        self.shmem.len() == 0
    }

    /// Removes the segment's name; call it once every child has mapped the segment. Existing
    /// mappings stay valid; nobody can open the segment any more, and nothing can leak it.
    ///
    /// # Errors
    /// If the name cannot be removed.
    pub fn unlink(&mut self, out: &mut impl Write) -> Result<()> {
        let hooks = HOOKS.get().copied().unwrap_or_default();
        if hooks.panic_after_map {
            panic!(
                "--panic-after-map: panicking with {} still linked",
                self.os_id
            );
        }
        if let Some(hold) = hooks.hold_before_unlink {
            writeln!(
                out,
                "holding {} before unlinking {} (--hold-before-unlink-ms)",
                common::narrate::millis(hold),
                self.path().display()
            )?;
            out.flush()?;
            std::thread::sleep(hold);
        }
        let path = self.path();
        std::fs::remove_file(&path).with_context(|| format!("unlinking {}", path.display()))?;
        // Our own Drop must not unlink the name again: by then another segment could carry it.
        self.shmem.set_owner(false);
        self.guard = None;
        Ok(())
    }
}

/// A segment opened by a child by its name. Dropping it unmaps it; it never removes the name.
pub struct Opened {
    shmem: Shmem,
}

impl Opened {
    /// Opens and maps the segment `os_id` created by the parent.
    ///
    /// # Errors
    /// If no such segment exists (for example, it was already unlinked).
    pub fn open(os_id: &str) -> Result<Opened> {
        let shmem = ShmemConf::new()
            .os_id(os_id)
            .open()
            .with_context(|| format!("opening shared memory segment {os_id}"))?;
        Ok(Opened { shmem })
    }

    /// The first byte of the mapping (page-aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.shmem.as_ptr()
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.shmem.len()
    }

    /// Always false for a segment this demo created.
    pub fn is_empty(&self) -> bool {
        self.shmem.len() == 0
    }
}

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
    }
    for (name, owner, len, mode) in &found {
        let state = if common::sys::is_alive(*owner) {
            "owner alive"
        } else {
            "owner gone"
        };
        writeln!(
            out,
            "   /dev/shm {when}: {name}  {len} bytes  mode {mode:04o}  ({state})"
        )?;
    }
    Ok(found.len())
}

/// Removes every demo segment whose owner process no longer runs, and names each one removed.
///
/// Only our user's files can be removed (`/dev/shm` is sticky), and a live owner's segment is
/// never touched, so parallel runs of the demo cannot disturb each other. A reused pid makes a
/// stale segment look alive; it is then left for a later sweep, never removed wrongly. The sweep
/// itself is `common::cleanup::sweep_stale`; this names what it removed.
///
/// # Errors
/// Only the writer's errors.
pub fn remove_stale(out: &mut impl Write) -> std::io::Result<usize> {
    let removed = common::cleanup::sweep_stale(Path::new("/dev/shm"), PREFIX);
    for path in &removed {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
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
