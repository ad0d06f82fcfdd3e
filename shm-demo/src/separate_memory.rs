//! Separate memory: a child process changes its copy of an array; the parent's stays as it was.
//!
//! A process has an address space of its own. The child here is this program started again, so
//! it shares nothing with the parent: the array reaches it as bytes through a pipe, and the child
//! builds its own copy from them. Doubling every element of that copy changes the child's memory
//! only. A thread, in contrast, works in the parent's address space: the same doubling done by a
//! scoped thread through `&mut` changes the parent's array. That is the whole difference between
//! "shared" and "non-shared" memory, and everything else in this demo builds on it.

use crate::crew::{self, child, REPORT_LIMIT};
use crate::output::{conclude, parent_is, PARENT};
use anyhow::{Context, Result};
use common::demo::narrate::header;
use std::io::Write;

/// Elements in the array: 1, 2, ..., LEN.
const LEN: u64 = 1000;

/// Runs the scenario: one child process, then one thread, each doubling "the" array.
///
/// # Errors
/// If the child cannot be started or misbehaves, or the check fails.
pub fn run(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "separate-memory",
        "a child changes its copy of an array; the parent's is unchanged",
        &[("elements", LEN)],
    )?;
    let me = PARENT;
    parent_is(out)?;
    let mut array: Vec<u64> = (1..=LEN).collect();
    let before: u64 = array.iter().sum();
    writeln!(
        out,
        "{me} my array at {:p} sums to {before}",
        array.as_ptr()
    )?;

    let mut crew = crew::spawn(1, |_| vec!["separate-memory".into()])?;
    // The array travels as text: what crosses a process boundary is always a copy.
    let line: Vec<String> = array.iter().map(u64::to_string).collect();
    crew.send(0, &line.join(" "))?;
    let child_sum: u64 = crew.expect_all(out, "sum", REPORT_LIMIT)?[0]
        .parse()
        .context("parsing the child's sum")?;
    crew.finish(out, "sum", REPORT_LIMIT)?;
    let after_child: u64 = array.iter().sum();
    writeln!(
        out,
        "{me} after the child doubled its copy, my array still sums to {after_child}"
    )?;

    // The contrast: a thread doubles the parent's own array, because it shares the address space.
    std::thread::scope(|s| {
        s.spawn(|| array.iter_mut().for_each(|x| *x *= 2));
    });
    let after_thread: u64 = array.iter().sum();
    writeln!(
        out,
        "{me} after a thread doubled it, my array sums to {after_thread}"
    )?;

    let passed = after_child == before && child_sum == 2 * before && after_thread == 2 * before;
    let what = format!(
        "parent's sum {after_child} unchanged after the child (child's copy {child_sum}), \
         {after_thread} after a thread"
    );
    conclude(
        out,
        passed,
        &what,
        "a process changes only its own copy; a thread changes the one array",
    )?;
    Ok(())
}

/// The child: read the array, double every element of its copy, report the new sum.
///
/// # Errors
/// If the parent sends no array or one that does not parse.
pub fn child() -> Result<()> {
    let line = child::next_command().context("the parent sent no array")?;
    let mut copy: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("parsing the array")?;
    copy.iter_mut().for_each(|x| *x *= 2);
    let sum: u64 = copy.iter().sum();
    child::say(format_args!(
        "doubled my copy at {:p}: it sums to {sum}",
        copy.as_ptr()
    ));
    child::report("sum", sum);
    Ok(())
}
