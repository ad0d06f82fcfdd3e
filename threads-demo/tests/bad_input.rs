//! Bad input is refused with a message and exit status 2, never a panic.

mod support;
use support::{assert_usage_error, run};

/// Zero workers is refused by clap.
#[test]
fn zero_workers() {
    assert_usage_error(&run("zero", &["spawn-join", "--workers", "0"]));
}

/// Absurd sizes are refused by clap.
#[test]
fn absurd_sizes() {
    assert_usage_error(&run("workers", &["--workers", "100000"]));
    assert_usage_error(&run("size", &["borrow-stack", "--size", "100000000000"]));
    assert_usage_error(&run("limit", &["speedup", "--limit", "-5"]));
    assert_usage_error(&run("serial", &["speedup", "--serial", "100"]));
}

/// An unknown scenario is refused by clap.
#[test]
fn unknown_scenario() {
    assert_usage_error(&run("unknown", &["frobnicate"]));
}

/// Knobs fine alone but not together are refused at run time, with status 2 as well.
#[test]
fn combinations_checked_at_run_time() {
    let out = run(
        "combo",
        &[
            "shared-memory",
            "--workers",
            "256",
            "--increments",
            "10000000",
        ],
    );
    assert_usage_error(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers x --increments"));
}
