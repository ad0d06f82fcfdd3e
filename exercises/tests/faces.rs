//! What a student sees: lines that fit, bad input refused in one line, a closed pipe that
//! ends quietly, and nothing left behind after Ctrl-C or a killed run.

const BIN: &str = env!("CARGO_BIN_EXE_exercises");

#[test]
fn no_line_over_100_columns() {
    common::testing::faces::no_line_over(BIN, &["list"], 100);
    common::testing::faces::no_line_over(BIN, &["check", "--all"], 100);
    #[cfg(feature = "solutions")]
    common::testing::faces::no_line_over(BIN, &["check", "--all", "--solution"], 100);
    common::testing::faces::help_fits(BIN, 100);
}

#[test]
fn bad_input_is_one_line_and_status_2() {
    common::testing::bad_input(
        BIN,
        &[
            &["check"],
            &["check", "no-such-exercise"],
            &["hint", "no-such-exercise"],
            &["check", "semaphore", "--schedule", "rr"],
            &["check", "torn-lines", "--schedule", "01x"],
            &["check", "torn-lines", "--schedule", ""],
            &["check", "torn-lines", "--all"],
            &["check", "torn-lines", "extra"],
            &["list", "--bogus"],
            &["bogus"],
        ],
    );
}

/// A run that passes (status 0 when read to its end), read only in part: 0 or 141, quietly.
#[cfg(feature = "solutions")]
#[test]
fn a_closed_pipe_ends_quietly() {
    let args = ["check", "--all", "--solution"];
    common::testing::faces::closed_stdout_ends_quietly(BIN, &args, 3, |_| false);
}

#[test]
fn ctrl_c_anywhere_leaves_nothing() {
    let rounds = common::testing::fault_rounds(3, 20);
    common::testing::ctrl_c_anywhere(BIN, &["check", "--all", "--solution"], 800, rounds);
}

#[test]
fn a_killed_run_leaves_nothing() {
    let rounds = common::testing::fault_rounds(2, 10);
    let args = ["check", "--all", "--solution"];
    common::testing::parent_killed(BIN, &args, 800, rounds, &["list"]);
}
