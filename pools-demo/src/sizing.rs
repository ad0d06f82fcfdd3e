//! Sizing: the same CPU-bound work on 1, 2, ... 2N workers, where N is the number of CPUs.
//!
//! Up to N workers, each new one brings a core, and the time falls. Past N the workers share
//! the cores: the OS switches between them, and the total work is unchanged, so the time stays
//! flat at best (oversubscription) and grows a little with the switching and the extra start-up.
//! `num_cpus::get()` counts *logical* CPUs (hardware threads); `num_cpus::get_physical()`
//! counts cores. Two hardware threads of one core share its execution units, so CPU-bound work
//! often gains less from the second than from a real core; on a VM both numbers may be what the
//! hypervisor says, not what the silicon is.

use crate::tasks::{rounds_for, spin};
use crate::workloads::{run_on, Workload};
use crate::{process_pool, thread_pool};
use common::demo::narrate::{conclude, duration, header, ratio, speedup};
use common::Chunk;
use std::io::Write;
use std::time::Duration;

/// Tasks per logical CPU: enough that every pool size from 1 to 2N gets a fair share.
const TASKS_PER_CPU: usize = 6;

/// Times the CPU-bound workload on pools of 1 to 2N workers, both kinds, and checks results.
///
/// # Errors
/// A pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let (logical, physical) = (num_cpus::get(), num_cpus::get_physical());
    let tasks = TASKS_PER_CPU * logical;
    header(
        out,
        "sizing",
        "1 to 2N workers on CPU-bound work",
        &[
            ("logical_cpus", logical),
            ("physical_cores", physical),
            ("tasks", tasks),
        ],
    )?;
    writeln!(
        out,
        "num_cpus::get() = {logical} (logical CPUs, the pools' default); \
         num_cpus::get_physical() = {physical} (cores)"
    )?;
    writeln!(
        out,
        "(sizing sets its own worker counts, so it takes no --workers)"
    )?;
    let busy = common::demo::narrate::load_warning(out)?;
    let rounds = rounds_for(Duration::from_millis(15));
    let work = Workload {
        name: "cpu-bound",
        task: spin,
        items: (0..tasks as u64).map(|i| rounds + i).collect(),
        lesson: "",
    };
    let expected: Vec<u64> = work.items.iter().map(|&x| spin(x)).collect();

    writeln!(
        out,
        "{:>7} {:>12} {:>8} {:>12} {:>8}",
        "workers", "thread", "vs 1", "process", "vs 1"
    )?;
    let (mut base_thread, mut base_process) = (None, None);
    let (mut right, mut best_within, mut best_over) = (0, 0f64, 0f64);
    for workers in 1..=2 * logical {
        // One task per batch, so that every pool size can balance the work evenly.
        let (by_threads, thread) = run_on(&thread_pool(workers, false)?, &work, Chunk::Size(1))?;
        let (by_processes, process) =
            run_on(&process_pool(workers, false)?, &work, Chunk::Size(1))?;
        right += usize::from(by_threads == expected) + usize::from(by_processes == expected);
        let (bt, bp) = (
            *base_thread.get_or_insert(thread),
            *base_process.get_or_insert(process),
        );
        let best = ratio(bt, thread).max(ratio(bp, process));
        if workers <= logical {
            best_within = best_within.max(best);
        } else {
            best_over = best_over.max(best);
        }
        let note = if workers == logical {
            "  <- one per logical CPU"
        } else if workers > logical {
            "  oversubscribed"
        } else {
            ""
        };
        writeln!(
            out,
            "{workers:>7} {:>12} {:>8} {:>12} {:>8}{note}",
            duration(thread),
            speedup(bt, thread),
            duration(process),
            speedup(bp, process)
        )?;
    }
    let runs = 2 * 2 * logical;
    conclude(
        out,
        right == runs,
        format_args!("{right} of {runs} pool sizes returned all {tasks} results right"),
        // Chosen from the table: extra workers that ran clearly faster mean the CPUs were shared.
        if best_over > best_within * 1.1 || (busy && best_within < 1.2 && logical > 1) {
            "the machine was busy: rerun"
        } else {
            "for CPU-bound work, more workers than CPUs adds switching, not speed"
        },
    )?;
    Ok(())
}
