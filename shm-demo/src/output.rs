//! What a student sees, kept calm: result lines that fit 100 columns, never printed after an
//! interrupt, a `load:` warning when timings may mislead, and a closed pipe that ends quietly.
//!
//! `load_warning` and `is_broken_pipe` are `common`'s, so every demo warns and ends the same way.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The parent's tag in narration; children are `[pid N]`.
pub const PARENT: &str = "[parent]";

/// Says once which pid `[parent]` is, so a student can match it in `ps`.
///
/// # Errors
/// Only the writer's errors.
pub fn parent_is(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "   {PARENT} is pid {}; its children are tagged [pid N]",
        std::process::id()
    )
}

/// The widest line a scenario prints.
pub const WIDTH: usize = 100;

/// The workspace's one `load:` warning (see `common::demo::narrate::load_warning`).
pub use common::demo::narrate::load_warning;

/// Set once a write to stdout failed because its reader is gone.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// This program's stdout, remembering a write to a closed pipe, so that `main` can tell a
/// reader that left (`demo | head -1`: end quietly) from a child's pipe that broke (an error).
pub struct Stdout(io::Stdout);

/// The demo's stdout (see [`Stdout`]).
pub fn stdout() -> Stdout {
    Stdout(io::stdout())
}

/// Whether a write to stdout found its reader gone.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Relaxed)
}

fn note(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Relaxed);
    }
    err
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(note)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(note)
    }
}

/// Whether an error is a write to a closed pipe (see `common::demo::cli::is_broken_pipe`).
pub use common::demo::cli::is_broken_pipe;

/// `text` cut into lines of at most `width` characters at spaces; the first line starts with
/// `first`, the others with `rest` (an indent).
pub fn wrap(first: &str, rest: &str, text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    // A non-empty first prefix (`result:`) is followed by a space; an indent is not.
    let mut empty = first.is_empty();
    for word in text.split(' ') {
        let prefix_len = if lines.is_empty() { first } else { rest }.chars().count();
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if !empty && !fits && line.chars().count() > prefix_len {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

/// Writes `text` wrapped to [`WIDTH`]: the first line after `first`, the others indented.
///
/// # Errors
/// Only the writer's errors.
pub fn say_wrapped(out: &mut impl Write, first: &str, text: &str) -> io::Result<()> {
    for line in wrap(first, "     ", text, WIDTH) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The closing line of a scenario, `result: <what> [ok] -- <lesson>`, wrapped onto indented
/// lines past 100 columns; `[FAILED]` and an error when `passed` is false.
///
/// After an interrupt nothing is printed: the run was cut short, and a result line would claim
/// a check that did not happen. The error then ends the scenario; `main` stays silent and the
/// interrupt handler sets the exit status.
///
/// # Errors
/// A failed check ([`common::demo::narrate::CheckFailed`]), an interrupt, or the writer's error.
pub fn conclude(out: &mut impl Write, passed: bool, what: &str, lesson: &str) -> io::Result<()> {
    if common::demo::cleanup::interrupted_by().is_some() {
        return Err(io::Error::other("interrupted"));
    }
    let mark = if passed { "[ok] --" } else { "[FAILED]" };
    let text = if passed {
        format!("{what} {mark} {lesson}")
    } else {
        format!("{what} {mark}")
    };
    // Built first and written in one call, as close after the check as possible.
    let mut block = String::new();
    for line in wrap("result:", "   ", &text, WIDTH) {
        block.push_str(&line);
        block.push('\n');
    }
    out.write_all(block.as_bytes())?;
    if passed {
        Ok(())
    } else {
        Err(io::Error::other(common::demo::narrate::CheckFailed(
            what.to_string(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_at_spaces_with_an_indent() {
        let text = "word ".repeat(40);
        let lines = wrap("result:", "   ", text.trim_end(), 30);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert!(lines[0].starts_with("result: word"));
        assert!(lines[1].starts_with("   word"));
    }

    #[test]
    fn a_broken_pipe_is_found_inside_anyhow_context() {
        let err = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_broken_pipe(AsRef::<dyn std::error::Error>::as_ref(&err)));
        let other = anyhow::anyhow!("no pipe here");
        assert!(!is_broken_pipe(AsRef::<dyn std::error::Error>::as_ref(
            &other
        )));
    }

    #[test]
    fn a_failed_check_says_so_and_is_an_error() {
        let mut out = Vec::new();
        assert!(conclude(&mut out, false, "3 (expected 4)", "unused").is_err());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "result: 3 (expected 4) [FAILED]\n"
        );
    }
}
