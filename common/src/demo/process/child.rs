//! The child's side of a [`super::Children`]: reports and narration on stdout, commands from stdin.

use std::io::{BufRead, Write};

/// Sends the report `@tag words` to the parent (see [`super::Children::expect_all`]).
pub fn report(tag: &str, words: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    // If the parent is gone, nobody is left to tell; the child ends at its next read.
    let _ = writeln!(stdout, "@{tag} {words}").and_then(|()| stdout.flush());
}

/// Prints one line of narration tagged with this child's pid, for the parent to copy out.
pub fn say(what: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    let tag = crate::demo::narrate::pid_tag(std::process::id());
    let _ = writeln!(stdout, "{tag} {what}").and_then(|()| stdout.flush());
}

/// The next command line from the parent, or `None` once the parent closed our stdin (or
/// died).
pub fn next_command() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}
