//! What a student sees (issue 15), through the real binary: header = command = file name, no
//! line over 100 characters, a closed stdout ends quietly, a flag that does not apply is refused,
//! and no `result:` line follows an interrupt.

use common::testing::fault_rounds;
use processes_demo::{Scenario, FLAGS, TOUR};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_processes-demo");

/// Small knobs, so the whole tour takes about a second.
const QUICK: &[&str] = &["--limit", "20000", "--messages", "2000"];

/// Every header names its command, in the tour's order, and the command's file exists.
#[test]
fn header_names_are_command_names_and_file_names() {
    let names: Vec<&str> = TOUR.iter().map(|s| s.name()).collect();
    common::testing::faces::headers_are_commands_and_files(
        BIN,
        QUICK,
        &names,
        env!("CARGO_MANIFEST_DIR"),
    );
    assert_eq!(Scenario::All.name(), "all");
}

/// No line of the tour, on stdout or stderr, is longer than 100 characters.
#[test]
fn no_tour_line_is_over_100_characters() {
    common::testing::faces::no_line_over(BIN, QUICK, 100);
}

/// Every help screen fits in 100 columns too.
#[test]
fn help_fits_in_100_columns() {
    common::testing::faces::help_fits(BIN, 100);
}

/// `demo | head -1`: the reader goes after one line (or a few); the demo ends quietly, with
/// status 0 or 141 and nothing on stderr.
#[test]
fn a_closed_stdout_ends_quietly() {
    // Only the crash scenario's deliberate panic may speak (one tidy line), if it ran.
    common::testing::faces::closed_stdout_ends_quietly(
        BIN,
        QUICK,
        fault_rounds(3, 20),
        |l: &str| l.ends_with("gives up"),
    );
}

/// A knob given for a scenario it does not change is refused with status 2, naming where it
/// applies; where it applies, it is accepted.
#[test]
fn flags_that_do_not_apply_are_refused() {
    for (flag, applies) in FLAGS {
        let value = if *flag == "--limit" { "20000" } else { "3" };
        let other = TOUR.iter().map(|s| s.name()).find(|n| !applies.contains(n));
        if let Some(other) = other {
            let out = Command::new(BIN)
                .args([other, flag, value])
                .output()
                .expect("runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{other} {flag}: {stderr}");
            assert!(
                stderr.starts_with("error: ") && stderr.contains(applies[0]),
                "{stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
        // Before or after the scenario's name: the same check.
        let out = Command::new(BIN)
            .args([flag, value, "crash"])
            .output()
            .expect("runs");
        if !applies.contains(&"crash") {
            assert_eq!(out.status.code(), Some(2), "{flag} before crash");
        }
    }
}

/// Interrupted at a random moment: no `result:` line after the interrupt message (a result
/// seen then would be the interrupt's doing, not the scenario's).
#[test]
fn no_result_line_after_an_interrupt() {
    // The default knobs: a tour long enough for the interrupt to land inside it.
    common::testing::faces::no_result_after_interrupt(BIN, &[], fault_rounds(3, 50));
}
