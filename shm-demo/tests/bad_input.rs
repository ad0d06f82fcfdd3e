//! Bad input ends with a one-line message on stderr and exit status 2, never a panic.

mod support;

fn assert_usage_error(args: &[&str], mentions: &str) {
    let output = support::run("bad", args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        stderr.lines().next().unwrap().contains(mentions),
        "{args:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
}

/// `--mib 0` is refused by the argument parser.
#[test]
fn size_zero_is_refused() {
    assert_usage_error(&["copy-vs-share", "--mib", "0"], "--mib");
}

/// A size the machine cannot hold is refused against /proc/meminfo, before anything runs.
#[test]
fn size_beyond_available_memory_is_refused() {
    assert_usage_error(&["copy-vs-share", "--mib", "1048576"], "MemAvailable");
    let output = support::run("bad", &["--mib", "1048576"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing ran before the check");
}

/// An unknown scenario is refused.
#[test]
fn unknown_scenario_is_refused() {
    assert_usage_error(&["no-such-scenario"], "no-such-scenario");
}

/// Zero children is refused.
#[test]
fn zero_workers_is_refused() {
    assert_usage_error(&["lost-update", "--workers", "0"], "--workers");
}
