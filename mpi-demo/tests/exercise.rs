//! The `reduce` exercise, through the real binary started alone: `exercise list` lists it; the
//! shipped blank fails its check at its `todo!()` with the hint (status 1) and never hangs; the
//! solution passes at 2, 3 and 4 ranks, in a tree's rounds; `hint` prints the hint; Ctrl-C
//! or SIGKILL during a check leaves nothing. Every run is bounded and must leave no process or file.

mod support;

use std::time::Duration;
use support::Run;

/// A check starts one child job per team size: a few seconds each on a busy machine.
const CHECK_LIMIT: Duration = Duration::from_secs(120);

/// The `result:` line, joined back from its wrapped lines.
fn result_line(stdout: &str) -> String {
    common::demo::narrate::result_lines(stdout).join("\n")
}

/// `exercise list` (and `exercise` alone) name the exercise first on its line.
#[test]
fn list_names_reduce_first() {
    for args in [&["exercise", "list"][..], &["exercise"]] {
        let (status, stdout, stderr, run) = Run::alone(args).finish(Duration::from_secs(30));
        assert!(status.success(), "{args:?}: {status}\n{stderr}");
        let firsts: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(firsts, ["reduce"], "{args:?}:\n{stdout}");
        run.assert_nothing_left(Duration::from_secs(5), "exercise list");
    }
}

/// What a student sees first: the blank's `todo!()` ends the first job at once (through the
/// team's guard), and the check says so, with the place, then the hint; status 1.
#[test]
fn the_unsolved_check_fails_with_its_hint() {
    let (status, stdout, stderr, run) =
        Run::alone(&["exercise", "check", "reduce"]).finish(CHECK_LIMIT);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    let result = result_line(&stdout);
    assert!(
        result.starts_with("result: reduce: 2 ranks: not written yet: not yet implemented")
            && result.contains("(exercises/reduce.rs:")
            && result.ends_with("[FAILED]"),
        "{stdout}"
    );
    assert!(stdout.contains("\nhint (reduce): "), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 100), "{stdout}");
    run.assert_nothing_left(Duration::from_secs(5), "the unsolved check");
}

/// The solution passes at every team size, with the sequential sum on rank 0 in ⌈log2 n⌉
/// rounds, MPI's own reduce agreeing; status 0.
#[cfg(feature = "solutions")]
#[test]
fn the_solution_passes() {
    let (status, stdout, stderr, run) =
        Run::alone(&["exercise", "check", "reduce", "--solution"]).finish(CHECK_LIMIT);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(stdout.contains("== check reduce: "), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 100), "{stdout}");
    let result = result_line(&stdout);
    assert!(
        result.starts_with(
            "result: reduce: 2, 3, 4 ranks: 500500 on rank 0 in 1, 2, 2 rounds, as a tree"
        ) && result.contains("[ok] -- "),
        "{stdout}"
    );
    for ranks in [2, 3, 4] {
        assert!(
            stdout.contains(&format!("{ranks} ranks, mpirun -n {}:", ranks + 1)),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout
            .matches("MPI's reduce (reduce_into_root) gave 500500")
            .count(),
        3,
        "{stdout}"
    );
    run.assert_nothing_left(Duration::from_secs(5), "the solution's check");
}

/// `exercise hint reduce` prints the hint alone, the same text the failed check ends with.
#[test]
fn hint_prints_the_hint() {
    let (status, stdout, _, _run) =
        Run::alone(&["exercise", "hint", "reduce"]).finish(Duration::from_secs(30));
    assert!(status.success());
    assert!(stdout.starts_with("hint (reduce): "), "{stdout}");
    assert!(stdout.contains("me + step < size"), "{stdout}");
}

/// Ctrl-C at any moment of a check (a child job starting, running, ending): the program ends
/// within 2 s and leaves no process, `/dev/shm` entry or file.
#[cfg(feature = "solutions")]
#[test]
fn ctrl_c_during_a_check_leaves_nothing() {
    let rounds = common::testing::fault_rounds(2, 10);
    let args = ["exercise", "check", "reduce", "--solution"];
    common::testing::ctrl_c_anywhere(support::BIN, &args, 4000, rounds);
}

/// SIGKILL of the program during a check: the janitor ends its child job within 1 s and
/// removes the folder; a later run sweeps the rest.
#[cfg(feature = "solutions")]
#[test]
fn a_killed_check_leaves_nothing() {
    let rounds = common::testing::fault_rounds(2, 10);
    let args = ["exercise", "check", "reduce", "--solution"];
    common::testing::parent_killed(support::BIN, &args, 4000, rounds, &["--help"]);
}

/// Handed out without answers (`default = []`): `--solution` is refused, status 2.
#[cfg(not(feature = "solutions"))]
#[test]
fn without_solutions_the_flag_is_refused() {
    common::testing::bad_input(
        support::BIN,
        &[&["exercise", "check", "reduce", "--solution"]],
    );
}
