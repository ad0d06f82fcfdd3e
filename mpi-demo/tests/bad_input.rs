//! Bad input ends with exit status 2 and a one-line `error:` message, alone and under mpirun.

mod support;

use std::time::Duration;
use support::{Run, BIN};

/// Zero workers, too many, an unknown scenario, an unknown flag; an unknown exercise, and
/// `--workers` given to `exercise`.
#[test]
fn bad_arguments_exit_2_with_one_line() {
    common::testing::bad_input(
        BIN,
        &[
            &["--workers", "0"],
            &["--workers", "17"],
            &["no-such-scenario"],
            &["latency", "--tasks", "5"],
            &["ring-deadlock", "--tasks", "5"],
            &["collectives", "--hang"],
            &["abort-on-panic-job", "--panicker", "nobody"],
            &["exercise", "check", "no-such-exercise"],
            &["exercise", "hint", "no-such-exercise"],
            &["exercise", "check"],
            &["exercise", "check", "reduce", "extra"],
            &["exercise", "list", "--solution"],
            &["--workers", "2", "exercise", "check", "reduce"],
        ],
    );
}

fn first_line_under_mpirun(ranks: usize, args: &[&str]) -> (Option<i32>, String) {
    let (status, _, stderr, _run) = Run::mpirun(ranks, args).finish(Duration::from_secs(30));
    (
        status.code(),
        stderr.lines().next().unwrap_or_default().to_string(),
    )
}

/// A single rank has no worker to serve it: the message says what to do instead.
#[test]
fn one_rank_under_mpirun_says_what_to_do() {
    let (code, first) = first_line_under_mpirun(1, &["same-interface"]);
    assert_eq!(code, Some(2), "{first}");
    assert!(
        first.starts_with("error: under mpirun with 1 rank"),
        "{first}"
    );
    assert!(first.contains("mpirun -n 3"), "{first}");
}

/// Under mpirun the ranks are mpirun's `-n`: `--workers` does not apply, and is refused.
#[test]
fn workers_flag_is_refused_under_mpirun() {
    let (code, first) = first_line_under_mpirun(3, &["same-interface", "--workers", "2"]);
    assert_eq!(code, Some(2), "{first}");
    assert!(
        first.starts_with("error: --workers does not apply under mpirun"),
        "{first}"
    );
}

/// `--help` lists every scenario.
#[test]
fn help_lists_every_scenario() {
    let (status, stdout, _, _run) = Run::alone(&["--help"]).finish(Duration::from_secs(30));
    assert!(status.success());
    for scenario in [
        "same-interface",
        "speedup",
        "latency",
        "batch-size",
        "dead-rank",
        "across-hosts",
        "collectives",
        "ring-deadlock",
        "abort-on-panic",
    ] {
        assert!(
            stdout.contains(scenario),
            "--help does not list {scenario}:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("pipe-echo"),
        "hidden subcommands stay hidden"
    );
    for line in stdout.lines() {
        assert!(
            line.chars().count() <= 100,
            "--help line over 100 characters: {line}"
        );
    }
}
