//! What a student sees: names that agree, lines that fit, knobs refused where they do not apply,
//! a closed pipe that ends quietly, a small `/dev/shm` handled, no result after an interrupt.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A quick tour: every scenario, small sizes.
const QUICK: &[&str] = &[
    "--mib",
    "4",
    "--rounds",
    "1",
    "--width",
    "64",
    "--height",
    "48",
    "--increments",
    "100000",
];

/// Every header names its command, each command has a file of the same name, and no line of
/// the tour is wider than 100 columns.
#[test]
fn headers_are_commands_and_files_and_lines_fit() {
    let out = support::run_ok("faces-tour", QUICK);
    let help = support::run("faces-help", &["--help"]);
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let listed = help.split("Commands:").nth(1).expect("a Commands: section");
    let commands: Vec<&str> = listed
        .split("Options:")
        .next()
        .expect("text before Options:")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
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
            commands.contains(&name),
            "{name} is not a command: {commands:?}"
        );
        let file = src.join(format!("{}.rs", name.replace('-', "_")));
        assert!(file.exists(), "no {} for header {name}", file.display());
    }
    assert_eq!(headers, 5, "{out}");
}

/// `shm-demo | head -1`: the demo ends by itself, quietly, leaving nothing.
#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = support::demo("faces-head")
        .args(QUICK)
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
    let mut pipe = child.stderr.take().expect("piped");
    pipe.read_to_string(&mut stderr).expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(
        status.code() == Some(0) || status.code() == Some(141),
        "{status}"
    );
    assert_eq!(stderr, "", "stderr after a closed pipe");
    support::assert_nothing_left("faces-head", pid);
}

/// Runs with `args` (and `env`) and expects exit status 2 (bad input; 71 when `env` is set: the
/// machine's state) and one `error:` line with `says`.
fn refused(args: &[&str], env: Option<(&str, &str)>, says: &str) {
    let mut cmd = support::demo("faces-refused");
    cmd.args(args);
    if let Some((key, value)) = env {
        cmd.env(key, value);
    }
    let output = cmd.output().expect("run the demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let status = if env.is_some() { 71 } else { 2 };
    assert_eq!(output.status.code(), Some(status), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?} ran something");
}

/// A knob that does not apply is refused with the scenarios it applies to; a value that cannot
/// show the lesson is refused with the reason; a missing TMPDIR is named.
#[test]
fn what_cannot_apply_is_refused() {
    refused(
        &["separate-memory", "--workers", "3"],
        None,
        "not to separate-memory",
    );
    refused(
        &["cleanup", "--mib", "4"],
        None,
        "--mib applies to copy-vs-share",
    );
    refused(&["lost-update", "--width", "64"], None, "shared-segment");
    refused(&["--workers", "1", "lost-update"], None, "two writers");
    refused(&["--workers", "1"], None, "two writers");
    refused(&[], Some(("TMPDIR", "/nonexistent")), "TMPDIR=/nonexistent");
    refused(
        &["lost-update", "--workers", "4", "--increments", "50000000"],
        None,
        "under one lock",
    );
}

/// The whole tour with a 64 MiB `/dev/shm` (a container's default), in a private mount
/// namespace: every scenario passes or scales down, and nothing is left in that `/dev/shm`.
#[test]
fn the_tour_fits_a_64_mib_dev_shm() {
    let probe = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64m tmpfs /dev/shm",
        ])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: no private mount namespace here (unshare -m and mount need root)");
        return;
    }
    let script = "mount -t tmpfs -o size=64m tmpfs /dev/shm || exit 99; \
                  \"$0\" \"$@\"; rc=$?; echo \"left in /dev/shm: [$(ls -A /dev/shm)]\"; exit $rc";
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", script, env!("CARGO_BIN_EXE_shm-demo")])
        .env(support::MARKER, support::marker_value("faces-64"))
        .output()
        .expect("run the tour in a namespace");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{out}\n{err}", output.status);
    let results = support::results(&out);
    assert_eq!(results.len(), 5, "{out}");
    assert!(results.iter().all(|r| r.contains("[ok]")), "{out}");
    assert!(out.contains("scaled down to"), "{out}");
    assert!(out.contains("left in /dev/shm: []"), "{out}");
    assert!(!out.lines().any(|l| l.chars().count() > 100), "{out}");
}

/// SIGINT at a random moment: no `result:` line comes after the interrupt's message. Stdout and
/// stderr share one pipe, so their order in it is the order the demo wrote them.
#[test]
fn no_result_after_an_interrupt() {
    let rounds = common::testing::fault_rounds(3, 50);
    let mut cut_short = 0;
    for round in 0..rounds {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        // The default tour with less to copy: about a second here, long enough to cut short.
        let mut child = support::demo("faces-int")
            .args(["--mib", "16"])
            .stdout(writer.try_clone().expect("clone the pipe"))
            .stderr(writer)
            .spawn()
            .expect("start the demo");
        let pid = child.id();
        let at = Duration::from_millis(common::testing::random_below(1000));
        let collector = std::thread::spawn(move || {
            let (mut all, mut reader) = (String::new(), reader);
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
        support::assert_nothing_left("faces-int", pid);
    }
    eprintln!("{cut_short} of {rounds} runs were interrupted before they ended");
    // The check means something only if interrupts land mid-run: most of them should.
    if rounds >= 10 {
        assert!(cut_short >= rounds / 4, "{cut_short} of {rounds}");
    }
}

/// Every help screen fits in 100 columns, as the scenarios' lines do.
#[test]
fn help_fits_in_100_columns() {
    common::testing::faces::help_fits(env!("CARGO_BIN_EXE_shm-demo"), 100);
}
