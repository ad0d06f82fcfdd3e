//! Files the tasks and the test share, and the one task of these tests.

use crate::harness::{self, check};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A release file and a start log, unique to one test on one pool; removed on drop.
pub(crate) struct Files {
    release: PathBuf,
    log: PathBuf,
}

impl Files {
    pub(crate) fn new(test: &str, kind: &str) -> Files {
        let base = format!("python_features-{}-{test}-{kind}", std::process::id());
        let dir = std::env::temp_dir();
        let files = Files {
            release: dir.join(format!("{base}.release")),
            log: dir.join(format!("{base}.log")),
        };
        files.remove();
        files
    }

    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_file(&self.release);
        let _ = std::fs::remove_file(&self.log);
    }

    /// Lets every task waiting in `held` go on.
    pub(crate) fn release(&self) -> harness::Result {
        std::fs::write(&self.release, b"go")?;
        Ok(())
    }

    /// The tags logged so far, in the order the tasks started.
    pub(crate) fn started(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits (at most 20 s) until `n` tasks have logged their start.
    pub(crate) fn wait_started(&self, n: usize) -> harness::Result {
        for _ in 0..20_000 {
            if self.started().len() >= n {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        check(false, &format!("{n} tasks started within 20 s"))
    }

    /// What a task needs to know: where to log, where to look for the release, its tag, and
    /// whether it waits for the release.
    pub(crate) fn task(&self, tag: &str, holds: bool) -> Job {
        Job {
            log: self.log.to_string_lossy().into_owned(),
            release: self.release.to_string_lossy().into_owned(),
            tag: tag.to_string(),
            holds,
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.remove();
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Job {
    log: String,
    release: String,
    tag: String,
    holds: bool,
}

/// The one task of these tests: logs its start with a single `O_APPEND` write (so concurrent
/// starts never tear or overwrite), then, if it `holds`, waits for the release file (at most
/// 20 s); otherwise it works for 2 ms, long enough that a process pool never sends it ahead to a
/// busy worker. Returns `(tag, released)`: `released` is false only if a held task gave up.
///
/// Why "long enough" matters: once a process pool has seen short batches it sends several at
/// once to each worker, and a batch already sent cannot be cancelled. So each test runs its
/// held tasks first, on a fresh pool, and its many short tasks last.
pub(crate) fn run_job(job: Job) -> (String, bool) {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&job.log)
        .expect("the test's log opens");
    log.write_all(format!("{}\n", job.tag).as_bytes())
        .expect("the start is logged");
    let released = if job.holds {
        wait_for(Path::new(&job.release))
    } else {
        std::thread::sleep(Duration::from_millis(2));
        true
    };
    (job.tag, released)
}

/// Waits (at most 20 s by the clock: a loaded machine stretches every nap) for `path` to exist;
/// whether it did.
fn wait_for(path: &Path) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    path.exists()
}
