//! Running the real binary in a scratch `TMPDIR`, with a marker in its environment so that any
//! process it leaves behind can be found.
#![allow(dead_code)] // each test file uses its own part of this module

use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch directory for one test run, removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
    pub marker: String,
}

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let marker = format!("{test}-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("sync-demo-test-{marker}"));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch { dir, marker }
    }

    /// The demo with `args`, its temporary files in the scratch dir, marked.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sync-demo"));
        cmd.args(args)
            .env("TMPDIR", &self.dir)
            .env("SYNC_DEMO_TEST", &self.marker)
            .env("RUST_BACKTRACE", "0");
        cmd
    }

    /// Asserts the run left nothing: no files, no processes, no /dev/shm entries of `pid`.
    pub fn assert_nothing_left(&self, pid: u32) {
        let left: Vec<_> = std::fs::read_dir(&self.dir)
            .expect("read scratch dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "files left behind: {left:?}");
        let gone = common::testing::eventually(std::time::Duration::from_secs(3), || {
            common::testing::processes_with_env("SYNC_DEMO_TEST", &self.marker).is_empty()
        });
        assert!(gone, "processes left behind");
        let shm = common::testing::shm_entries(&format!("sync-demo-{pid}-"));
        assert!(shm.is_empty(), "/dev/shm entries left behind: {shm:?}");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the demo to completion and returns its output.
pub fn run(test: &str, args: &[&str]) -> Output {
    let scratch = Scratch::new(test);
    let child = scratch
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the demo");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for the demo");
    scratch.assert_nothing_left(pid);
    output
}

/// Runs the demo, asserts it succeeded, and returns its `result:` lines.
pub fn results(test: &str, args: &[&str], expected_lines: usize) -> (String, Vec<String>) {
    let output = run(test, args);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let results = result_lines(&stdout);
    assert_eq!(results.len(), expected_lines, "{stdout}");
    for r in &results {
        assert!(r.contains("[ok]"), "{r}");
    }
    (stdout, results)
}

/// The `result:` lines of `stdout`, each joined with its indented continuation lines (a result
/// wraps at 100 columns; the scenario ends with it, so a blank line or the end follows).
pub fn result_lines(stdout: &str) -> Vec<String> {
    let mut results: Vec<String> = Vec::new();
    let mut open = false;
    for line in stdout.lines() {
        if line.starts_with("result:") {
            results.push(line.to_string());
            open = true;
        } else if open && line.starts_with("   ") {
            let last = results.last_mut().expect("open only after a result line");
            last.push(' ');
            last.push_str(line.trim_start());
        } else {
            open = false;
        }
    }
    results
}

/// The number right after `label` in `line`.
pub fn number_after(line: &str, label: &str) -> usize {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {line:?}"))
        + label.len()..];
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}
