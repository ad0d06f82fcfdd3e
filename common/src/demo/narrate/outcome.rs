//! How a scenario ends: the checked `result:` line, a failed check, an interrupt, tidy panics.

use super::wrap::say_indented;
use std::fmt::Display;
use std::io::{self, Write};

/// A scenario's invariant did not hold. Demos turn this into a non-zero exit status.
#[derive(Debug)]
pub struct CheckFailed(pub String);

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "check failed: {}", self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// Runs `f` with a panic hook that prints one tidy line per panic, `<tag> panicked at
/// <file>:<line>: <message>`, whatever `RUST_BACKTRACE` says; the previous hook is restored
/// afterwards. For scenarios that panic on purpose: the lesson is that the panic happened and
/// what the program saw, not Rust's backtrace. `tag` is called in the panicking thread.
///
/// ```
/// let caught = common::demo::narrate::tidy_panics(|| "[thread 1]".to_string(), || {
///     std::thread::spawn(|| panic!("on purpose")).join().is_err()
/// });
/// assert!(caught);
/// ```
pub fn tidy_panics<R>(
    tag: impl Fn() -> String + Send + Sync + 'static,
    f: impl FnOnce() -> R,
) -> R {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = format!("{} panicked{at}: {message}\n", tag());
        // One write, so the line stays whole beside other processes' output.
        let _ = io::stderr().write_all(line.as_bytes());
    }));
    let value = f();
    drop(std::panic::take_hook());
    std::panic::set_hook(previous);
    value
}

/// The program is being interrupted: a scenario stops without a result line.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Prints the closing line of a scenario and turns a failed check into an error.
///
/// The line reads `result: <what> [ok] -- <lesson>`, or `result: <what> [FAILED]`, wrapped onto
/// indented lines past [`WIDTH`](super::WIDTH) characters. Tests look for the `result:` line, so every
/// scenario ends with exactly one, unless the program is being interrupted
/// ([`crate::cleanup::interrupted_by`]): then nothing is printed, because whatever the scenario
/// saw (a killed child, a short count) is the interrupt's doing, not its result.
///
/// ```
/// let mut out = Vec::new();
/// common::demo::narrate::conclude(&mut out, 4 == 2 + 2, "4 (expected 4)", "addition works").unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "result: 4 (expected 4) [ok] -- addition works\n");
/// ```
///
/// # Errors
/// An `io::Error` wrapping [`CheckFailed`] when `passed` is false, one wrapping [`Interrupted`]
/// during an interrupt, or the writer's error. All end a demo with a non-zero exit status.
pub fn conclude(
    out: &mut impl Write,
    passed: bool,
    what: impl Display,
    lesson: &str,
) -> io::Result<()> {
    if !passed {
        // A failure seen at the moment of an interrupt is most likely its doing (a child killed
        // by the handler); give the handler a moment to say so before blaming the scenario.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if crate::cleanup::interrupted_by().is_some() {
        return Err(io::Error::other(Interrupted));
    }
    if passed {
        say_result(out, &format!("result: {what} [ok] -- {lesson}"))
    } else {
        say_result(out, &format!("result: {what} [FAILED]"))?;
        Err(io::Error::other(CheckFailed(what.to_string())))
    }
}

/// The `result:` lines of a demo's output, each joined back with its continuation lines, as
/// [`conclude`] wrote them before wrapping: what tests compare.
///
/// ```
/// let text = "== x ==\nresult: a long\n        line [ok] -- done\nother\n";
/// assert_eq!(common::demo::narrate::result_lines(text), vec!["result: a long line [ok] -- done"]);
/// ```
pub fn result_lines(text: &str) -> Vec<String> {
    let mut results: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.starts_with("result:") {
            results.push(line.to_string());
            open = true;
        } else if open && line.starts_with("        ") {
            if let Some(last) = results.last_mut() {
                last.push(' ');
                last.push_str(line.trim_start());
            }
        } else {
            open = false;
        }
    }
    results
}

/// A `result:` line, its continuation lines indented under the text after `result: `.
fn say_result(out: &mut impl Write, text: &str) -> io::Result<()> {
    say_indented(out, text, "        ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::narrate::WIDTH;

    #[test]
    fn a_failed_check_is_an_error_and_says_so() {
        let mut out = Vec::new();
        let err = conclude(&mut out, false, "3 (expected 4)", "unused").unwrap_err();
        assert_eq!(err.to_string(), "check failed: 3 (expected 4)");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "result: 3 (expected 4) [FAILED]\n"
        );
    }

    #[test]
    fn a_long_result_wraps_under_its_text() {
        let mut out = Vec::new();
        let what = "many words ".repeat(12);
        conclude(
            &mut out,
            true,
            what.trim(),
            "and a lesson that goes on and on",
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 1, "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(
            lines[1].starts_with("        ") && text.contains("[ok] --"),
            "{text}"
        );
    }
}
