//! The workspace's fault suite (see "Reliability" in the root README), for this crate: Ctrl-C
//! at random moments, the demo SIGKILLed, and bad command lines. Quick by default; run the full
//! counts with `FAULTS_FULL=1 cargo test -p processes-demo --test faults`.

use common::testing::{bad_input, ctrl_c_anywhere, fault_rounds, parent_killed};

const BIN: &str = env!("CARGO_BIN_EXE_processes-demo");

/// About how long a run of every scenario takes here (debug build): interrupts land within it.
const RUN_MS: u64 = 1500;

/// Ctrl-C anywhere in a run of every scenario: exit within 2 s, nothing left behind.
#[test]
fn ctrl_c_anywhere_leaves_nothing() {
    ctrl_c_anywhere(BIN, &[], RUN_MS, fault_rounds(3, 20));
}

/// The demo SIGKILLed mid-run: its children die within 1 s, and the next run sweeps what it
/// could not clean up itself.
#[test]
fn parent_killed_leaves_nothing() {
    parent_killed(BIN, &[], RUN_MS, fault_rounds(2, 10), &["spawn-join"]);
}

/// Bad command lines: exit status 2 and a one-line message naming the problem, never a panic.
#[test]
fn bad_input_gets_status_2_and_a_message() {
    bad_input(
        BIN,
        &[
            &["--workers", "0"],
            &["--workers", "-1"],
            &["--workers", "two"],
            &["--workers", "100000"],
            &["--increments", "99999999999999999999"],
            &["--size", "100000000000"],
            &["bogus"],
            &["--bogus"],
            &["speedup", "extra"],
            &["--limit", "0"],
            &["--messages", "0"],
            &["--capacity", "0"],
            &["--tasks", "0"],
        ],
    );
}

/// 10^6 increments through a lock and an atomic in a shared segment, repeated: exact every time.
#[test]
fn a_million_increments_stay_exact() {
    for _ in 0..fault_rounds(2, 10) {
        let out = std::process::Command::new(BIN)
            .args(["shared-memory", "--workers", "2", "--increments", "500000"])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("result: mutex 1000000, atomic 1000000 (expected 1000000) [ok]"),
            "{stdout}"
        );
    }
}
