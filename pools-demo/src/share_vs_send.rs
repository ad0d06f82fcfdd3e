//! Share vs send: a large table that every task reads, copied into each task's argument or
//! shared once with `Pool::share`.
//!
//! Sent, a thread pool clones the table for every task, and a process pool also encodes each
//! copy onto a worker's socket and decodes it there: 100 tasks move 100 tables. Shared, a
//! thread pool hands out clones of one `Arc`; a process pool puts the table once into a
//! sealed memory file, each task's argument carries a reference of about 60 bytes, and each
//! worker decodes the table once, on its first task (`common`'s `src/shared.rs`). Shared as
//! plain data (`share_slice`), the file holds the bytes themselves and a worker reads them
//! where they lie, in its read-only mapping: not even one copy per worker. The bytes written
//! to the workers' sockets (`ProcessPool::bytes_sent`) show it exactly; time, the rise of
//! this process's peak memory (as in `streaming`) and the workers' private memory (`RssAnon`,
//! read while the table is still shared) show what each costs. The table is 16 MiB, not the
//! 256 MiB of a real workload: sent 100 times, that is 1.6 GiB through the sockets, a second
//! or two on two busy cores (64 MiB took 9.3 s there); the ratios only grow with the table.

use crate::streaming::{mib, rise};
use crate::{process_pool, thread_pool, timed, Settings};
use common::demo::narrate::{conclude, duration, header, load_warning, speedup};
use common::{Chunk, Pool, ProcessPool, Shared, ThreadPool};
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

/// The items of the table as plain data, for `share_slice`: read in place by a process
/// worker, from its mapping of the pool's file.
fn in_place((table, i): (Shared<[u8]>, usize)) -> u64 {
    window_sum(&table, i)
}

/// One run's sums, time, rise of the peak, and (process pool) bytes through the sockets and
/// the workers' private memory while the table was still shared.
struct Run {
    sums: Vec<u64>,
    took: Duration,
    rise: Option<u64>,
    bytes: Option<u64>,
    private: Option<u64>,
}

/// What a process pool can be asked and a thread pool cannot: bytes written to its workers'
/// sockets, and their private memory (`RssAnon`: a decoded copy counts, the pages of a
/// mapped file do not).
trait Metered: Pool {
    fn bytes(&self) -> Option<u64> {
        None
    }

    fn private(&self) -> Option<u64> {
        None
    }
}

impl Metered for ThreadPool {}

impl Metered for ProcessPool {
    fn bytes(&self) -> Option<u64> {
        Some(self.bytes_sent())
    }

    fn private(&self) -> Option<u64> {
        self.worker_pids()
            .iter()
            .map(|pid| {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let kib = status.lines().find_map(|l| l.strip_prefix("RssAnon:"))?;
                let kib: u64 = kib.trim().trim_end_matches("kB").trim().parse().ok()?;
                Some(kib * 1024)
            })
            .sum()
    }
}

/// Runs `work` on a fresh pool (so that no run inherits another's memory), timed, and says
/// what it measured. `work` returns the sums and the workers' private memory, read before it
/// lets the table go.
fn measure<P: Metered>(
    out: &mut impl Write,
    pool: P,
    how: &str,
    work: impl FnOnce(&P) -> anyhow::Result<(Vec<u64>, Option<u64>)>,
) -> anyhow::Result<Run> {
    let before = pool.bytes();
    let ((outcome, took), rise_) = rise(|| timed(|| work(&pool)));
    let (sums, private) = outcome?;
    let bytes = pool
        .bytes()
        .zip(before)
        .map(|(after, before)| after - before);
    let run = Run {
        sums,
        took,
        rise: rise_,
        bytes,
        private,
    };
    let through = run
        .bytes
        .map_or(String::new(), |b| format!(", {} on sockets", size(b)));
    let held = run
        .private
        .map_or(String::new(), |m| format!(", workers' own {}", size(m)));
    writeln!(
        out,
        "{:<7} pool, {how} {}{through}, peak +{}{held}",
        pool.kind(),
        duration(run.took),
        mib(run.rise)
    )?;
    Ok(run)
}

/// The three ways, each on a fresh pool from `make`: sent, shared, shared as plain data.
fn three_ways<P: Metered>(
    out: &mut impl Write,
    make: impl Fn() -> anyhow::Result<P>,
    input: &ByteBuf,
) -> anyhow::Result<[Run; 3]> {
    let copied = measure(out, make()?, "sent:    ", |pool| {
        // One task a batch, as a task that reads a whole table would be sent.
        let items = (0..TASKS).map(|i| (input.clone(), i));
        let sums = pool.map_chunked(sent, items, Chunk::Size(1))?;
        Ok((sums, pool.private()))
    })?;
    // Timed with `share` itself: putting the table into its file is part of the cost.
    let once = measure(out, make()?, "shared:  ", |pool| {
        let table = pool.share(input.clone())?;
        let items = (0..TASKS).map(|i| (table.clone(), i));
        let sums = pool.map_chunked(shared, items, Chunk::Size(1))?;
        Ok((sums, pool.private()))
    })?;
    let mapped = measure(out, make()?, "in place:", |pool| {
        let table = pool.share_slice(input.to_vec())?;
        let items = (0..TASKS).map(|i| (table.clone(), i));
        let sums = pool.map_chunked(in_place, items, Chunk::Size(1))?;
        Ok((sums, pool.private()))
    })?;
    Ok([copied, once, mapped])
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

/// Runs the three ways on both pools and checks that all six runs gave the same sums, and
/// that a shared table crossed the sockets as references only.
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
    for line in [
        "sent:     a copy of the table in each task's argument, one task a batch",
        "shared:   pool.share(table) once, a handle in each argument; decoded once per worker",
        "in place: pool.share_slice(bytes) once; a process worker reads its mapping, no copy",
        "(peak: this process's memory; workers' own: their private memory, the table still shared)",
    ] {
        writeln!(out, "{line}")?;
    }
    load_warning(out)?;
    let input = table();
    let expected: Vec<u64> = (0..TASKS).map(|i| window_sum(&input, i)).collect();
    let threads = three_ways(out, || thread_pool(workers, false), &input)?;
    let processes = three_ways(out, || process_pool(workers, false), &input)?;
    let same = threads
        .iter()
        .chain(&processes)
        .all(|run| run.sums == expected);
    let [copied, once, mapped] = &processes;
    let bytes = |run: &Run| run.bytes.unwrap_or(u64::MAX);
    let right = same
        && copied.bytes.unwrap_or(0) >= (SIZE * TASKS) as u64
        && bytes(once) < 1 << 20
        && bytes(mapped) < 1 << 20;
    let lesson = if once.took < copied.took {
        format!(
            "a table every task reads goes once: the process pool's sockets carried {}x fewer \
             bytes, and it ran {} faster",
            copied.bytes.unwrap_or(0) / bytes(once).max(1),
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
            "all six runs gave the same {TASKS} sums, and the shared table crossed the sockets \
             as references (under 1 MiB for {TASKS} tasks, both ways of sharing)"
        ),
        &lesson,
    )?;
    Ok(())
}
