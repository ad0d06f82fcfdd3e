//! Share vs send: a large table that every task reads, copied into each task's argument or
//! shared once with `Pool::share`.
//!
//! Sent, a thread pool clones the table for every task, and a process pool also encodes each
//! copy onto a worker's socket and decodes it there: 100 tasks move 100 tables. Shared, a
//! thread pool hands out clones of one `Arc`; a process pool puts the table once into a
//! sealed memory file, each task's argument carries a reference of about 60 bytes, and each
//! worker decodes the table once, on its first task (`common`'s `src/shared.rs`). The bytes
//! written to the workers' sockets (`ProcessPool::bytes_sent`) show it exactly; time and the
//! rise of this process's peak memory (as in `streaming`) show what it costs. The table is
//! 16 MiB, not the 256 MiB of a real workload: sent 100 times, that is 1.6 GiB through the
//! sockets, a few seconds on two busy cores; the ratios only grow with the table.

use crate::streaming::{mib, rise};
use crate::{process_pool, thread_pool, timed, Settings};
use common::demo::narrate::{conclude, duration, header, load_warning, speedup};
use common::{Chunk, Pool, ProcessPool, Shared};
use serde_bytes::ByteBuf;
use std::io::Write;
use std::time::Duration;

/// The table's size, and how many tasks read it.
const SIZE: usize = 16 << 20;
const TASKS: usize = 100;
/// What each task reads of it: its own 64 KiB window.
const WINDOW: usize = 64 << 10;

/// Task `i`'s answer: the sum of its window, at `i / TASKS` of the way through the table.
fn window_sum(table: &[u8], i: usize) -> u64 {
    let start = i * (table.len() - WINDOW) / TASKS;
    table[start..start + WINDOW]
        .iter()
        .map(|&b| u64::from(b))
        .sum()
}

/// The table comes with every task.
fn sent((table, i): (ByteBuf, usize)) -> u64 {
    window_sum(&table, i)
}

/// Every task takes a handle to one shared table.
fn shared((table, i): (Shared<ByteBuf>, usize)) -> u64 {
    window_sum(&table, i)
}

/// The table: bytes that differ, the same on every run.
fn table() -> ByteBuf {
    ByteBuf::from((0..SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// One run's sums, time, rise of the peak, and bytes through the sockets (process pool).
struct Run {
    sums: Vec<u64>,
    took: Duration,
    rise: Option<u64>,
    bytes: Option<u64>,
}

/// Both ways on one pool; `sent_bytes` reads the pool's socket count, if it has sockets.
fn both<P: Pool>(
    out: &mut impl Write,
    pool: &P,
    input: &ByteBuf,
    sent_bytes: impl Fn() -> Option<u64>,
) -> anyhow::Result<[Run; 2]> {
    let kind = pool.kind();
    let before = sent_bytes();
    let ((sums, took), rise_) = rise(|| {
        // One task a batch, as a task that reads a whole table would be sent.
        let items = (0..TASKS).map(|i| (input.clone(), i));
        timed(|| pool.map_chunked(sent, items, Chunk::Size(1)))
    });
    let copied = Run {
        sums: sums?,
        took,
        rise: rise_,
        bytes: sent_bytes()
            .zip(before)
            .map(|(after, before)| after - before),
    };
    say(out, kind, "sent:  ", &copied)?;
    let before = sent_bytes();
    // Timed with `share` itself: encoding the table into its file is part of the cost.
    let ((sums, took), rise_) = rise(|| {
        timed(|| -> anyhow::Result<Vec<u64>> {
            let table = pool.share(input.clone())?;
            let items = (0..TASKS).map(|i| (table.clone(), i));
            Ok(pool.map_chunked(shared, items, Chunk::Size(1))?)
        })
    });
    let once = Run {
        sums: sums?,
        took,
        rise: rise_,
        bytes: sent_bytes()
            .zip(before)
            .map(|(after, before)| after - before),
    };
    say(out, kind, "shared:", &once)?;
    Ok([copied, once])
}

fn say(out: &mut impl Write, kind: &str, how: &str, run: &Run) -> std::io::Result<()> {
    let through = run.bytes.map_or(String::new(), |b| {
        format!(", {} through the sockets", size(b))
    });
    writeln!(
        out,
        "{kind:<7} pool, {how} {}{through}, peak rose by {}",
        duration(run.took),
        mib(run.rise)
    )
}

/// A byte count for people, three significant figures: `7.72 KiB`, `1600 MiB`.
fn size(bytes: u64) -> String {
    let (value, unit) = match bytes {
        b if b < 1 << 10 => return format!("{b} B"),
        b if b < 1 << 20 => (b as f64 / 1024.0, "KiB"),
        b => (b as f64 / (1 << 20) as f64, "MiB"),
    };
    let decimals = match value {
        v if v < 10.0 => 2,
        v if v < 100.0 => 1,
        _ => 0,
    };
    format!("{value:.decimals$} {unit}")
}

/// Runs both ways on both pools and checks that all four runs gave the same sums, and that
/// the shared table crossed the sockets as references only.
///
/// # Errors
/// A pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "share-vs-send",
        "a large table read by every task: copied into each argument, or shared once",
        &[
            ("workers", workers.to_string()),
            ("table", format!("{} MiB", SIZE >> 20)),
            ("tasks", format!("{TASKS}, each reading 64 KiB of it")),
        ],
    )?;
    writeln!(
        out,
        "sent:   a copy of the table in each task's argument, one task a batch"
    )?;
    writeln!(
        out,
        "shared: pool.share(table) once, then a handle in each task's argument"
    )?;
    writeln!(
        out,
        "(peak memory is this process's; a process worker holds its own copy)"
    )?;
    load_warning(out)?;
    let input = table();
    let expected: Vec<u64> = (0..TASKS).map(|i| window_sum(&input, i)).collect();
    let threads = both(out, &thread_pool(workers, false)?, &input, || None)?;
    let pool: ProcessPool = process_pool(workers, false)?;
    let processes = both(out, &pool, &input, || Some(pool.bytes_sent()))?;
    let same = threads
        .iter()
        .chain(&processes)
        .all(|run| run.sums == expected);
    let [copied, once] = &processes;
    let (copied_bytes, once_bytes) = (copied.bytes.unwrap_or(0), once.bytes.unwrap_or(0));
    let right = same && copied_bytes >= (SIZE * TASKS) as u64 && once_bytes < 1 << 20;
    let faster = once.took < copied.took;
    let lesson = if faster {
        format!(
            "a table every task reads goes once: the process pool's sockets carried {}x fewer \
             bytes, and it ran {} faster",
            copied_bytes / once_bytes.max(1),
            speedup(copied.took, once.took)
        )
    } else {
        "the bytes fell as expected, but the timings did not show it on this run (a busy \
         machine): rerun"
            .to_string()
    };
    conclude(
        out,
        right,
        format_args!(
            "all four runs gave the same {TASKS} sums, and the shared table crossed the sockets \
             as references (under 1 MiB for {TASKS} tasks)"
        ),
        &lesson,
    )?;
    Ok(())
}
