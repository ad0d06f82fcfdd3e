//! The workspace's fault suite (see "Reliability" in the root README), for this crate: Ctrl-C
//! at random moments, the demo SIGKILLed, and bad command lines. Quick by default; run the full
//! counts with `FAULTS_FULL=1 cargo test -p sync-demo --test faults`.

use common::testing::{bad_input, ctrl_c_anywhere, fault_rounds, parent_killed};

const BIN: &str = env!("CARGO_BIN_EXE_sync-demo");

/// About how long a run of every scenario takes here (debug build): interrupts land within it.
const RUN_MS: u64 = 3300;

/// Ctrl-C anywhere in a run of every scenario: exit within 2 s, nothing left behind.
#[test]
fn ctrl_c_anywhere_leaves_nothing() {
    ctrl_c_anywhere(BIN, &[], RUN_MS, fault_rounds(3, 20));
}

/// The demo SIGKILLed mid-run: its children die within 1 s, and the next run sweeps what it
/// could not clean up itself.
#[test]
fn parent_killed_leaves_nothing() {
    parent_killed(
        BIN,
        &[],
        RUN_MS,
        fault_rounds(2, 10),
        &["mutex", "--with", "threads"],
    );
}

/// Bad command lines: exit status 2 and a one-line message naming the problem, never a panic.
#[test]
fn bad_input_gets_status_2_and_a_message() {
    bad_input(
        BIN,
        &[
            &["--with", "nobody"],
            &["--with"],
            &["bogus"],
            &["--bogus"],
            &["mutex", "--workers", "0"],
            &["mutex", "--lines", "0"],
            &["semaphore", "--limits", "0", "1", "1"],
            &["semaphore", "--limits", "1", "2"],
            &["semaphore", "--work-ms", "-1"],
            &["deadlock", "--philosophers", "1"],
            &["deadlock", "--meals", "0"],
            &["classics", "--workers", "0"],
            &["barrier", "--workers", "1"],
            &["barrier", "--workers", "33"],
            &["pool-deadlock", "--workers", "2"],
            &["deadlock-cures", "--with", "processes"],
            &["condition-variable", "--workers", "3"],
            &["condition-variable", "--steps", "2"],
            &["condition-variable", "--with", "fibers"],
            &["classics", "--workers", "65"],
        ],
    );
}

/// The scenarios whose children share a segment (condition variables, turns, a barrier, a
/// ring), with about how long each takes here (debug build): interrupts land within it.
const SEGMENT_RUNS: [(&[&str], u64); 2] = [
    (&["condition-variable", "--with", "processes"], 45),
    (&["classics", "--with", "processes"], 75),
];

/// Ctrl-C anywhere in them: exit within 2 s, no child, segment or file left behind.
#[test]
fn ctrl_c_in_the_segment_scenarios_leaves_nothing() {
    for (args, run_ms) in SEGMENT_RUNS {
        ctrl_c_anywhere(BIN, args, run_ms, fault_rounds(3, 20));
    }
}

/// The demo SIGKILLed in them: its children (asleep on a futex, or waiting for their turn) die
/// within 1 s, and the next run sweeps the segment.
#[test]
fn parent_killed_in_the_segment_scenarios_leaves_nothing() {
    for (args, run_ms) in SEGMENT_RUNS {
        parent_killed(
            BIN,
            args,
            run_ms,
            fault_rounds(2, 10),
            &["mutex", "--with", "threads"],
        );
    }
}
