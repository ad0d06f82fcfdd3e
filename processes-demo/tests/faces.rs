//! What a student sees (issue 15), through the real binary: header = command = file name, no
//! line over 100 characters, a closed stdout ends quietly, a flag that does not apply is refused,
//! and no `result:` line follows an interrupt.

use common::testing::{fault_rounds, random_below};
use processes_demo::{Scenario, FLAGS, TOUR};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_processes-demo");

/// Small knobs, so the whole tour takes about a second.
const QUICK: &[&str] = &["--limit", "20000", "--messages", "2000"];

/// The tour's stdout and stderr, and its exit status.
fn tour() -> (String, String, Option<i32>) {
    let out = Command::new(BIN)
        .args(QUICK)
        .output()
        .expect("the demo starts");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&out.stdout), text(&out.stderr), out.status.code())
}

/// Every header names its command, in the tour's order, and the command's file exists.
#[test]
fn header_names_are_command_names_and_file_names() {
    let (stdout, _, code) = tour();
    assert_eq!(code, Some(0), "{stdout}");
    let headers: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("== ")?.split(':').next())
        .collect();
    let names: Vec<&str> = TOUR.iter().map(|s| s.name()).collect();
    assert_eq!(headers, names);
    for name in names {
        let file = format!(
            "{}/src/{}.rs",
            env!("CARGO_MANIFEST_DIR"),
            name.replace('-', "_")
        );
        assert!(std::path::Path::new(&file).exists(), "{file}");
        let help = Command::new(BIN)
            .args([name, "--help"])
            .output()
            .expect("runs");
        assert!(help.status.success(), "{name} is not a command");
    }
    assert_eq!(Scenario::All.name(), "all");
}

/// No line of the tour, on stdout or stderr, is longer than 100 characters.
#[test]
fn no_tour_line_is_over_100_characters() {
    let (stdout, stderr, _) = tour();
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(
            line.chars().count() <= 100,
            "{} characters: {line}",
            line.chars().count()
        );
    }
}

/// `demo | head -1`: the reader goes after one line (or a few); the demo ends quietly, with
/// status 0 or 141 and nothing on stderr.
#[test]
fn a_closed_stdout_ends_quietly() {
    for round in 0..fault_rounds(3, 20) {
        let mut child = Command::new(BIN)
            .args(QUICK)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the demo starts");
        // `head -1` itself, or a reader that leaves at a random later line.
        let lines = if round == 0 { 1 } else { 1 + random_below(60) };
        let mut reader = BufReader::new(child.stdout.take().expect("piped"));
        for _ in 0..lines {
            reader.read_line(&mut String::new()).expect("a line");
        }
        drop(reader);
        // Dropping the reader closes the pipe, as `head -1` does when it exits.
        let out = child.wait_with_output().expect("the demo ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(141)),
            "status {}; stderr:\n{stderr}",
            out.status
        );
        // Only the crash scenario's deliberate panic may speak (one tidy line), if it ran.
        let noise: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.ends_with("gives up"))
            .collect();
        assert!(noise.is_empty(), "stderr:\n{stderr}");
    }
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
    let rounds = fault_rounds(3, 50);
    let mut interrupted = 0;
    // Aim inside a run as long as this machine takes now: a fixed guess is too long on a quiet
    // machine (every run finishes first) and too short on a busy one.
    let whole = std::time::Instant::now();
    let finished = Command::new(BIN).output().expect("the demo runs");
    assert!(finished.status.success(), "an uninterrupted run passes");
    let aim_ms = (whole.elapsed().as_millis() as u64 * 6 / 10).max(1);
    for round in 0..rounds {
        let dir = std::env::temp_dir().join(format!("faces-{}-{round}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let log = dir.join("log");
        let file = std::fs::File::create(&log).expect("a log file");
        // stdout and stderr into one file, so their order is kept (stdout is line-buffered).
        // The default knobs: a tour long enough for the interrupt to land inside it.
        let mut child = Command::new(BIN)
            .stdout(file.try_clone().expect("a second handle"))
            .stderr(file)
            .spawn()
            .expect("the demo starts");
        // After the first line, the interrupt handler is installed: an interrupt then tests the
        // demo, not the default action of SIGINT.
        common::testing::eventually(Duration::from_secs(5), || {
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)
        });
        std::thread::sleep(Duration::from_millis(random_below(aim_ms)));
        common::demo::sys::send_signal(child.id(), libc::SIGINT).expect("signal sent");
        let status = child.wait().expect("the demo ends");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_dir_all(&dir).ok();
        let Some(at) = text
            .lines()
            .position(|l| l.contains("interrupted by SIGINT"))
        else {
            // Finished first, or interrupted before its handler was installed (default action).
            let early = status.signal() == Some(libc::SIGINT) && text.is_empty();
            assert!(
                status.success() || early,
                "round {round}: no interrupt message:\n{text}"
            );
            continue;
        };
        assert_eq!(status.code(), Some(130), "round {round}:\n{text}");
        interrupted += 1;
        let after: Vec<&str> = text.lines().skip(at).collect();
        assert!(
            !after.iter().any(|l| l.starts_with("result:")),
            "round {round}: a result after the interrupt:\n{text}"
        );
        assert_eq!(
            text.matches("interrupted by").count(),
            text.lines()
                .filter(|l| l.contains("interrupted by"))
                .count(),
            "round {round}: two messages on one line:\n{text}"
        );
    }
    // Interrupts are aimed inside a run: most rounds must have been interrupted.
    assert!(
        interrupted * 2 >= rounds,
        "only {interrupted} of {rounds} rounds were interrupted"
    );
}
