//! `mpi-demo`: the same `Pool` across hosts, on MPI. See the crate docs (`src/lib.rs`).

use clap::builder::RangedU64ValueParser;
use clap::{Parser, Subcommand};
use common::demo::cli::UsageError;
use mpi_demo::{Launch, Settings, MAX_WORKERS};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mpi-demo",
    version,
    max_term_width = 100,
    about = "The same Pool on threads, processes and MPI ranks: start-up, transport, failures",
    after_help = "Started alone, it spawns its worker ranks. Under `mpirun -n N`, rank 0 runs the\n\
                  program and ranks 1..N-1 serve (then --workers does not apply)."
)]
struct Cli {
    #[command(subcommand)]
    scenario: Option<Scenario>,
    /// Worker ranks per pool [default: CPUs; under mpirun: -n minus 1].
    #[arg(long, global = true, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_WORKERS as u64))]
    workers: Option<usize>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Every scenario in order (the default).
    All,
    /// One generic function, three pools (threads, processes, MPI), identical results.
    SameInterface,
    /// CPU-bound work on 1..N worker ranks against a sequential run.
    Speedup,
    /// MPI ping-pong against a pipe, blocking and spinning: the cost of waking up.
    Latency,
    /// Many trivial tasks, one per batch against automatic batches.
    BatchSize {
        /// How many trivial tasks.
        #[arg(long, default_value_t = 10_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
        tasks: usize,
    },
    /// A worker rank dies: the whole job ends (in a child job), unlike a ProcessPool.
    DeadRank,
    /// The same job over TCP only (what crossing hosts changes) and shared memory.
    AcrossHosts,
    /// Reduce, all_reduce, broadcast, scatter, gather, barrier among worker ranks.
    Collectives,
    /// Blocking sends around a ring: fine at 1 KiB, stuck at 4 MiB; cures; the limit.
    RingDeadlock,
    /// A panic outside a task: the job hangs without a guard; with it, the job ends.
    AbortOnPanic,
    /// Exercises for students (not in the tour): list, check <name>, hint <name>.
    Exercise {
        #[command(subcommand)]
        command: Option<ExerciseCommand>,
    },
    /// One line of numbers for bench/against-mpi4py.
    #[command(name = "bench-line", hide = true)]
    BenchLine,
    /// Echoes 8-byte messages on stdin/stdout; started by `latency`.
    #[command(name = "pipe-echo", hide = true)]
    PipeEcho {
        #[arg(long)]
        spin: bool,
    },
    /// Runs a job in which a worker rank kills itself; started by `dead-rank`.
    #[command(name = "dead-rank-job", hide = true)]
    DeadRankJob,
    /// Sends a large batch to a rank that died idle; started by tests/faults.rs.
    #[command(name = "dead-rank-idle-job", hide = true)]
    DeadRankIdleJob,
    /// Runs rings of worker ranks; started by `ring-deadlock`.
    #[command(name = "ring-deadlock-job", hide = true)]
    RingDeadlockJob {
        #[arg(long)]
        hang: bool,
    },
    /// Runs a job in which a rank panics; started by `abort-on-panic`.
    #[command(name = "abort-on-panic-job", hide = true)]
    AbortOnPanicJob {
        #[arg(long, value_enum)]
        panicker: mpi_demo::abort_on_panic::Panicker,
    },
    /// Times one workload on an MPI pool; started by `across-hosts` with a transport set.
    #[command(name = "across-hosts-job", hide = true)]
    AcrossHostsJob,
    /// Runs the `reduce` exercise on a team of worker ranks; started by `exercise check`.
    #[command(name = "reduce-job", hide = true)]
    ReduceJob {
        #[arg(long)]
        solution: bool,
    },
}

#[derive(Subcommand)]
enum ExerciseCommand {
    /// Every exercise, one a line, its name first (the default).
    List,
    /// Run an exercise's check: pass, or what is wrong and a hint.
    Check {
        /// The exercise (see `exercise list`).
        name: String,
        /// Check the solution in solutions/ instead of your work.
        #[arg(long)]
        solution: bool,
    },
    /// Print an exercise's hint.
    Hint {
        /// The exercise (see `exercise list`).
        name: String,
    },
}

