//! Every shipped (unsolved) exercise fails its check with its hint, 10 of 10 times, the races
//! included; every solution passes 10 of 10 times. The runs are small (a second or so each).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_exercises");

const NAMES: [&str; 7] = [
    "torn-lines",
    "semaphore",
    "deadlock",
    "lost-update",
    "pool-map",
    "pipeline",
    "barrier",
];

/// Runs the binary and returns its exit code and stdout.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The `result:` line of a check, joined back from its wrapped lines.
fn result_line(stdout: &str) -> String {
    common::demo::narrate::result_lines(stdout).join("\n")
}

/// `list` names every exercise, one a line, its name first.
#[test]
fn list_names_every_exercise_first() {
    let (code, out) = run(&["list"]);
    assert_eq!(code, Some(0));
    let firsts: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(firsts, NAMES, "{out}");
}

/// What a student sees first: each unsolved check fails (exit 1), says what is wrong in its
/// result line, and prints the hint, every one of 10 runs.
#[test]
fn every_unsolved_check_fails_with_its_hint_10_of_10() {
    for name in NAMES {
        for round in 0..10 {
            let (code, out) = run(&["check", name]);
            assert_eq!(code, Some(1), "{name}, round {round}: {out}");
            assert!(
                result_line(&out).ends_with("[FAILED]"),
                "{name}, round {round}: {out}"
            );
            assert!(out.contains(&format!("hint ({name}): ")), "{name}: {out}");
        }
    }
}

/// The races fail in exactly the same way every time under `rr`: the forced schedule, not
/// luck, decides. These are the exact lines for two workers.
#[test]
fn the_races_replay_exactly() {
    let expected = [
        (
            "torn-lines",
            "line 0 is torn: \"[thread 0] line 0: [thread 1] line 0: alpha alpha beta beta ...\"",
        ),
        ("lost-update", "2 workers: total 5 of 10, 5 lost"),
        (
            "deadlock",
            "deadlock: worker 0 waits for account 1, held by the next; worker 1 waits for account 0",
        ),
    ];
    for (name, why) in expected {
        for round in 0..10 {
            let (_, out) = run(&["check", name]);
            let result = result_line(&out);
            assert!(result.contains(why), "{name}, round {round}: {result}");
        }
    }
}

/// A schedule in which no update can be lost (each worker's load and store back to back)
/// passes the unfixed `lost-update`; one that interleaves them loses exactly what it must.
/// The first names all four workers: with `0011`, workers 2 and 3 of the 4-worker run get no
/// turn, run free once 0 and 1 are done, and may lose updates to each other by chance.
#[test]
fn a_listed_schedule_decides_what_is_lost() {
    let (code, out) = run(&["check", "lost-update", "--schedule", "00112233"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["check", "lost-update", "--schedule", "01"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(result_line(&out).contains("total 5 of 10, 5 lost"), "{out}");
}

/// Every solution passes, 10 of 10 times.
#[cfg(feature = "solutions")]
#[test]
fn every_solution_passes_10_of_10() {
    for round in 0..10 {
        let (code, out) = run(&["check", "--all", "--solution"]);
        assert_eq!(code, Some(0), "round {round}: {out}");
        let results = common::demo::narrate::result_lines(&out);
        assert_eq!(results.len(), NAMES.len(), "{out}");
        assert!(results.iter().all(|r| r.contains("[ok]")), "{out}");
    }
}

/// `hint` prints the hint alone; the check's hint is the same text.
#[test]
fn hint_prints_the_hint() {
    for name in NAMES {
        let (code, out) = run(&["hint", name]);
        assert_eq!(code, Some(0));
        assert!(out.starts_with(&format!("hint ({name}): ")), "{out}");
    }
}
