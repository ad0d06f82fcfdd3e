//! The workspace's fault suite (see "Reliability" in the root README), for this crate: Ctrl-C
//! at random moments, the demo SIGKILLed, and bad command lines. Quick by default; run the full
//! counts with `FAULTS_FULL=1 cargo test -p pools-demo --test faults`.

use common::testing::{bad_input, ctrl_c_anywhere, fault_rounds, parent_killed};

const BIN: &str = env!("CARGO_BIN_EXE_pools-demo");

/// About how long a run of every scenario takes here (debug build): interrupts land within it.
const RUN_MS: u64 = 5000;

/// Ctrl-C anywhere in a run of every scenario: exit within 2 s, nothing left behind.
#[test]
fn ctrl_c_anywhere_leaves_nothing() {
    ctrl_c_anywhere(BIN, &[], RUN_MS, fault_rounds(3, 20));
}

/// The demo SIGKILLed mid-run: its children die within 1 s, and the next run sweeps what it
/// could not clean up itself.
#[test]
fn parent_killed_leaves_nothing() {
    parent_killed(BIN, &[], RUN_MS, fault_rounds(2, 10), &["same-interface"]);
}

/// Bad command lines: exit status 2 and a one-line message naming the problem, never a panic.
#[test]
fn bad_input_gets_status_2_and_a_message() {
    bad_input(
        BIN,
        &[
            &["--workers", "0"],
            &["--workers", "-3"],
            &["--workers", "x"],
            &["--workers", "99999"],
            &["--chunk", "0"],
            &["--chunk", "99999999999"],
            &["bogus"],
            &["--bogus"],
            &["timeline", "--svg", "/proc/forbidden"],
            &["timeline", "--svg"],
            &["timeline", "extra"],
            &["--svg", "/etc/passwd", "timeline"],
        ],
    );
}
