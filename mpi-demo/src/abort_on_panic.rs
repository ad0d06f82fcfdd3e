//! Abort on panic: a panic outside a task hangs an MPI job, unless a guard ends the job.
//!
//! In a pool, a task that panics fails alone: its worker catches the panic and answers with an
//! error. A panic *outside* a task has no such net. When rank 0 panics while the worker ranks
//! wait in a receive for something it would have sent (here: the task it was about to hand the
//! last worker), Rust unwinds, and unwinding runs the pool's orderly shutdown: it waits for the
//! workers' tasks to finish, and they wait for rank 0. mpi4py's documentation describes the
//! same trap for Python ("irremediably in a deadlock state") and the cure, `python -m mpi4py`,
//! which calls `MPI_Abort` on an unhandled exception.
//!
//! mpi-demo installs that guard for every run (see `guard`): a panic that reaches `main` on
//! rank 0 ends the process at once, and with it the job; a panic in a team task on a worker
//! rank calls `MPI_Abort`. This scenario runs three child jobs: rank 0 panics without the guard
//! (it hangs, until the watchdog ends it), then with it; then a worker rank panics before a
//! collective, with the guard.

use crate::team::{self, Team};
use crate::watchdog::{self, Watch, Watched};
use crate::{rank_tag, MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, plural};
use common::demo::sys::describe_exit;
use common::Pool;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::io::Write;
use std::time::Duration;

/// How long the unguarded job may run on after its panic before the watchdog ends it.
pub const PATIENCE: Duration = Duration::from_secs(2);
/// How long every rank of a guarded job may live on after the panic: the guard's promise.
pub const GUARDED: Duration = Duration::from_secs(2);
/// The watchdog's bound on a guarded job, `mpirun` included (it lingers after its ranks: see
/// `tell`); past it, the guard failed.
const GUARDED_BOUND: Duration = Duration::from_secs(10);
/// The tag of the message the waiting ranks expect (never sent).
const SHARE: i32 = 42;
/// The bound on a whole child job, panic or not.
const JOB_LIMIT: Duration = Duration::from_secs(60);
/// What a waiting rank prints before its receive.
const WAITS: &str = "waits in a receive";

/// Who panics in the child job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Panicker {
    /// Rank 0, outside any task, while worker ranks wait in a receive.
    Program,
    /// The last worker rank, in a team task, before an `all_reduce`.
    Worker,
}

/// A task for every worker rank but the last: wait in a receive for the last one's share.
///
/// It runs on `MPI_COMM_WORLD` (no team: the last rank never gets its task), where a worker's
/// pool rank is its world rank plus the spawn's first rank (0 under `mpirun`).
///
/// # Errors
/// Not on a worker rank.
pub fn wait_for_last(workers: usize) -> Result<u64, String> {
    if crate::rank() == 0 || !mpi::environment::is_initialized() {
        return Err("this task runs only on a worker rank".into());
    }
    crate::guard::end_with_launcher();
    let world = SimpleCommunicator::world();
    let offset = crate::rank() as i32 - world.rank();
    eprintln!(
        "{} {WAITS} for {}'s share",
        rank_tag(crate::rank()),
        rank_tag(workers)
    );
    let (share, _) = world
        .process_at_rank(workers as i32 - offset)
        .receive_with_tag::<u64>(SHARE);
    Ok(share)
}

/// A team task: the last member panics before the `all_reduce`; the others wait in it.
///
/// # Errors
/// Not on a worker rank of a pool of `workers` ranks.
pub fn sum_with_a_panic(workers: usize) -> Result<u64, String> {
    team::join(workers, |team| {
        let me = Team::pool_rank_of(team.rank());
        if team.rank() + 1 == team.size() {
            panic!("{} found no share to add", rank_tag(me));
        }
        let mut total = 0u64;
        team.comm()
            .all_reduce_into(&(me as u64), &mut total, SystemOperation::sum());
        total
    })
}

/// The child job's side: start the pool, then panic as `panicker` says.
///
/// # Errors
/// A pool that cannot start; the panic is the point.
pub fn job_main(workers: usize, panicker: Panicker) -> anyhow::Result<()> {
    let pool = MpiPool::new(workers)?;
    match panicker {
        Panicker::Program => {
            let _waiting: Vec<_> = (1..workers)
                .map(|_| pool.submit(wait_for_last, workers))
                .collect();
            std::thread::sleep(Duration::from_millis(200)); // on purpose: they reach the receive
            panic!("could not compute the share of {}", rank_tag(workers));
        }
        Panicker::Worker => {
            team::on_every_worker(&pool, sum_with_a_panic, &workers, JOB_LIMIT)?;
            anyhow::bail!("the team answered, although one of its ranks panicked");
        }
    }
}

