//! Across hosts: the same work over TCP only, which is what crossing machines changes.
//!
//! Ranks on one host talk through shared memory (Open MPI's `vader` transport): a message is a
//! copy into a segment both processes map. Ranks on two hosts can only talk over the network.
//! Forcing the TCP transport on loopback (`--mca btl tcp,self`, here as the environment
//! variable `OMPI_MCA_btl`) shows that cost without a second machine: every message now goes
//! through the kernel's network stack and wakes the receiver. The code does not change at all;
//! only the time per message does. (A real network adds its own latency on top: tens of
//! microseconds on Ethernet.)

use crate::batch_size::add_one;
use crate::{MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, ratio};
use common::{Chunk, Pool};
use std::io::Write;
use std::time::{Duration, Instant};

/// Trivial tasks per job, one per message.
pub const TASKS: u64 = 5_000;
/// Ping-pong rounds per job.
pub const ROUNDS: u64 = 2_000;
const JOB_LIMIT: Duration = Duration::from_secs(60);

/// What one child job measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// One 8-byte round trip between rank 0 and rank 1.
    pub ping: Duration,
    /// One trivial task at batch size 1, through the pool.
    pub task: Duration,
    /// The sum of the results (checked).
    pub sum: u64,
}

/// The child job's side: measure, and print one line the parent parses.
///
/// # Errors
/// A pool that cannot start, or the writer's error.
pub fn job_main(out: &mut impl Write, workers: usize) -> anyhow::Result<()> {
    let pool = MpiPool::new(workers)?;
    pool.ping_pong(1, 100)?;
    let ping = pool.ping_pong(1, ROUNDS)?;
    let started = Instant::now();
    let sum: u64 = pool
        .map_chunked(add_one, 0..TASKS, Chunk::Size(1))?
        .iter()
        .sum();
    let task = started.elapsed() / TASKS as u32;
    writeln!(
        out,
        "measure ping_ns={} task_ns={} sum={sum}",
        ping.as_nanos(),
        task.as_nanos()
    )?;
    Ok(())
}

fn parse(stdout: &str) -> Option<Measure> {
    let line = stdout.lines().find(|l| l.starts_with("measure "))?;
    let field = |key: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(key)?.parse().ok())
    };
    Some(Measure {
        ping: Duration::from_nanos(field("ping_ns=")?),
        task: Duration::from_nanos(field("task_ns=")?),
        sum: field("sum=")?,
    })
}

/// Runs one child job (`mpirun -n workers+1`) with Open MPI's transports limited to `btl`.
///
/// # Errors
/// The job fails, runs too long, or measures nothing.
pub fn measure(btl: &str, workers: usize) -> anyhow::Result<Measure> {
    let env = [("OMPI_MCA_btl", btl), ("OMPI_MCA_btl_tcp_if_include", "lo")];
    let job = crate::child_job::run(workers + 1, &["across-hosts-job"], &env, JOB_LIMIT)?;
    anyhow::ensure!(
        job.status.success(),
        "the job with btl {btl} failed ({}): {}",
        common::demo::sys::describe_exit(job.status),
        job.stderr.lines().next().unwrap_or_default()
    );
    parse(&job.stdout).ok_or_else(|| anyhow::anyhow!("the job with btl {btl} measured nothing"))
}

/// Runs the same job over shared memory and over TCP, and compares.
///
/// # Errors
/// A job that fails, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "across-hosts",
        "the same job over shared memory, then over TCP only (loopback)",
        &[
            ("workers", workers as u64),
            ("tasks", TASKS),
            ("rounds", ROUNDS),
        ],
    )?;
    let shm = measure("self,vader", workers)?;
    writeln!(
        out,
        "btl self,vader (shared memory): ping-pong {}, task at batch size 1 {}",
        duration(shm.ping),
        duration(shm.task)
    )?;
    let tcp = measure("self,tcp", workers)?;
    writeln!(
        out,
        "btl self,tcp (what hosts use):  ping-pong {}, task at batch size 1 {}",
        duration(tcp.ping),
        duration(tcp.task)
    )?;
    let expected: u64 = (1..=TASKS).sum();
    let slower = ratio(tcp.ping, shm.ping);
    let lesson = if slower >= 2.0 {
        "across hosts: same code, dearer messages"
    } else {
        "loopback TCP was near shared memory here"
    };
    conclude(
        out,
        shm.sum == expected && tcp.sum == expected,
        format_args!("same sums; TCP trip {slower:.1}x shared memory"),
        lesson,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measure_line_parses() {
        let m = parse("x\nmeasure ping_ns=400 task_ns=7000 sum=15\n").unwrap();
        assert_eq!(m.ping, Duration::from_nanos(400));
        assert_eq!(m.sum, 15);
        assert!(parse("nothing").is_none());
    }
}
