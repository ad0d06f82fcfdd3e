//! Starting the real binary, alone or under `mpirun`, each run in a folder of its own, and
//! finding what it left behind.

#![allow(dead_code)] // each test file uses a part

use common::testing::{eventually, processes_with_env, random_below};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mpi-demo");
const MARKER: &str = "MPI_DEMO_TEST_RUN";

/// One run of the demo: its own `TMPDIR` (which also holds Open MPI's files), and a marker in
/// its environment that every rank inherits, so a rank is found even after its launcher died.
pub struct Run {
    pub child: Child,
    /// What the run printed so far, read by a thread each (a full pipe would stall the run).
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
    pub marker: String,
    pub base: PathBuf,
    pub tmp: PathBuf,
}

impl Run {
    /// The demo started alone with `args`.
    pub fn alone(args: &[&str]) -> Run {
        Run::start(BIN, args)
    }

    /// The demo under `mpirun -n ranks` with `args`.
    pub fn mpirun(ranks: usize, args: &[&str]) -> Run {
        let mut all = vec![
            "-n".to_string(),
            ranks.to_string(),
            "--bind-to".into(),
            "none".into(),
        ];
        all.push(BIN.to_string());
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        Run::start("mpirun", &all)
    }

    fn start(program: &str, args: &[&str]) -> Run {
        let marker = format!("{}-{}", std::process::id(), random_below(u64::MAX));
        let base = std::env::temp_dir().join(format!("mpi-demo-test-{marker}"));
        let tmp = base.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = Command::new(program)
            .args(args)
            .env(MARKER, &marker)
            .env("TMPDIR", &tmp)
            .env("OMPI_MCA_btl_vader_backing_directory", &tmp)
            // What mpirun needs here: to run as root (in containers), and more ranks than cores.
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Run {
            child,
            stdout,
            stderr,
            marker,
            base,
            tmp,
        }
    }

    /// Waits at most `limit`; the status, stdout and stderr, or a panic if it ran longer.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String, String, Run) {
        let status = self
            .wait_within(limit)
            .unwrap_or_else(|| panic!("still running after {limit:?}"));
        // The pipes close when the last rank is gone: wait for that (bounded), then read.
        let _ = eventually(Duration::from_secs(5), || self.processes().is_empty());
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status, out, err, self)
    }

    pub fn wait_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (at most `limit`) until the run has printed a line that starts with `prefix`.
    pub fn wait_for_line(&self, prefix: &str, limit: Duration) {
        let seen = eventually(limit, || {
            self.stdout
                .lock()
                .unwrap()
                .lines()
                .any(|l| l.starts_with(prefix))
        });
        assert!(
            seen,
            "no line {prefix:?} within {limit:?}: {}",
            self.stdout.lock().unwrap()
        );
    }

    /// Live processes of this run (the launcher, the ranks, their daemons and children).
    pub fn processes(&self) -> Vec<u32> {
        processes_with_env(MARKER, &self.marker)
    }

    /// The run's processes whose environment says they are worker rank `rank`.
    pub fn ranks_numbered(&self, rank: &str) -> Vec<u32> {
        self.processes()
            .into_iter()
            .filter(|&p| {
                let environ = std::fs::read(format!("/proc/{p}/environ")).unwrap_or_default();
                let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let has = |hay: &[u8], needle: &str| {
                    hay.split(|&b| b == 0).any(|f| f == needle.as_bytes())
                };
                has(&environ, &format!("OMPI_COMM_WORLD_RANK={rank}")) || {
                    // A spawned rank: its first argument marks it; its world rank is in env.
                    has(&cmdline, "__mpi-demo-spawned-worker")
                        && has(
                            &environ,
                            &format!(
                                "OMPI_COMM_WORLD_RANK={}",
                                rank.parse::<usize>().unwrap() - 1
                            ),
                        )
                }
            })
            .collect()
    }

    /// Files left in the run's `TMPDIR`.
    pub fn files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.tmp)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// Asserts that within `limit` no process of the run is alive and no file is left.
    pub fn assert_nothing_left(&self, limit: Duration, what: &str) {
        let gone = eventually(limit, || {
            self.processes().is_empty() && self.files().is_empty()
        });
        assert!(
            gone,
            "{what}: left processes {:?} and files {:?}",
            self.processes(),
            self.files()
        );
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in self.processes() {
            let _ = common::demo::sys::send_signal(pid, libc::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// Waits (at most `limit`) until `condition` holds; panics naming `what` if it never does.
pub fn wait_for(limit: Duration, what: &str, condition: impl FnMut() -> bool) {
    assert!(eventually(limit, condition), "no {what} within {limit:?}");
}

/// Checks the narration rules on a run's stdout: lines of at most 100 characters, and one
/// `result: ... [ok]` line per expected scenario.
pub fn assert_narration(stdout: &str, scenarios: &[&str]) {
    for line in stdout.lines() {
        assert!(
            line.chars().count() <= 100,
            "line over 100 characters: {line}"
        );
    }
    for scenario in scenarios {
        assert!(
            stdout.contains(&format!("== {scenario}:")),
            "no header for {scenario}:\n{stdout}"
        );
    }
    let ok = stdout
        .lines()
        .filter(|l| l.starts_with("result:") && l.contains("[ok]"))
        .count();
    assert_eq!(ok, scenarios.len(), "result lines:\n{stdout}");
}
