//! Bad input gets a message and exit status 2: never a panic, never a backtrace.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pools-demo");

/// Runs the demo, expects status 2, and returns the first line of stderr.
fn rejected(args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .output()
        .expect("the demo starts");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?} should exit 2; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{args:?}: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{args:?} ran something before rejecting its input"
    );
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    stderr.lines().next().unwrap_or_default().to_string()
}

/// A pool needs at least one worker.
#[test]
fn zero_workers_is_rejected() {
    let line = rejected(&["workloads", "--workers", "0"]);
    assert!(
        line.starts_with("error:") && line.contains("--workers"),
        "{line}"
    );
}

/// A batch needs at least one item.
#[test]
fn zero_chunk_is_rejected() {
    let line = rejected(&["timeline", "--chunk", "0"]);
    assert!(
        line.starts_with("error:") && line.contains("--chunk"),
        "{line}"
    );
}

/// Only the listed scenarios exist.
#[test]
fn unknown_scenario_is_rejected() {
    let line = rejected(&["no-such-scenario"]);
    assert!(
        line.starts_with("error:") && line.contains("no-such-scenario"),
        "{line}"
    );
}

/// An `--svg` directory that cannot be created is reported before any work starts.
#[test]
fn unwritable_svg_dir_is_rejected() {
    // A directory cannot be made under a plain file, whoever runs the test (root included).
    let file = std::env::temp_dir().join(format!("pools-demo-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, "a file").expect("temp file");
    let target = file.join("charts");
    let output = Command::new(BIN)
        .args(["timeline", "--svg", target.to_str().expect("UTF-8")])
        .output()
        .expect("starts");
    std::fs::remove_file(&file).expect("cleanup");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("error: --svg ") && stderr.contains("not a writable directory"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
