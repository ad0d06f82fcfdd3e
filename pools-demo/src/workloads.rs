//! Workloads: CPU-bound, tiny and sleeping tasks, run sequentially and on both pools.
//!
//! - CPU-bound: each task keeps a core busy. Rust threads run truly in parallel (there is no
//!   global interpreter lock as in CPython), so both pools approach N times faster on N cores;
//!   processes gain nothing over threads here and pay a little for the trip.
//! - Tiny: the work is cheaper than handing it over. Even chunked, a pool barely wins or loses,
//!   and a process pool loses more because every item is encoded and decoded.
//! - Sleeping (a stand-in for I/O): a waiting task needs no CPU, so N workers give about N times,
//!   whatever the number of cores; threads are the cheap way to wait.
//!
//! Pools are started before the clock starts; their start-up cost is printed on its own line,
//! because a long-lived program pays it once.

use crate::tasks::{nap, rounds_for, spin, tiny};
use crate::{process_pool, thread_pool, timed, Settings};
use common::demo::narrate::{conclude, duration, header, ratio, speedup};
use common::{Chunk, Pool};
use std::io::Write;
use std::time::Duration;

/// One kind of work: a task and its items.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Row name in the table.
    pub name: &'static str,
    /// The task.
    pub task: fn(u64) -> u64,
    /// Its arguments.
    pub items: Vec<u64>,
    /// What the row teaches.
    pub lesson: &'static str,
}

/// The three workloads, `scale` times the demo's size (the bench uses a larger scale).
pub fn standard(scale: u64) -> Vec<Workload> {
    let rounds = rounds_for(Duration::from_millis(25));
    vec![
        Workload {
            name: "cpu-bound",
            task: spin,
            items: (0..8 * scale).map(|i| rounds + i).collect(),
            lesson: "all cores busy; no GIL: threads scale like processes",
        },
        Workload {
            name: "tiny",
            task: tiny,
            items: (0..20_000 * scale).collect(),
            lesson: "handing work over costs more than doing it",
        },
        Workload {
            name: "sleeping",
            task: nap,
            items: vec![10; 16 * scale as usize],
            lesson: "waiting needs no core: more workers, more speed",
        },
    ]
}

/// One row of the table: the three timings of a workload.
#[derive(Clone, Debug)]
pub struct Row {
    /// The workload's name.
    pub name: &'static str,
    /// Plain loop on this thread.
    pub sequential: Duration,
    /// On the thread pool.
    pub thread: Duration,
    /// On the process pool.
    pub process: Duration,
    /// What the row teaches.
    pub lesson: &'static str,
}

/// What the machine was busy with is what timings cannot show: a lesson is printed only when
/// the row's numbers show it. Otherwise the row says this, and asks for a rerun.
pub const BUSY: &str = "the machine was busy: rerun";

/// The lesson of a row, chosen from its numbers on `workers` workers: the workload's own
/// lesson if the speed-ups show it, a plainer one where the setting cannot show it (one worker,
/// one CPU), and [`BUSY`] where the numbers contradict what the workload is built to show.
pub fn lesson_for(row: &Row, workers: usize) -> &'static str {
    let (thread, process) = (
        ratio(row.sequential, row.thread),
        ratio(row.sequential, row.process),
    );
    let parallel = workers.min(num_cpus::get()) >= 2;
    let both_faster = thread >= 1.3 && process >= 1.3;
    match row.name {
        "cpu-bound" if !parallel => "one worker or one CPU: nothing to split, only overhead",
        "sleeping" if workers < 2 => "one worker waits alone: no speed-up",
        "cpu-bound" | "sleeping" if both_faster => row.lesson,
        "cpu-bound" | "sleeping" => BUSY,
        // Tiny work: overhead is the lesson, so a pool that lost is what the row expects.
        _ if thread < 1.0 && process < 1.0 => row.lesson,
        _ => "in chunks this large even tiny tasks paid off",
    }
}

/// The one function both pools run: the workload's results and how long they took.
///
/// # Errors
/// A task's error.
pub fn run_on<P: Pool>(
    pool: &P,
    work: &Workload,
    chunk: Chunk,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    let (results, took) = timed(|| pool.map_chunked(work.task, work.items.iter().copied(), chunk));
    Ok((results?, took))
}

/// The baseline: the same task in a plain loop.
pub fn run_sequential(work: &Workload) -> (Vec<u64>, Duration) {
    timed(|| work.items.iter().map(|&x| (work.task)(x)).collect())
}

/// Prints the table of rows, baseline first, with speed-ups.
///
/// # Errors
/// The writer's.
pub fn print_table(out: &mut impl Write, rows: &[Row], workers: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<10} {:>12} {:>12} {:>8} {:>12} {:>8}",
        "workload", "sequential", "thread", "speed-up", "process", "speed-up"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<10} {:>12} {:>12} {:>8} {:>12} {:>8}",
            r.name,
            duration(r.sequential),
            duration(r.thread),
            speedup(r.sequential, r.thread),
            duration(r.process),
            speedup(r.sequential, r.process),
        )?;
    }
    // The lessons, each read from its row's numbers.
    for r in rows {
        writeln!(
            out,
            "{:<10} {}",
            format!("{}:", r.name),
            lesson_for(r, workers)
        )?;
    }
    Ok(())
}

/// Runs every workload sequentially and on both pools, prints the table, and checks results.
///
/// # Errors
/// A pool that cannot start, a chart that cannot be written, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "workloads",
        "CPU-bound, tiny and sleeping work: sequential vs thread pool vs process pool",
        &[("workers", workers)],
    )?;
    let (threads, thread_start) = timed(|| thread_pool(workers, false));
    let (processes, process_start) = timed(|| process_pool(workers, false));
    let (threads, processes) = (threads?, processes?);
    writeln!(
        out,
        "start-up: thread pool {}, process pool {} (paid once, not in the table)",
        duration(thread_start),
        duration(process_start)
    )?;
    let busy = common::demo::narrate::load_warning(out)?;

    let mut rows = Vec::new();
    let mut right = 0;
    let works = standard(1);
    for work in &works {
        let (expected, sequential) = run_sequential(work);
        let (by_threads, thread) = run_on(&threads, work, settings.chunk())?;
        let (by_processes, process) = run_on(&processes, work, settings.chunk())?;
        right += usize::from(by_threads == expected) + usize::from(by_processes == expected);
        writeln!(
            out,
            "{}: {} done three ways",
            work.name,
            common::demo::narrate::plural(work.items.len(), "task", "tasks")
        )?;
        rows.push(Row {
            name: work.name,
            sequential,
            thread,
            process,
            lesson: work.lesson,
        });
    }
    print_table(out, &rows, workers)?;
    if let Some(dir) = &settings.svg {
        let path = dir.join("speedup.svg");
        crate::charts::speedups(
            &path,
            &format!("speed-up over sequential, {workers} workers"),
            &rows,
        )?;
        writeln!(out, "wrote {}", path.display())?;
    }
    let runs = 2 * works.len();
    let unreadable = rows.iter().any(|r| lesson_for(r, workers) == BUSY);
    conclude(
        out,
        right == runs,
        format_args!("{right} of {runs} pool runs matched the sequential results"),
        if unreadable || (busy && workers > 1) {
            "the machine was busy: rerun to read the timings (the results above are checked)"
        } else {
            "threads for CPU work and waiting; processes when isolation is worth the trip"
        },
    )?;
    Ok(())
}
