//! Speed-up: the same CPU-bound work on 1, 2, ... N worker ranks, against a sequential run.
//!
//! Each rank is a process with a core of its own, if the machine has one free: the speed-up
//! grows with the ranks until the cores run out. Rank 0 mostly waits (it spins about 1 ms after
//! each message, then sleeps), so on a 2-core machine two worker ranks get nearly both cores.
//! Across hosts the same code would add cores; here, ranks beyond the cores only take turns.

use crate::same_interface::collatz_steps;
use crate::{MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, plural, ratio, speedup};
use common::{Chunk, Pool};
use std::io::Write;
use std::time::Instant;

/// Blocks of work, and numbers per block.
pub const BLOCKS: u64 = 48;
/// Numbers per block: a block takes a few milliseconds.
pub const BLOCK: u64 = 20_000;

/// The total Collatz steps of the numbers in block `b`: a few milliseconds of pure CPU.
pub fn block_steps(b: u64) -> u64 {
    (b * BLOCK + 1..=(b + 1) * BLOCK).map(collatz_steps).sum()
}

/// Runs the blocks sequentially, then on 1..=N worker ranks, and checks every total.
///
/// # Errors
/// A pool that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "speedup",
        "CPU-bound blocks on 1..N worker ranks",
        &[("blocks", BLOCKS), ("max_workers", workers as u64)],
    )?;
    let started = Instant::now();
    let expected: u64 = (0..BLOCKS).map(block_steps).sum();
    let sequential = started.elapsed();
    writeln!(out, "sequential, rank 0 alone:   {}", duration(sequential))?;
    let mut all_right = true;
    let mut best = 0.0f64;
    for n in 1..=workers {
        let pool = MpiPool::new(n)?;
        let started = Instant::now();
        let total: u64 = pool
            .map_chunked(block_steps, 0..BLOCKS, Chunk::Size(1))?
            .iter()
            .sum();
        let took = started.elapsed();
        all_right &= total == expected;
        best = best.max(ratio(sequential, took));
        writeln!(
            out,
            "{:<27} {} ({} against sequential)",
            format!("{}:", plural(n, "worker rank", "worker ranks")),
            duration(took),
            speedup(sequential, took)
        )?;
    }
    let cores = num_cpus::get();
    let lesson = if workers > 1 && best >= 0.7 * workers.min(cores) as f64 {
        "each rank has its own core: ranks add speed while cores last"
    } else if workers > cores {
        "ranks beyond the cores take turns; other hosts would add cores"
    } else {
        "little gain: the machine is busy; measure on a quiet one"
    };
    conclude(
        out,
        all_right,
        format_args!("sums right; best {best:.2}x"),
        lesson,
    )?;
    Ok(())
}
