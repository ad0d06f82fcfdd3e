//! What the tests share: running the real binary, reading its `result:` lines, finding leftovers.
// Each test file uses only part of this module.
#![allow(dead_code)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_processes-demo");

/// The environment variable that marks every process a test starts (children inherit it).
pub const MARKER: &str = "DEMO_TEST_MARKER";

/// A marker value unique to this test run and `test`.
pub fn marker(test: &str) -> String {
    format!("{test}-{}", std::process::id())
}

/// Runs the binary with `args` and the marker for `test`, and waits for it.
pub fn run(test: &str, args: &[&str]) -> Output {
    run_with_pid(test, args).0
}

/// As [`run`], with the run's pid. Its shared-memory segments carry that pid in their names
/// (`processes-demo-<pid>-...`), so a test checks for its own leftovers, not for the live
/// segments of a test running beside it in the same binary.
pub fn run_with_pid(test: &str, args: &[&str]) -> (Output, u32) {
    let child = Command::new(BIN)
        .args(args)
        .env(MARKER, marker(test))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the demo starts");
    let pid = child.id();
    (child.wait_with_output().expect("the demo's output"), pid)
}

/// The `result:` lines of a run's stdout, each joined with its continuation lines.
pub fn results(output: &Output) -> Vec<String> {
    common::demo::narrate::result_lines(&String::from_utf8_lossy(&output.stdout))
}

/// Asserts a run succeeded with exactly one `result:` line that contains `expected` and `[ok]`,
/// and that none of its processes is left.
pub fn assert_passed(test: &str, output: &Output, expected: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let results = results(output);
    assert_eq!(results.len(), 1, "one result line expected:\n{stdout}");
    assert!(
        results[0].contains(expected) && results[0].contains("[ok]"),
        "unexpected: {}",
        results[0]
    );
    assert_nothing_left(test);
}

/// Asserts that no process carrying the marker of `test` is alive within 1 s.
pub fn assert_nothing_left(test: &str) {
    let marker = marker(test);
    let gone = common::testing::eventually(Duration::from_secs(1), || {
        common::testing::processes_with_env(MARKER, &marker).is_empty()
    });
    assert!(
        gone,
        "processes left behind: {:?}",
        common::testing::processes_with_env(MARKER, &marker)
    );
}

/// Asserts a run was refused as bad input: status 2, a message, no panic.
pub fn assert_usage_error(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.starts_with("error: "), "no message: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    assert!(results(output).is_empty());
}
