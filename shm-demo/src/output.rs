//! What a student sees, kept calm: result lines that fit 100 columns, never printed after an
//! interrupt, a `load:` warning when timings may mislead, and a closed pipe that ends quietly.
//!
//! `load_warning` and `is_broken_pipe` are `common`'s, so every demo warns and ends the same way.

use std::io::{self, Write};

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

/// The widest line a scenario prints: the workspace's one width.
pub use common::demo::narrate::WIDTH;

/// The workspace's one `load:` warning (see `common::demo::narrate::load_warning`).
pub use common::demo::narrate::load_warning;

/// The demo's stdout and whether its reader left: `common`'s, shared by every demo.
pub use common::demo::cli::{stdout, stdout_closed, Stdout};

/// Whether an error is a write to a closed pipe (see `common::demo::cli::is_broken_pipe`).
pub use common::demo::cli::is_broken_pipe;

/// Writes `first` and `text` wrapped to 100 columns, continuation lines indented.
///
/// # Errors
/// Only the writer's errors.
pub fn say_wrapped(out: &mut impl Write, first: &str, text: &str) -> io::Result<()> {
    let line = if first.is_empty() {
        text.to_string()
    } else {
        format!("{first} {text}")
    };
    common::demo::narrate::say(out, &line)
}

/// The closing `result:` line: `common`'s, wrapped at 100 columns and never printed after an
/// interrupt.
pub use common::demo::narrate::conclude;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_found_inside_anyhow_context() {
        let err = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_broken_pipe(AsRef::<dyn std::error::Error>::as_ref(&err)));
        let other = anyhow::anyhow!("no pipe here");
        assert!(!is_broken_pipe(AsRef::<dyn std::error::Error>::as_ref(
            &other
        )));
    }
}
