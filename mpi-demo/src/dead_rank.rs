//! Dead rank: a worker dies during a task. A process pool goes on; an MPI job ends, whole.
//!
//! `ProcessPool` watches each worker process: when one dies, the task it ran fails with
//! `WorkerDied` (naming the signal), the worker is replaced and every other task completes.
//! MPI's model is different: the ranks of a job are one computation, and the standard says
//! nothing about going on without one. Open MPI's runtime notices the dead rank and ends every
//! rank of the job (Debian's Open MPI has no ULFM, the fault-tolerance extension). So the tour
//! runs the MPI half in a child job (this program again, with its own ranks), and watches it
//! end from outside.

use crate::{rank_tag, MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, plural};
use common::{Chunk, Error, Pool, ProcessPool};
use std::io::Write;
use std::time::Duration;

/// The task that kills its own process when given 3.
pub fn die_on_three(n: u64) -> u64 {
    if n == 3 {
        // On a worker rank, announce first (with the system-wide monotonic clock, which the
        // program shares), so the program can time how long the job takes to end after the
        // death. A process-pool worker dies quietly: its pool reports it.
        if crate::rank() > 0 {
            eprintln!(
                "{} task 3: SIGKILL to myself (pid {}) at {} ns",
                rank_tag(crate::rank()),
                std::process::id(),
                common::demo::sys::monotonic_nanos()
            );
        }
        let _ = common::demo::sys::send_signal(std::process::id(), libc::SIGKILL);
        std::thread::sleep(Duration::from_secs(10)); // the signal arrives first
    }
    // Slow enough that the other tasks are still queued or running when 3 dies.
    std::thread::sleep(Duration::from_millis(50));
    n * n
}

/// `line` cut to `width` characters (with `...`), so narration stays within 100 columns
/// whatever Open MPI says.
fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let cut: String = line.chars().take(width - 3).collect();
    format!("{cut}...")
}

/// How long the child job may take, at most, before the scenario calls it a hang.
const JOB_LIMIT: Duration = Duration::from_secs(20);

/// The child job's side: a pool of worker ranks runs `die_on_three` on 1..=8, one per batch.
///
/// # Errors
/// Only the writer's, or a pool that cannot start; the job is expected to be ended from outside.
pub fn job_main(out: &mut impl Write, workers: usize) -> anyhow::Result<()> {
    let pool = MpiPool::new(workers)?;
    for r in pool.ranks() {
        writeln!(out, "{} pid {} serves", rank_tag(r.rank), r.pid)?;
    }
    out.flush()?;
    let results = pool.map_unordered_chunked(die_on_three, 1..=8, Chunk::Size(1))?;
    for (i, result) in results {
        writeln!(out, "item {i}: {result:?}")?;
        out.flush()?;
    }
    writeln!(out, "all items answered")?;
    Ok(())
}

/// Kills its own process 200 ms after it answers: the rank dies idle, between batches.
pub fn die_soon(_: ()) -> u32 {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(200));
        let _ = common::demo::sys::send_signal(std::process::id(), libc::SIGKILL);
    });
    std::process::id()
}

/// How many items a batch's array held.
pub fn count(items: common::Array<u64>) -> usize {
    items.len()
}

/// A 16 MiB batch for a rank that died idle; started by tests/faults.rs.
///
/// A large send waits until the rank receives it, and a dead rank never will: the program
/// must end with the dead rank's message (status 1) instead of waiting for ever.
///
/// # Errors
/// Only the writer's, or a pool that cannot start; the job is expected to end at the send.
pub fn idle_job_main(out: &mut impl Write) -> anyhow::Result<()> {
    let pool = MpiPool::new(1)?;
    let pid = pool.map(die_soon, [()])?[0];
    writeln!(out, "{} (pid {pid}) dies in 200 ms", rank_tag(1))?;
    out.flush()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while common::demo::sys::is_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    writeln!(out, "{} died idle; sending it 16 MiB", rank_tag(1))?;
    out.flush()?;
    let items = common::Array::from(vec![0u64; 2 << 20]);
    let answer = pool.map(count, [items]);
    anyhow::bail!("the batch for a dead rank came back: {answer:?}")
}

/// Runs the dying task on a `ProcessPool` here, then in a child MPI job, and compares.
///
/// # Errors
/// A pool or child that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers.max(2);
    header(
        out,
        "dead-rank",
        "a worker dies during task 3: the process pool goes on, the MPI job ends",
        &[("workers", workers), ("tasks", 8)],
    )?;
    // The process pool: one failed task, seven values.
    let pool = ProcessPool::new(workers)?;
    let mut died = Vec::new();
    let mut values = 0;
    for (i, result) in pool.map_unordered_chunked(die_on_three, 1..=8, Chunk::Size(1))? {
        match result {
            Ok(_) => values += 1,
            Err(e @ Error::WorkerDied { .. }) => {
                // Items count from 0, tasks from 1: item 2 is the task of `3`.
                writeln!(out, "   task {} failed: {e}", i + 1)?;
                died.push(i);
            }
            Err(e) => anyhow::bail!("item {i} of the process pool: {e}"),
        }
    }
    writeln!(
        out,
        "process pool: {} failed, {} completed; the worker was replaced",
        plural(died.len(), "task", "tasks"),
        values
    )?;

    // The MPI job, under an mpirun of its own, with ranks of its own.
    let job = crate::child_job::run(workers + 1, &["dead-rank-job"], &[], JOB_LIMIT)?;
    let ended = common::demo::sys::monotonic_nanos();
    for line in job.stdout.lines().filter(|l| l.starts_with("[rank")) {
        writeln!(out, "   {line}")?;
    }
    let kill = job.stderr.lines().find(|l| l.contains("SIGKILL to myself"));
    let answered = job
        .stdout
        .lines()
        .filter(|l| l.starts_with("item "))
        .count();
    let after = kill
        .and_then(|l| {
            l.split(" at ")
                .nth(1)?
                .trim_end_matches(" ns")
                .parse::<u64>()
                .ok()
        })
        .map(|at| common::demo::sys::nanos_between(at, ended));
    if let Some(line) = kill {
        writeln!(
            out,
            "   {}",
            fit(line.split(" at ").next().unwrap_or(line), 95)
        )?;
    }
    // What the job said: rank 0's own line, and mpirun's, when they came in time.
    for said in job
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("error:") || l.contains("noticed that process rank"))
    {
        writeln!(out, "   job: {}", fit(said, 92))?;
        if said.contains("with PID 0") {
            // Open MPI's own line; which pid it means is its business, not the rank's.
            writeln!(
                out,
                "   (mpirun's line says PID 0: the rank's own pid is in the lines above)"
            )?;
        }
    }
    let status = job.status;
    writeln!(
        out,
        "MPI job: {answered} of 8 answered; it ended ({}) {} after the death",
        common::demo::sys::describe_exit(status),
        after.map_or("?".to_string(), duration),
    )?;
    let passed = died.len() == 1 && values == 7 && !status.success() && kill.is_some();
    conclude(
        out,
        passed,
        format_args!("1 failed, 7 done; MPI job ended at {answered}/8"),
        "a pool replaces a worker; MPI ends the job",
    )?;
    Ok(())
}
