//! What a student sees: names that agree, lines that fit, knobs refused where they do not apply,
//! a closed pipe that ends quietly, and no result line after an interrupt.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

use support::Scratch;

/// The scenario names `--help` lists.
fn commands() -> Vec<String> {
    let output = Scratch::new("help")
        .command(&["--help"])
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&output.stdout).to_string();
    let listed = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands: section")
        .split("Options:")
        .next()
        .expect("text before Options:");
    listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// Every header names its command, each command has a file of the same name, and no line of
/// the tour is wider than 100 columns.
#[test]
fn headers_are_commands_and_files_and_lines_fit() {
    let (out, _) = support::results("faces-tour", &[], 22);
    let commands = commands();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut headers = 0;
    for line in out.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
        let Some(rest) = line.strip_prefix("== ") else {
            continue;
        };
        headers += 1;
        let name = rest.split([' ', ':']).next().expect("a name");
        assert!(
            commands.iter().any(|c| c == name),
            "{name} is not a command: {commands:?}"
        );
        let file = src.join(format!("{}.rs", name.replace('-', "_")));
        assert!(file.exists(), "no {} for header {name}", file.display());
    }
    assert_eq!(headers, 22, "{out}");
}

/// `sync-demo | head -1`: the demo ends by itself, quietly, leaving nothing.
#[test]
fn a_closed_pipe_ends_quietly() {
    let scratch = Scratch::new("head");
    let mut child = scratch
        .command(&["--with", "processes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let pid = child.id();
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("one line");
    // The reader is dropped here, as `head -1` exits: the next write fails with EPIPE.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(
        status.code() == Some(0) || status.code() == Some(141),
        "{status}"
    );
    assert_eq!(stderr, "", "stderr after a closed pipe");
    scratch.assert_nothing_left(pid);
}

/// Runs with `args` and expects exit status 2 and an `error:` line containing `says`.
fn refused(args: &[&str], says: &str) {
    let output = support::run(&format!("refuse-{}", args.join("-")), args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?} ran something");
}

/// A knob that does not apply is refused with the scenarios it applies to.
#[test]
fn knobs_that_do_not_apply_are_refused() {
    // On the tour each knob goes to every scenario that takes it, and must suit each one.
    refused(&["--workers", "3"], "use at least 13");
    refused(&["--workers", "1"], "two workers");
    refused(&["semaphore", "--lines", "3"], "--lines applies to mutex");
    refused(&["deadlock", "--workers", "3"], "not to deadlock");
    refused(
        &["holder-dies", "--steps", "2"],
        "independent-order, agreed-order",
    );
    refused(&["mutex", "--meals", "2"], "dining-philosophers");
    refused(
        &["dining-philosophers", "--with", "processes"],
        "threads only",
    );
    refused(&["deadlock-cures", "--with", "processes"], "threads only");
    refused(
        &["deadlock-cures", "--workers", "3"],
        "not to deadlock-cures",
    );
    refused(&["pool-deadlock", "--workers", "2"], "not to pool-deadlock");
    refused(
        &["condition-variable", "--workers", "3"],
        "not to condition-variable",
    );
    refused(
        &["condition-variable", "--lines", "3"],
        "--lines applies to mutex",
    );
}

/// A value that cannot show the lesson is refused with the reason.
#[test]
fn values_that_cannot_show_the_lesson_are_refused() {
    refused(&["mutex", "--workers", "1"], "two writers");
    refused(&["agreed-order", "--workers", "1"], "two workers");
    refused(&["semaphore", "--workers", "6"], "nothing to limit");
    refused(&["dining-philosophers", "--workers", "40"], "at most 32");
    refused(&["barrier", "--workers", "1"], "two parties");
}

/// A missing TMPDIR is named, in one line, before anything runs: the machine's state, status 71.
#[test]
fn a_missing_tmpdir_is_named() {
    let output = Scratch::new("no-tmp")
        .command(&[])
        .env("TMPDIR", "/nonexistent")
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(71), "{stderr}");
    assert!(stderr.starts_with("error: TMPDIR=/nonexistent"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty());
}

/// Knobs go before or after the scenario's name, and on the tour reach every scenario.
#[test]
fn knobs_go_before_or_after_the_name() {
    let (out, _) = support::results("tour-steps", &["--steps", "2", "--with", "threads"], 12);
    assert_eq!(out.matches("workers=4 steps=2").count(), 2, "{out}");
    support::results(
        "before",
        &["--workers", "3", "--with", "threads", "mutex"],
        1,
    );
    support::results(
        "after",
        &["mutex", "--with", "threads", "--workers", "3"],
        1,
    );
}

/// SIGINT at a random moment: no `result:` line comes after the interrupt's message. Stdout and
/// stderr share one pipe, so their order in it is the order the demo wrote them.
#[test]
fn no_result_after_an_interrupt() {
    let rounds = common::testing::fault_rounds(3, 50);
    let mut cut_short = 0;
    for round in 0..rounds {
        let scratch = Scratch::new(&format!("int-result-{round}"));
        let (reader, writer) = std::io::pipe().expect("a pipe");
        let mut child = scratch
            .command(&["agreed-order"])
            .stdout(writer.try_clone().expect("clone the pipe"))
            .stderr(writer)
            .spawn()
            .expect("start the demo");
        let pid = child.id();
        // The command, a temporary, is gone: only the demo holds the write end now.
        let at = Duration::from_millis(common::testing::random_below(400));
        let collector = std::thread::spawn(move || {
            let mut all = String::new();
            let mut reader = reader;
            let _ = reader.read_to_string(&mut all);
            all
        });
        std::thread::sleep(at);
        common::demo::sys::send_signal(pid, libc::SIGINT).expect("send SIGINT");
        let status = child.wait().expect("wait for the demo");
        let all = collector.join().expect("the collector");
        // 130 from the demo's handler; killed by SIGINT itself if it came before the handler.
        let by_sigint =
            std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGINT);
        assert!(
            status.code() == Some(130) || status.success() || by_sigint,
            "round {round}: {status}\n{all}"
        );
        if let Some(at) = all.find("interrupted") {
            cut_short += 1;
            assert!(
                !all[at..].contains("result:"),
                "round {round}: a result after the interrupt:\n{all}"
            );
        }
        scratch.assert_nothing_left(pid);
    }
    eprintln!("{cut_short} of {rounds} runs were interrupted before they ended");
    // The check means something only if interrupts land mid-run: most of them should.
    if rounds >= 10 {
        assert!(cut_short >= rounds / 4, "{cut_short} of {rounds}");
    }
}

/// A run of more than a few seconds says how far it is, then still ends with its result.
#[test]
fn a_long_run_shows_progress() {
    let (out, _) = support::results(
        "progress",
        &[
            "mutex",
            "--with",
            "threads",
            "--workers",
            "32",
            "--lines",
            "50",
        ],
        1,
    );
    assert!(out.contains(" of 1600 lines written after "), "{out}");
}

/// Every help screen fits in 100 columns, as the scenarios' lines do.
#[test]
fn help_fits_in_100_columns() {
    common::testing::faces::help_fits(env!("CARGO_BIN_EXE_sync-demo"), 100);
}

/// `| head` at any line of the new scenarios, both variants: status 0 or 141, nothing on stderr.
#[test]
fn a_closed_pipe_ends_the_new_scenarios_quietly() {
    for scenario in ["condition-variable", "classics"] {
        common::testing::faces::closed_stdout_ends_quietly(
            env!("CARGO_BIN_EXE_sync-demo"),
            &[scenario],
            common::testing::fault_rounds(3, 20),
            |_| false,
        );
    }
}
