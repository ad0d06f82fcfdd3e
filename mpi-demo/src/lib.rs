//! `mpi-demo`: the same `Pool` across hosts, on MPI.
//!
//! # What it teaches
//!
//! Students who outgrow one machine move to MPI. Python users know it as
//! `mpi4py.futures.MPIPoolExecutor`: a `concurrent.futures` executor whose workers are MPI
//! ranks. Here one generic `fn work<P: Pool>` runs on a `ThreadPool`, a `ProcessPool` and an
//! [`MpiPool`], and gets identical results. What changes is the lesson:
//!
//! - start-up: worker ranks are started by `mpirun -n N` (rank 0 runs the program, the others
//!   serve), or spawned by the program itself (`MPI_Comm_spawn`) when it is started alone;
//! - transport: a batch travels as an MPI message, over shared memory on one host and over TCP
//!   between hosts; waiting for an answer means polling, and how to poll matters;
//! - failure: a rank that dies ends the whole job, where a `ProcessPool` replaces its worker.
//!
//! Then what a pool cannot do: collectives among the worker ranks (one task per rank, meeting
//! over a communicator of their own), a deadlock that appears only past a message size, and a
//! guard that ends the job when a panic would leave ranks waiting for ever.
//!
//! # How to run it
//!
//! ```text
//! cargo run --release                          # every scenario; spawns its worker ranks
//! cargo run --release -- latency               # one scenario (--help lists them)
//! mpirun -n 4 target/release/mpi-demo          # rank 0 runs the program, 3 ranks serve
//! cargo run -- exercise check reduce           # the students' exercise: a tree reduce by hand
//! ```
//!
//! # Modules
//!
//! - [`mpi_pool`]: [`MpiPool`], `common::Pool` over worker ranks (through `common::plumbing`).
//! - [`session`]: the one thread that calls MPI (orders, shutdown); `mpi_thread` is its body:
//!   spawning, dynamic load balancing, liveness checks.
//! - [`worker`]: a worker rank's loop.
//! - [`backoff`]: spin, then sleep: how to wait for MPI without the back-off trap.
//! - [`launch`]: which role this process has, and the run's own folder for Open MPI's files.
//! - [`child_job`]: a child `mpirun` job of this program, in a folder of its own.
//! - [`watchdog`]: a child job watched line by line, and ended, with every rank, if it hangs.
//! - [`team`]: every worker rank running one task at once, over a communicator of their own.
//! - [`guard`]: a panic that would hang the job ends it instead (on every run).
//! - [`sys`]: the one system call std lacks (non-blocking pipes), behind a safe function.
//! - [`exercise`]: `mpi-demo exercise list | check reduce | hint reduce`: a tree reduce by
//!   hand, for students (the blank in `exercises/reduce.rs`, its solution in `solutions/`).
//! - one module per scenario: [`same_interface`], [`speedup`], [`latency`], [`batch_size`],
//!   [`dead_rank`], [`across_hosts`], [`collectives`], [`ring_deadlock`], [`abort_on_panic`].
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod abort_on_panic;
pub mod across_hosts;
pub mod backoff;
pub mod batch_size;
pub mod child_job;
pub mod collectives;
pub mod dead_rank;
pub mod exercise;
pub mod guard;
pub mod latency;
pub mod launch;
pub mod mpi_pool;
mod mpi_thread;
pub mod ring_deadlock;
pub mod same_interface;
pub mod session;
pub mod speedup;
pub mod sys;
pub mod team;
pub mod watchdog;
pub mod worker;

pub use launch::Launch;
pub use mpi_pool::{BytesSent, MpiPool};
pub use session::RankInfo;
pub use worker::rank;

use launch::Role;
use session::Mode;

/// The most worker ranks the demo starts: beyond this a 2-core machine only queues them.
pub const MAX_WORKERS: usize = 16;

/// What every scenario needs to know.
#[derive(Debug)]
pub struct Settings {
    /// Worker ranks (and threads, and processes) per pool.
    pub workers: usize,
    /// Worker ranks available without spawning: `Some(n)` under `mpirun -n n+1`.
    pub fixed_workers: Option<usize>,
}

/// The program's side of MPI, held by `main` until it ends: dropping it stops the worker ranks,
/// finalises MPI and removes the run's folder.
#[derive(Debug)]
#[must_use = "dropping it stops the worker ranks and finalises MPI"]
pub struct Program {
    /// How the program was started.
    pub launch: Launch,
}

impl Drop for Program {
    fn drop(&mut self) {
        session::shutdown();
        // Started alone, MPI forked a daemon (`orted`) for the spawned ranks; it exits after
        // MPI_Finalize. Reap it, or it stays a zombie until init adopts it.
        let me = std::process::id();
        for pid in common::demo::procfs::children_of(me) {
            if session::process_name(pid) == "orted" {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                common::demo::sys::reap_until(pid, deadline);
            }
        }
        session::untrack_all();
        // Then `launch` drops, removing the run's folder (started alone).
    }
}

/// Call at the top of `main`, after `common::init()`: a worker rank serves here and never
/// returns; the program gets a [`Program`] to hold until it ends.
///
/// `common::init()` comes first so that a `ProcessPool` worker started by rank 0 (which
/// inherits rank 0's environment, Open MPI's variables included) serves its pool and exits
/// there, never initialising MPI.
pub fn init() -> Program {
    let role = launch::role();
    match role {
        Role::Alone => match launch::prepare_alone() {
            Ok(job) => {
                session::set_mode(Mode::Spawn {
                    job: job.path().to_path_buf(),
                });
                Program {
                    launch: Launch::Alone { job },
                }
            }
            Err(e) => {
                eprintln!("error: making this run's folder for Open MPI: {e}");
                // A missing or read-only TMPDIR is the machine's state (common::demo::cli).
                let machine = common::demo::machine::lack(&e).is_some();
                std::process::exit(if machine { 71 } else { 1 });
            }
        },
        Role::Mpirun { rank: 0, size } => {
            session::set_mode(Mode::World { size });
            Program {
                launch: Launch::UnderMpirun { size },
            }
        }
        Role::NoMpi => Program {
            launch: Launch::NoMpi,
        },
        Role::Janitor(job) => launch::janitor(&job),
        Role::Mpirun { .. } | Role::Spawned { .. } => worker::serve(&role),
    }
}

/// Where a task ran: its rank, process and host. Tasks return it to show the placement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Place {
    /// [`rank()`] of the process that ran the task (0 outside worker ranks).
    pub rank: usize,
    /// Its process id.
    pub pid: u32,
    /// Its host name.
    pub host: String,
}

/// A task that reports where it ran (its argument is ignored).
pub fn place(_: u64) -> Place {
    Place {
        rank: rank(),
        pid: std::process::id(),
        host: launch::host_name(),
    }
}

/// The tag of a rank in narration: `[rank 2]`.
pub fn rank_tag(rank: usize) -> String {
    format!("[rank {rank}]")
}