/// Runs one child job, its clock started by the first panic line.
fn watch_job(workers: usize, panicker: Panicker, guarded: bool) -> anyhow::Result<Watched> {
    let panicked = |line: &str| line.contains("panicked");
    let watch = Watch {
        trigger: &panicked,
        patience: if guarded { GUARDED_BOUND } else { PATIENCE },
        limit: JOB_LIMIT,
    };
    let who = match panicker {
        Panicker::Program => "program",
        Panicker::Worker => "worker",
    };
    let env: &[(&str, &str)] = if guarded {
        &[]
    } else {
        &[(crate::guard::UNGUARDED, "1")]
    };
    watchdog::run(
        workers + 1,
        &["abort-on-panic-job", "--panicker", who],
        env,
        &watch,
    )
}

/// Says what the job printed that matters (who waits, the panic, the guard's line, Open MPI's
/// line on an abort), then how it ended; whether it ended by itself, with the panic's message,
/// leaving nothing.
fn tell(out: &mut impl Write, job: &Watched, message: &str) -> anyhow::Result<bool> {
    let wanted = |l: &&str| {
        l.contains(WAITS)
            || l.contains("panicked at")
            || l.contains(message)
            || l.starts_with("error:")
            || l.contains("MPI_ABORT was invoked")
    };
    for line in job.stderr.lines().map(str::trim).filter(wanted) {
        writeln!(out, "   {}", fit(line, 96))?;
    }
    let left = if job.left == 0 {
        "nothing left".to_string()
    } else {
        format!("{} left", plural(job.left, "process", "processes"))
    };
    let time = |d: Option<Duration>| d.map_or("?".to_string(), duration);
    match job.killed {
        Some(killed) => writeln!(
            out,
            "   still running {} after the panic: the watchdog ended it ({}); {left}",
            duration(PATIENCE),
            plural(killed, "process", "processes")
        )?,
        None => {
            writeln!(
                out,
                "   every rank gone {} after the panic; mpirun ended {} after it",
                time(job.ranks_gone),
                time(job.after_trigger),
            )?;
            // After a rank dies, Open MPI's mpirun signals the ranks it still counts as alive
            // and waits a second (odls_base_sigkill_timeout), gone or not; after MPI_Abort it
            // does not wait.
            let grace = job
                .after_trigger
                .is_some_and(|d| d >= Duration::from_millis(900));
            writeln!(
                out,
                "   mpirun {}{}; {left}",
                describe_exit(job.status),
                if grace {
                    " (after a death it waits 1 s per signal)"
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(job.killed.is_none()
        && job.ranks_gone.is_some_and(|d| d < GUARDED)
        && !job.status.success()
        && job.stderr.contains(message)
        && job.left == 0)
}

/// `line` cut to `width` characters (with `...`): Open MPI's lines can be long.
fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let cut: String = line.chars().take(width - 3).collect();
    format!("{cut}...")
}

/// Runs the three child jobs and checks: without the guard the job hangs until the watchdog;
/// with it, both panics end their job by themselves, with the panic's message, leaving nothing.
///
/// # Errors
/// A child job that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    // Someone must wait for someone: two worker ranks at least; more only take longer.
    let workers = settings.workers.clamp(2, 4);
    header(
        out,
        "abort-on-panic",
        "a panic outside a task: the job hangs, unless a guard ends it",
        &[
            ("workers", workers.to_string()),
            ("patience", duration(PATIENCE)),
            ("guarded", format!("<{}", duration(GUARDED))),
        ],
    )?;
    let waiting = match workers {
        2 => format!("{} waits", rank_tag(1)),
        n => format!("ranks 1..{} wait", n - 1),
    };
    writeln!(
        out,
        "child jobs of mpirun -n {}; {waiting} in a receive for {}",
        workers + 1,
        rank_tag(workers)
    )?;
    let program_panic = "could not compute the share";

    writeln!(
        out,
        "without the guard, rank 0 panics before it hands {} its task:",
        rank_tag(workers)
    )?;
    out.flush()?;
    let unguarded = watch_job(workers, Panicker::Program, false)?;
    tell(out, &unguarded, program_panic)?;
    let hung = unguarded.killed.is_some() && unguarded.left == 0;

    writeln!(out, "with the guard (mpi-demo installs it for every run):")?;
    out.flush()?;
    let guarded = watch_job(workers, Panicker::Program, true)?;
    let program_ended = tell(out, &guarded, program_panic)?;

    writeln!(
        out,
        "{} panics in a team task, before an all_reduce, with the guard:",
        rank_tag(workers)
    )?;
    out.flush()?;
    let worker = watch_job(workers, Panicker::Worker, true)?;
    let worker_ended = tell(out, &worker, "found no share to add")?;

    conclude(
        out,
        hung && program_ended && worker_ended,
        "unguarded: hung till the watchdog; guarded: both jobs ended, nothing left",
        "end the job on a panic: a rank that waits never learns of it",
    )?;
    Ok(())
}
