//! Timeline: which worker ran which batch, when, drawn as one row per worker with time across.
//!
//! Every task keeps a core busy for a known time (`busy`), and one of them, item
//! [`STRAGGLER`], takes six times longer than the rest. The picture shows three things. Chunking:
//! with `Chunk::Auto` on 2 workers items travel in batches of two, then one (decreasing sizes
//! shorten the tail), so each block spans one or two tasks' time.
//! Stragglers: the worker that draws the long batch is still busy while the other has run out of
//! work, which is the idle tail (`.`) at the end of its row. Start-up: on the process pool, the
//! workers begin only once they have received and decoded their first batch.

use crate::picture::ascii;
use crate::tasks::busy;
use crate::{process_pool, thread_pool, Settings};
use common::demo::narrate::{conclude, duration, header, pid_tag, thread_tag};
use common::{Chunk, Pool, Span};
use std::io::Write;

/// Number of tasks, the length of an ordinary one, and the one that straggles.
pub const TASKS: u64 = 16;
const TASK_MS: u64 = 15;
/// Item index of the straggler.
pub const STRAGGLER: u64 = 11;
const STRAGGLER_MS: u64 = 6 * TASK_MS;
/// Columns of the ASCII picture.
const WIDTH: usize = 64;

/// Task lengths in ms, by item.
pub fn lengths() -> Vec<u64> {
    (0..TASKS)
        .map(|i| {
            if i == STRAGGLER {
                STRAGGLER_MS
            } else {
                TASK_MS
            }
        })
        .collect()
}

/// The one function both pools run: the results and the pool's record of its batches.
///
/// # Errors
/// A task's error.
pub fn record<P: Pool>(pool: &P, chunk: Chunk) -> anyhow::Result<(Vec<u64>, Vec<Span>)> {
    let results = pool.map_chunked(busy, lengths(), chunk)?;
    Ok((results, pool.timeline()))
}

fn draw(
    out: &mut impl Write,
    kind: &str,
    spans: &[Span],
    workers: usize,
    tag: impl Fn(&Span) -> String,
) -> std::io::Result<()> {
    let t0 = spans.iter().map(|s| s.start).min().unwrap_or_default();
    let t1 = spans.iter().map(|s| s.end).max().unwrap_or_default();
    writeln!(
        out,
        "{kind} pool, {} batches, {} from first start to last end:",
        spans.len(),
        duration(t1 - t0)
    )?;
    for line in ascii(spans, workers, WIDTH, tag) {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// Records a timeline on each pool, draws it, and checks it.
///
/// # Errors
/// A pool that cannot start, a chart that cannot be written, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let (workers, chunk) = (settings.workers, settings.chunk());
    // The first (for `Chunk::Auto`, the largest) batch's size; the last is `smallest`.
    let size = chunk.size_for(TASKS as usize, workers)?;
    let smallest = chunk
        .batches_for(TASKS as usize, workers)?
        .pop()
        .unwrap_or(size);
    let sizes = if smallest == size {
        size.to_string()
    } else {
        format!("{size} down to {smallest}")
    };
    header(
        out,
        "timeline",
        "who ran which batch when: idle gaps, chunks, stragglers",
        &[
            ("workers", workers),
            ("tasks", TASKS as usize),
            ("chunk", size),
        ],
    )?;
    writeln!(
        out,
        "every task is {TASK_MS} ms of busy CPU, except item {STRAGGLER}: {STRAGGLER_MS} ms"
    )?;
    writeln!(
        out,
        "each block is one batch, named by its first item (0-9, then a-z); '.' is idle"
    )?;
    let expected = lengths();

    let (by_threads, thread_spans) = record(&thread_pool(workers, true)?, chunk)?;
    draw(out, "thread", &thread_spans, workers, |s| {
        thread_tag(s.worker)
    })?;
    let (by_processes, process_spans) = record(&process_pool(workers, true)?, chunk)?;
    draw(out, "process", &process_spans, workers, |s| {
        format!("worker {} {}", s.worker, pid_tag(s.pid))
    })?;

    if let Some(dir) = &settings.svg {
        for (kind, spans) in [("thread", &thread_spans), ("process", &process_spans)] {
            let path = dir.join(format!("timeline-{kind}.svg"));
            crate::charts::timeline(
                &path,
                &format!("{kind} pool: {workers} workers, {TASKS} tasks, batches of {sizes}"),
                spans,
                workers,
            )?;
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    let ok = by_threads == expected
        && by_processes == expected
        && crate::picture::consistent(&thread_spans, TASKS as usize)
        && crate::picture::consistent(&process_spans, TASKS as usize);
    conclude(
        out,
        ok,
        format_args!("both timelines cover all {TASKS} tasks exactly once, no worker runs two batches at once"),
        "a pool is only as fast as its busiest worker: watch for idle tails and long batches",
    )?;
    Ok(())
}
