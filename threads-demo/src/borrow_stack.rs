//! Borrowing the parent's stack: scoped workers read and write the parent's array in place.
//!
//! `std::thread::scope` promises the compiler that every worker ends before the scope does, so
//! a worker may borrow a local variable of the parent: each gets `&mut` to its own slice of
//! `data` (`chunks_mut` hands out slices that cannot overlap) and doubles it where it lies. No
//! byte is copied and no `Arc` is needed.
//! The reports come in any order: the OS schedules each worker.

use anyhow::Result;
use common::demo::narrate::{conclude, duration, header, plural, thread_tag};
use std::io::Write;
use std::time::Instant;

/// Elements of the parent's array, by default.
pub const SIZE: usize = 100_000;

/// Doubles every element of a local array on `workers` workers and checks it.
///
/// # Errors
/// A failed check.
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
    let copied = 0usize;

    let lines: Vec<(usize, String)> = std::thread::scope(|s| {
        let mut crew = Vec::new();
        for (index, part) in data.chunks_mut(chunk).enumerate() {
            // A scoped worker borrows `part`, its own slice of the parent's array: no copy.
            crew.push(s.spawn(move || (index, double(part))));
        }
        // The scope joins every worker before it ends; each one only computes, so this is quick.
        crew.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (index, line) in &lines {
        writeln!(out, "{} {line}", thread_tag(*index))?;
    }
    writeln!(
        out,
        "[parent] {} done in {}; bytes copied to and from them: {copied} (they wrote into `data`)",
        plural(lines.len(), "worker", "workers"),
        duration(started.elapsed())
    )?;

    let doubled = data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64);
    conclude(
        out,
        doubled && lines.len() == size.div_ceil(chunk),
        format!("{size} of {size} elements doubled in place, {copied} bytes copied"),
        "scoped threads borrow the parent's data; no copy, no Arc",
    )?;
    Ok(())
}

/// The work: doubles a slice where it lies.
fn double(part: &mut [u64]) -> String {
    for x in part.iter_mut() {
        *x *= 2;
    }
    let elements = plural(part.len(), "element", "elements");
    format!("doubled {elements} where they lie")
}
