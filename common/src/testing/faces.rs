//! What a student sees, checked through a demo's real binary: header = command = file name, no
//! line over 100 characters, a closed stdout ends quietly, and no `result:` line follows an
//! interrupt. The demos' `tests/faces.rs` run these.

use super::{eventually, random_below};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tour (`bin args`): its stdout, stderr and exit status.
fn tour(bin: &str, args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("the demo starts");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&out.stdout), text(&out.stderr), out.status.code())
}

/// The tour passes, its headers (`== name: ...`) are `names` in order, each name is a command
/// (`bin name --help` succeeds) and has its file `src/<name with _>.rs` under `manifest_dir`.
///
/// # Panics
/// When any of that does not hold (this is a test helper).
pub fn headers_are_commands_and_files(
    bin: &str,
    args: &[&str],
    names: &[&str],
    manifest_dir: &str,
) {
    let (stdout, _, code) = tour(bin, args);
    assert_eq!(code, Some(0), "{stdout}");
    let headers: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("== ")?.split(':').next())
        .collect();
    assert_eq!(headers, names);
    for name in names {
        let file = format!("{manifest_dir}/src/{}.rs", name.replace('-', "_"));
        assert!(std::path::Path::new(&file).exists(), "{file}");
        let help = Command::new(bin)
            .args([name, "--help"])
            .output()
            .expect("runs");
        assert!(help.status.success(), "{name} is not a command");
    }
}

/// No line of the tour, on stdout or stderr, is longer than `width` characters.
///
/// # Panics
/// At the first line that is (this is a test helper).
pub fn no_line_over(bin: &str, args: &[&str], width: usize) {
    let (stdout, stderr, _) = tour(bin, args);
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(
            line.chars().count() <= width,
            "{} characters: {line}",
            line.chars().count()
        );
    }
}

/// `demo | head -1`, and readers that leave at a random later line, `rounds` times: the demo ends
/// with status 0 or 141, and every stderr line is one that `allowed` accepts (none, for most).
///
/// # Panics
/// When a round breaks the rule (this is a test helper).
pub fn closed_stdout_ends_quietly(
    bin: &str,
    args: &[&str],
    rounds: usize,
    allowed: impl Fn(&str) -> bool,
) {
    for round in 0..rounds {
        let mut child = Command::new(bin)
            .args(args)
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
        // Dropping the reader closes the pipe, as `head -1` does when it exits.
        drop(reader);
        let out = child.wait_with_output().expect("the demo ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(141)),
            "round {round}: status {}; stderr:\n{stderr}",
            out.status
        );
        let noise: Vec<&str> = stderr.lines().filter(|l| !allowed(l)).collect();
        assert!(noise.is_empty(), "round {round}: stderr:\n{stderr}");
    }
}

/// SIGINT at a random moment inside a run, `rounds` times: the demo ends with 130 (or 0 if it
/// finished first), says so on whole lines, and prints no `result:` line after the interrupt.
/// Returns how many rounds were really interrupted; at least half must be.
///
/// The moment is aimed inside a run as long as this machine takes now (a fixed guess is too long
/// on a quiet machine, where every run finishes first, and too short on a busy one), and after
/// the demo's first line, by when its interrupt handler is installed.
///
/// # Panics
/// When a round breaks the rule (this is a test helper).
pub fn no_result_after_interrupt(bin: &str, args: &[&str], rounds: usize) -> usize {
    let whole = Instant::now();
    let finished = Command::new(bin)
        .args(args)
        .output()
        .expect("the demo runs");
    assert!(finished.status.success(), "an uninterrupted run passes");
    let aim_ms = (whole.elapsed().as_millis() as u64 * 6 / 10).max(1);
    let mut interrupted = 0;
    for round in 0..rounds {
        let dir = std::env::temp_dir().join(format!("faces-{}-{round}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let log = dir.join("log");
        let file = std::fs::File::create(&log).expect("a log file");
        // stdout and stderr into one file, so their order is kept (stdout is line-buffered).
        let mut child = Command::new(bin)
            .args(args)
            .stdout(file.try_clone().expect("a second handle"))
            .stderr(file)
            .spawn()
            .expect("the demo starts");
        eventually(Duration::from_secs(5), || {
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)
        });
        std::thread::sleep(Duration::from_millis(random_below(aim_ms)));
        crate::demo::sys::send_signal(child.id(), libc::SIGINT).expect("signal sent");
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
        assert!(
            !text.lines().skip(at).any(|l| l.starts_with("result:")),
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
    assert!(
        interrupted * 2 >= rounds,
        "only {interrupted} of {rounds} rounds were interrupted"
    );
    interrupted
}

/// Every help screen (`bin --help` and `bin <command> --help` for each command it lists) fits
/// in `width` columns, as every other line a demo prints does.
///
/// # Panics
/// At the first line that does not (this is a test helper).
pub fn help_fits(bin: &str, width: usize) {
    let (top, _, code) = tour(bin, &["--help"]);
    assert_eq!(code, Some(0), "{bin} --help");
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(
        !commands.is_empty(),
        "{bin} --help lists no commands:\n{top}"
    );
    for command in std::iter::once(None).chain(commands.into_iter().map(Some)) {
        let args: Vec<&str> = command.into_iter().chain(["--help"]).collect();
        let (help, _, _) = tour(bin, &args);
        for line in help.lines() {
            let wide = line.chars().count();
            assert!(wide <= width, "{args:?}: {wide} characters: {line}");
        }
    }
}
