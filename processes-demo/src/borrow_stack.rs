//! Borrowing the parent's stack: impossible across processes, so the data is copied there and back.
//!
//! A worker process cannot see the parent's memory, so no borrow can reach it, and no
//! `std::thread::scope` can promise anything about it. What it must do instead: the parent copies
//! each worker's slice of `data` to it (here as text over the worker's stdin), the worker doubles
//! its own copy, and sends a copy back (over its stdout), which the parent writes into `data`.
//! The result is the same as with scoped threads; the cost is every byte copied twice, which the
//! demo counts. The reports come in any order: the OS schedules each worker.

use anyhow::{ensure, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, duration, header, pid_tag, plural};
use common::demo::process::Crew;
use common::demo::sys::describe_exit;
use std::io::{BufRead, BufWriter, Write};
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
    let mut copied = 0usize;

    // Process boundary: a worker is this program started again; pipes carry the copies.
    let mut crew = Crew::new();
    for (index, part) in data.chunks(chunk).enumerate() {
        let mut cmd = self_command();
        cmd.args(["child", "borrow-stack", &index.to_string()]);
        crew.start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
        // A copy of the slice, as text: the worker cannot see `data` itself. It reads all of it
        // before it answers, and the crew drains every answer meanwhile, so no pipe fills up.
        let text: String = part.iter().map(|x| format!("{x}\n")).collect();
        copied += text.len();
        crew.send(index, text.trim_end())?;
    }
    // End of file on its stdin tells each worker its slice is complete.
    crew.close_stdins();
    let mut filled = vec![0usize; crew.len()];
    let mut lines = Vec::new();
    while lines.len() < crew.len() {
        let (index, line) = crew
            .recv(REPORT_TIMEOUT)?
            .context("every worker ended before its report")?;
        match line.parse::<u64>() {
            // A copy coming back: the parent writes it into its own array.
            Ok(x) => {
                if let Some(slot) = data.get_mut(index * chunk + filled[index]) {
                    *slot = x;
                }
                filled[index] += 1;
                copied += line.len() + 1;
            }
            Err(_) => lines.push((index, line)),
        }
    }
    for status in crew.reap(REPORT_TIMEOUT)? {
        ensure!(status.success(), "a worker {}", describe_exit(status));
    }
    for (index, line) in &lines {
        writeln!(out, "{} {line}", pid_tag(crew.pid(*index)))?;
    }
    writeln!(
        out,
        "[parent] {} done in {}; bytes copied to and from them: {copied} (each number as a line of \
         text, there and back over pipes)",
        plural(lines.len(), "worker", "workers"),
        duration(started.elapsed())
    )?;

    let doubled = data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64)
        && filled.iter().sum::<usize>() == size;
    conclude(
        out,
        doubled && lines.len() == size.div_ceil(chunk),
        format!("{size} of {size} elements doubled in copies, {copied} bytes copied"),
        "a process cannot borrow another's memory: the data travels there and back",
    )?;
    Ok(())
}

/// The worker, in its own process: reads its copy from stdin, doubles it, writes it back.
///
/// # Errors
/// A line that is not a number, or a closed pipe.
pub fn worker(index: usize) -> Result<()> {
    let mut part = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading stdin")?;
        part.push(
            line.parse::<u64>()
                .with_context(|| format!("worker {index}: not a number: \"{line}\""))?,
        );
    }
    let report = double(&mut part);
    // Our stdout is a pipe to the parent: first the copy back, then the report line.
    let mut out = BufWriter::new(std::io::stdout().lock());
    for x in &part {
        writeln!(out, "{x}").context("writing stdout")?;
    }
    // Process boundary: "where they lie" is in this worker's own copy, not the parent's array.
    writeln!(out, "{report}: in its own copy").context("writing stdout")?;
    out.flush().context("writing stdout")?;
    Ok(())
}

/// The work: doubles a slice where it lies.
fn double(part: &mut [u64]) -> String {
    for x in part.iter_mut() {
        *x *= 2;
    }
    format!("doubled {} elements where they lie", part.len())
}
