//! A segment's life: created under a recognisable name, guarded, unlinked once mapped; test
//! hooks. (The views of its bytes, and every `unsafe` block, are in `segment.rs`.)

use super::{Opened, Segment, PREFIX};
use anyhow::{Context, Result};
use common::demo::cleanup::PathGuard;
use shared_memory::ShmemConf;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

/// `bytes` in MiB, for messages: `64.0 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Test hooks, set once by `tour::run` from hidden flags (see `src/cli.rs`).
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
        let what = format!("a {} segment", mib(len as u64));
        common::demo::machine::check_room(Path::new("/dev/shm"), len as u64, &what)?;
        // Registered before the name exists, so that no signal can fall between the two.
        let guard = PathGuard::new(&path);
        let shmem = ShmemConf::new()
            .os_id(&os_id)
            .size(len)
            .create()
            .with_context(|| format!("creating shared memory segment {os_id} of {len} bytes"))?;
        // shared_memory sizes the segment with ftruncate, which promises pages it may not have:
        // another process can fill /dev/shm before we write, and a write to a page without
        // room ends us with SIGBUS. Reserve every page now, so that can only be an error here.
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        common::demo::machine::reserve(&file, len as u64, &format!("segment {os_id}"))?;
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
                common::demo::narrate::millis(hold),
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
}
