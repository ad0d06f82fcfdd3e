//! Chunking: many tiny tasks, sent one per message or in batches of 10, 100, or automatically.
//!
//! A pool pays a fixed cost per *batch*: a channel send and a wake-up for a thread; for a
//! process, also encoding the batch, a trip through a socket, decoding, and the same back. The
//! task itself (`tiny`) costs nanoseconds, so with one task per batch the overhead is all there
//! is, and it is many times larger across a process boundary. Batching divides the overhead by
//! the batch size; `Chunk::Auto` starts with Python's `Pool.map` size (four batches per
//! worker) and makes the last batches smaller, which is cheap and keeps every worker busy to
//! the end with uneven tasks.

use crate::tasks::tiny;
use crate::{process_pool, thread_pool, timed, Settings};
use common::demo::narrate::{conclude, duration, header};
use common::{Chunk, Pool};
use std::io::Write;
use std::time::Duration;

/// One batch size's run on one pool.
#[derive(Debug)]
pub struct Run {
    /// The batch size asked for.
    pub chunk: Chunk,
    /// How long `map_chunked` took.
    pub took: Duration,
    /// Whether every result was right.
    pub right: bool,
}

/// The batch sizes compared: the three fixed ones, auto, and `--chunk` if given.
pub fn chunks(settings: &Settings) -> Vec<Chunk> {
    let mut chunks = vec![
        Chunk::Size(1),
        Chunk::Size(10),
        Chunk::Size(100),
        Chunk::Auto,
    ];
    if let Some(n) = settings
        .chunk
        .filter(|&n| !chunks.contains(&Chunk::Size(n)))
    {
        chunks.push(Chunk::Size(n));
    }
    chunks
}

/// The one function both pools run: `tasks` tiny tasks at each batch size.
///
/// # Errors
/// A task's error.
pub fn time_chunks<P: Pool>(pool: &P, tasks: u64, chunks: &[Chunk]) -> anyhow::Result<Vec<Run>> {
    let expected: Vec<u64> = (0..tasks).map(tiny).collect();
    let mut runs = Vec::new();
    for &chunk in chunks {
        let (results, took) = timed(|| pool.map_chunked(tiny, 0..tasks, chunk));
        runs.push(Run {
            chunk,
            took,
            right: results? == expected,
        });
    }
    Ok(runs)
}

fn label(chunk: Chunk, tasks: u64, workers: usize) -> String {
    match chunk {
        // Decreasing sizes: the first and the last.
        Chunk::Auto => {
            let sizes = chunk
                .batches_for(tasks as usize, workers)
                .unwrap_or_default();
            let (first, last) = (sizes.first().unwrap_or(&1), sizes.last().unwrap_or(&1));
            format!("auto {first}..{last}")
        }
        Chunk::Size(n) => n.to_string(),
    }
}

fn per_task(took: Duration, tasks: u64) -> String {
    duration(Duration::from_secs_f64(
        took.as_secs_f64() / tasks.max(1) as f64,
    ))
}

/// Runs [`time_chunks`] on both pools and prints one table.
///
/// # Errors
/// A pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings, tasks: u64) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "chunking",
        "many tiny tasks: the cost per batch, threads vs processes",
        &[("workers", workers as u64), ("tasks", tasks)],
    )?;
    let chunks = chunks(settings);
    common::demo::narrate::load_warning(out)?;
    let threads = time_chunks(&thread_pool(workers, false)?, tasks, &chunks)?;
    let processes = time_chunks(&process_pool(workers, false)?, tasks, &chunks)?;

    writeln!(
        out,
        "{:<15} {:>8} {:>12} {:>11} {:>12} {:>11} {:>9}",
        "chunk", "batches", "thread", "per task", "process", "per task", "proc/thr"
    )?;
    let mut right = 0;
    for (t, p) in threads.iter().zip(&processes) {
        let batches = t.chunk.batches_for(tasks as usize, workers)?.len();
        writeln!(
            out,
            "{:<15} {:>8} {:>12} {:>11} {:>12} {:>11} {:>9}",
            label(t.chunk, tasks, workers),
            batches,
            duration(t.took),
            per_task(t.took, tasks),
            duration(p.took),
            per_task(p.took, tasks),
            common::demo::narrate::speedup(p.took, t.took)
        )?;
        right += usize::from(t.right) + usize::from(p.right);
    }
    let runs = 2 * chunks.len();
    // The lesson needs the process pool slower on every row; anything else is noise.
    let larger = threads.iter().zip(&processes).all(|(t, p)| p.took > t.took);
    conclude(
        out,
        right == runs,
        format_args!("{right} of {runs} runs returned all {tasks} results right"),
        if larger {
            "overhead is per batch, and a process boundary makes it far larger: chunk tiny tasks"
        } else {
            "the machine was busy: rerun (the results above are checked)"
        },
    )?;
    Ok(())
}
