//! This crate's child processes, run by `common`'s one process layer, and how long they may take.
//!
//! Each child is this executable started again with the hidden `child` subcommand, in a
//! [`Crew`] (`common::demo::process::Children`). The parent writes commands to the child's
//! stdin, one per line ([`Crew::send`], [`Crew::broadcast`]); the child reads them with
//! [`child::next_command`] and answers on its stdout. A line starting with `@` is a report for
//! the parent (`@mapped`, `@done 1234`, sent with [`child::report`]); any other line is
//! narration, which the parent copies to its own output, so a test reading the parent's output
//! sees the children's lines too. Every wait has a deadline, and a child that dies is noticed
//! at once (its pipe closes).

use anyhow::{Context, Result};
use std::time::Duration;

pub use common::demo::process::{child, Children as Crew};

/// How long any single report from a child may take before the parent gives up; also the bound
/// on the children's exit once their stdin is closed.
pub const REPORT_LIMIT: Duration = Duration::from_secs(30);

/// Starts `n` children; child `i` gets `child <args(i)...>` as its arguments.
///
/// Call it from the main thread: children die when the thread that spawned them ends.
///
/// # Errors
/// If a child cannot be started.
pub fn spawn(n: usize, args: impl Fn(usize) -> Vec<String>) -> Result<Crew> {
    Crew::spawn((0..n).map(args)).with_context(|| format!("spawning {n} children"))
}
