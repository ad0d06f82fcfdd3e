//! What every test file shares: running the demo with a marker, and checking what it left.
#![allow(dead_code)] // Each test file uses a different part.

use common::testing::{eventually, processes_with_env, shm_entries};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Set on every demo a test starts; children inherit it, so it finds them even after their
/// parent is gone.
pub const MARKER: &str = "SHM_DEMO_TEST_MARKER";

/// The demo binary with the marker `marker` in its environment.
pub fn demo(marker: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shm-demo"));
    cmd.env(MARKER, format!("{marker}-{}", std::process::id()));
    cmd
}

/// The marker value `demo(marker)` sets.
pub fn marker_value(marker: &str) -> String {
    format!("{marker}-{}", std::process::id())
}

/// Runs the demo to its end and returns its output.
pub fn run(marker: &str, args: &[&str]) -> Output {
    demo(marker)
        .args(args)
        .output()
        .expect("the demo binary runs")
}

/// Runs the demo, asserts it succeeded and left nothing behind, and returns its stdout.
pub fn run_ok(marker: &str, args: &[&str]) -> String {
    let output = run(marker, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{args:?} failed: {:?}\n{stdout}\n{stderr}",
        output.status
    );
    let pid = parent_pid(&stdout).expect("the output names the parent's pid");
    assert_nothing_left(marker, pid);
    stdout
}

/// The `result:` lines of an output, each joined with its indented continuation lines (a
/// result wraps at 100 columns; a blank line or the end follows it).
pub fn results(stdout: &str) -> Vec<String> {
    let mut results: Vec<String> = Vec::new();
    let mut open = false;
    for line in stdout.lines() {
        if line.starts_with("result: ") {
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

/// The parent's pid, which every scenario states once: `[parent] is pid N`.
pub fn parent_pid(stdout: &str) -> Option<u32> {
    let at = stdout.find("[parent] is pid ")? + "[parent] is pid ".len();
    stdout[at..].split(';').next()?.parse().ok()
}

/// No segment of demo process `pid` in /dev/shm, and within 1 s no process with the marker.
pub fn assert_nothing_left(marker: &str, pid: u32) {
    let left = shm_entries(&format!("shm-demo-{pid}-"));
    assert!(left.is_empty(), "segments left behind: {left:?}");
    let value = marker_value(marker);
    let gone = eventually(Duration::from_secs(1), || {
        processes_with_env(MARKER, &value).is_empty()
    });
    assert!(
        gone,
        "processes left behind: {:?}",
        processes_with_env(MARKER, &value)
    );
}

/// Starts the demo with stdout piped and reads lines until one contains `wanted` (at most 20 s).
pub fn start_until(marker: &str, args: &[&str], wanted: &str) -> (Child, String) {
    let mut child = demo(marker)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the demo starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(wanted) {
            return (child, seen);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("never saw {wanted:?}; output:\n{seen}");
}

/// Waits at most 5 s for `child` to exit and returns its status.
pub fn wait(child: &mut Child) -> std::process::ExitStatus {
    let mut status = None;
    let ended = eventually(Duration::from_secs(5), || {
        status = child.try_wait().expect("waitpid");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the demo did not exit within 5 s");
    }
    status.expect("ended")
}