/// `exercise ...`: status 0 when the check passed (or for `list` and `hint`), 1 when it failed
/// (its lines say why, and give the hint), 2 for a name or flag that does not apply.
fn exercise(command: Option<ExerciseCommand>, workers: Option<usize>) -> anyhow::Result<ExitCode> {
    use mpi_demo::exercise;
    if workers.is_some() {
        let why = "--workers does not apply to exercise: its check runs teams of 2, 3 and 4 ranks";
        return Err(UsageError(why.into()).into());
    }
    let named = |name: &str| {
        exercise::find(name).ok_or_else(|| {
            UsageError(format!(
                "no exercise named \"{name}\"; `exercise list` shows them all"
            ))
        })
    };
    let mut out = std::io::stdout().lock();
    match command.unwrap_or(ExerciseCommand::List) {
        ExerciseCommand::List => exercise::list(&mut out)?,
        ExerciseCommand::Hint { name } => exercise::hint(&mut out, named(&name)?)?,
        ExerciseCommand::Check { name, solution } => {
            let e = named(&name)?;
            if solution && !cfg!(feature = "solutions") {
                let why = "--solution: this copy has no solutions (the `solutions` feature)";
                return Err(UsageError(why.into()).into());
            }
            if !exercise::check(&mut out, e, solution)? {
                return Ok(common::demo::cli::exit_code(false));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn settings(cli_workers: Option<usize>, launch: &Launch) -> anyhow::Result<Settings> {
    let fixed_workers = launch.fixed_workers();
    let workers =
        match (fixed_workers, cli_workers) {
            (None, workers) => workers.unwrap_or_else(|| num_cpus::get().clamp(1, MAX_WORKERS)),
            (Some(_), Some(_)) => return Err(UsageError(
                "--workers does not apply under mpirun: the worker ranks are mpirun's -n minus 1"
                    .into(),
            )
            .into()),
            (Some(0), None) => {
                return Err(UsageError(
                    "under mpirun with 1 rank there is no worker rank: use `mpirun -n 3 mpi-demo` \
                 (rank 0 runs the program), or start it alone to spawn its ranks"
                        .into(),
                )
                .into())
            }
            (Some(n), None) if n > MAX_WORKERS => {
                return Err(UsageError(format!(
                    "mpirun started {n} worker ranks; this demo uses at most {MAX_WORKERS}"
                ))
                .into())
            }
            (Some(n), None) => n,
        };
    Ok(Settings {
        workers,
        fixed_workers,
    })
}

fn run(cli: Cli, launch: &Launch) -> anyhow::Result<ExitCode> {
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    // Before the settings: an exercise starts child jobs of its own sizes, whatever the launch.
    if let Scenario::Exercise { command } = scenario {
        return exercise(command, cli.workers);
    }
    let mut out = std::io::stdout().lock();
    let out = &mut out;
    let s = &settings(cli.workers, launch)?;
    match scenario {
        Scenario::All => {
            mpi_demo::same_interface::run(out, s)?;
            mpi_demo::speedup::run(out, s)?;
            mpi_demo::latency::run(out, s)?;
            mpi_demo::batch_size::run(out, s, 10_000)?;
            mpi_demo::dead_rank::run(out, s)?;
            mpi_demo::across_hosts::run(out, s)?;
            mpi_demo::collectives::run(out, s)?;
            mpi_demo::ring_deadlock::run(out, s)?;
            mpi_demo::abort_on_panic::run(out, s)?;
        }
        Scenario::SameInterface => mpi_demo::same_interface::run(out, s)?,
        Scenario::Speedup => mpi_demo::speedup::run(out, s)?,
        Scenario::Latency => mpi_demo::latency::run(out, s)?,
        Scenario::BatchSize { tasks } => mpi_demo::batch_size::run(out, s, tasks)?,
        Scenario::DeadRank => mpi_demo::dead_rank::run(out, s)?,
        Scenario::AcrossHosts => mpi_demo::across_hosts::run(out, s)?,
        Scenario::Collectives => mpi_demo::collectives::run(out, s)?,
        Scenario::RingDeadlock => mpi_demo::ring_deadlock::run(out, s)?,
        Scenario::AbortOnPanic => mpi_demo::abort_on_panic::run(out, s)?,
        Scenario::BenchLine => mpi_demo::batch_size::bench_line(out, s.workers)?,
        Scenario::PipeEcho { spin } => mpi_demo::latency::echo_main(spin)?,
        Scenario::DeadRankJob => mpi_demo::dead_rank::job_main(out, s.workers)?,
        Scenario::DeadRankIdleJob => mpi_demo::dead_rank::idle_job_main(out)?,
        Scenario::RingDeadlockJob { hang } => {
            mpi_demo::ring_deadlock::job_main(out, s.workers, hang)?
        }
        Scenario::AbortOnPanicJob { panicker } => {
            mpi_demo::abort_on_panic::job_main(s.workers, panicker)?
        }
        Scenario::AcrossHostsJob => mpi_demo::across_hosts::job_main(out, s.workers)?,
        Scenario::ReduceJob { solution } => mpi_demo::exercise::job_main(out, s.workers, solution)?,
        Scenario::Exercise { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    common::init(); // a ProcessPool worker serves its pool here and never returns
    let program = mpi_demo::init(); // a worker rank serves here and never returns
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout as clap prints them; a refusal is one line, status 2.
        Err(e) if e.use_stderr() => common::demo::cli::refuse(e.render()),
        Err(e) => e.exit(),
    };
    // A panic that reaches here ends the job at once, so no rank waits for ever (see `guard`).
    match mpi_demo::guard::run_guarded(|| run(cli, &program.launch)) {
        Ok(code) => code,
        // One `error:` line: status 2 for bad input, 71 for a resource this machine lacks, 1 for
        // a failed check; quietly 141 when a reader such as `head -1` closed stdout.
        Err(e) => common::demo::cli::exit_status(e.as_ref()),
    }
}
