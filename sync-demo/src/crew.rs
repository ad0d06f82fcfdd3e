//! The start gate of this crate's child processes, over `common`'s one process layer.
//!
//! The children are this program started again with its hidden `child` subcommand, run by a
//! [`Crew`] (`common::demo::process::Children`): it reads their lines, talks to them and reaps
//! them, every wait with a deadline. Lines that start with `@` are messages to the parent (`@ready`,
//! `@span 0 123 456`, sent with [`child::report`]), every other line is narration, copied to the
//! parent's output. What this crate adds is the start gate: each child reports `@ready` and
//! then waits for one line, `go`, on its stdin; the parent writes it to every child at once
//! (`crew.broadcast(GO)`), a gate made of pipes.

use anyhow::{bail, Result};

pub use common::demo::process::{child, Children as Crew};

/// The line that opens the start gate.
pub const GO: &str = "go";

/// In a child: waits for the parent's [`GO`] line on stdin.
///
/// # Errors
/// Stdin closed first (the parent gave up or died), or another line came.
pub fn wait_for_go() -> Result<()> {
    match child::next_command() {
        Some(line) if line == GO => Ok(()),
        Some(line) => bail!("expected {GO:?} from the parent, got {line:?}"),
        None => bail!("the parent closed the start gate"),
    }
}
