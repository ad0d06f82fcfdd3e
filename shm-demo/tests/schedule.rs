//! `lost-update --schedule`: the plain way's steps forced into an order, the lost updates
//! predicted before the run, and the run equal to the prediction, every time.

use common::demo::narrate::result_lines;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_shm-demo");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("shm-demo runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Each schedule's prediction, printed before the run, is what the run then loses, 5 of 5.
#[test]
fn the_prediction_comes_true() {
    let cases = [
        (
            "2",
            "rr",
            "predicted total 500, lost 500",
            "plain 500 (lost 500, predicted 500)",
        ),
        (
            "2",
            "0011",
            "predicted total 1000, lost 0",
            "plain 1000 (lost 0, predicted 1000)",
        ),
        (
            "2",
            "001",
            "predicted total 750, lost 250",
            "plain 750 (lost 250, predicted 750)",
        ),
        (
            "3",
            "rr",
            "predicted total 500, lost 1000",
            "plain 500 (lost 1000, predicted 500)",
        ),
    ];
    for (workers, schedule, before, after) in cases {
        for round in 0..5 {
            let args = ["lost-update", "--workers", workers, "--increments", "500"];
            let (code, out, err) = run(&[&args[..], &["--schedule", schedule]].concat());
            assert_eq!(code, Some(0), "{schedule}, round {round}: {out}{err}");
            let predicted = out.find(before).expect("the prediction is printed");
            let plain = out.find("plain: total").expect("the plain way ran");
            assert!(
                predicted < plain,
                "the prediction comes before the run: {out}"
            );
            let result = result_lines(&out).join("");
            assert!(
                result.contains(after),
                "{schedule}, round {round}: {result}"
            );
        }
    }
}

/// Schedules that could not run are refused before anything starts.
#[test]
fn schedules_that_cannot_run_are_refused() {
    let cases: [(&[&str], &str); 4] = [
        (&["--schedule", "0"], "never names child 1"),
        (&["--schedule", "012"], "names child 2"),
        (&["--schedule", "0x1"], "give rr, free, or child numbers"),
        (
            &["--schedule", "rr", "--increments", "1000000"],
            "--increments 40000 or fewer",
        ),
    ];
    for (extra, words) in cases {
        let args = [&["lost-update", "--workers", "2"][..], extra].concat();
        let (code, out, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(
            err.starts_with("error: ") && err.contains(words),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = run(&["separate-memory", "--schedule", "rr"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--schedule applies to lost-update"), "{err}");
}
