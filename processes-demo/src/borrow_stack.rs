//! Borrowing the parent's stack: impossible across processes, so the data is copied there and back.
//!
//! Process boundary: no borrow reaches another process's memory, and no `std::thread::scope`
//! can promise anything about a process. So the parent copies each worker's slice of `data` to
//! it (as text, over its stdin), the worker doubles its copy and sends it back (over its stdout)
//! into `data`: the same result, for every byte copied twice, which the demo counts.
//! The reports come in any order: the OS schedules each worker.

use anyhow::{Context, Result};
use common::demo::child::self_command;
use common::demo::copies;
use common::demo::narrate::{conclude, duration, header, pid_tag, plural};
use common::demo::process::Children;
use std::io::Write;
use std::time::{Duration, Instant};

/// Elements of the parent's array, by default.
pub const SIZE: usize = 100_000;

/// How long the parent waits for each line before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// Doubles every element of a local array on `workers` workers and checks it.
///
/// # Errors
/// A failed spawn, a stuck worker, or a failed check.
pub fn run(out: &mut impl Write, workers: usize, size: usize) -> Result<()> {
    header(
        out,
        "borrow-stack",
        "workers that read and write the parent's array",
        &[("workers", workers), ("size", size)],
    )?;
    // A local of this function: `data` is owned by this stack frame.
    let mut data: Vec<u64> = (0..size as u64).collect();
    let chunk = size.div_ceil(workers);
    let started = Instant::now();
    // Bytes copied to and from the workers, counted as they cross.
    let mut copied = 0usize;

    let mut crew = Children::new();
    for (index, part) in data.chunks(chunk).enumerate() {
        // Process boundary: a worker is this program started again; its slice goes as a copy.
        let mut cmd = self_command();
        cmd.args(["child", "borrow-stack", &index.to_string()]);
        crew.start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
        copied += copies::send(&mut crew, index, part)?;
    }
    // Process boundary: each doubled copy comes back, and the parent writes it into `data`.
    let (lines, back) = copies::receive(&mut crew, &mut data, chunk, REPORT_TIMEOUT)?;
    copied += back;
    for (index, line) in &lines {
        writeln!(out, "{} {line}", pid_tag(crew.pid(*index)))?;
    }
    writeln!(
        out,
        "[parent] {} done in {}; bytes copied to and from them: {copied} (as text, over pipes)",
        plural(lines.len(), "worker", "workers"),
        duration(started.elapsed())
    )?;

    let doubled = data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64);
    conclude(
        out,
        doubled && lines.len() == size.div_ceil(chunk),
        format!("{size} of {size} elements doubled in copies, {copied} bytes copied"),
        "a process cannot borrow another's memory: the data travels there and back",
    )?;
    Ok(())
}

/// Process boundary: the worker, in its own process, doubles a copy and sends it back.
///
/// # Errors
/// A line that is not a number, or a closed pipe.
pub fn worker(index: usize) -> Result<()> {
    let served = copies::serve(|part| format!("{}: in its own copy", double(part)));
    served.with_context(|| format!("worker {index}"))
}

/// The work: doubles a slice where it lies.
fn double(part: &mut [u64]) -> String {
    for x in part.iter_mut() {
        *x *= 2;
    }
    let elements = plural(part.len(), "element", "elements");
    format!("doubled {elements} where they lie")
}
