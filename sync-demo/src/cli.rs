//! The command line: one subcommand per scenario, `--with threads|processes` for either half.
//! Every knob goes before or after the scenario's name and has its default here, shown by
//! `--help` (the per-scenario worker counts come from the knobs table). A knob that does not
//! apply to the chosen scenario is refused, and so is a value that could not show the lesson
//! (see `knobs.rs`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::knobs::{self, Knobs};

/// The command line as clap derives it.
#[derive(Parser)]
#[command(
    version,
    max_term_width = 100,
    about = "Mutex, semaphore and deadlock, ordered and unordered work: threads and processes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Option<Scenario>,
    #[command(flatten)]
    pub knobs: KnobArgs,
}

/// The knobs, each with its default (but `--workers`, whose default depends on the scenario:
/// [`command`] shows it from the knobs table).
#[derive(Args)]
pub struct KnobArgs {
    /// Which variant of each scenario to run.
    #[arg(long, value_enum, default_value_t = With::Both, global = true)]
    pub with: With,
    /// Workers (threads or processes); the help text comes from `knobs::workers_help`.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// mutex: lines each worker writes
    #[arg(long, global = true, default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub lines: u16,
    /// semaphore: the limits of kinds A, B and C (`--limits 4 2 1` or `--limits 4,2,1`)
    #[arg(long, global = true, num_args = 1..=3, value_delimiter = ',',
          default_values_t = [4u16, 2, 1], value_parser = clap::value_parser!(u16).range(1..=64))]
    pub limits: Vec<u16>,
    /// semaphore: milliseconds of work per worker
    #[arg(long, global = true, default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub work_ms: u16,
    /// dining-philosophers: meals each philosopher eats
    #[arg(long, global = true, default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub meals: u16,
    /// independent-order, agreed-order: steps each worker announces
    #[arg(long, global = true, default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=20))]
    pub steps: u16,
}

/// `--with`: which half of each scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum With {
    Both,
    Threads,
    Processes,
}

/// The scenarios, and the hidden roles of child processes.
#[derive(Subcommand)]
pub enum Scenario {
    /// Every scenario in order (the default).
    All,
    /// Workers announce their steps with no coordination: the order differs from run to run.
    IndependentOrder,
    /// The same workers take turns in an agreed order: the same every run, and what it costs.
    AgreedOrder,
    /// Workers append lines to one file: torn without a lock, whole with one.
    Mutex,
    /// Workers of three kinds, each kind limited to a few at once.
    Semaphore,
    /// Two workers take two locks in opposite order: the deadlock detected, then cured.
    Deadlock,
    /// N philosophers, N forks: the N-way deadlock and its cure (threads only).
    DiningPhilosophers,
    /// A lock's holder dies: poisoned, released by the kernel, or locked for good.
    HolderDies,
    /// Event, barrier, read-write lock, bounded buffer.
    Classics,
    /// One two-lock transfer workload, its deadlock cured four ways and timed; a livelock.
    DeadlockCures,
    /// N workers in phases: nobody starts the next phase before all finish this one.
    Barrier,
    /// A task that waits on a task of its own pool: the trap, the pool's answer, the cures.
    PoolDeadlock,
    /// A bounded buffer in OSTEP's four variants: forced schedules break the wrong ones.
    ConditionVariable,
    /// A child process of this demo (internal).
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        role: Role,
    },
}

/// What a child process of this demo does.
///
// Positional names differ from the global knobs (`lines`, `workers`, `steps`): clap ids are
// shared between a command and its subcommands.
#[derive(Subcommand)]
pub enum Role {
    TornWriter {
        path: PathBuf,
        worker: usize,
        count: usize,
        #[arg(long)]
        lock: bool,
    },
    SemWorker {
        kind: usize,
        sem: String,
        work_us: u64,
    },
    IndependentOrderWorker {
        worker: usize,
        rounds: usize,
    },
    AgreedOrderWorker {
        worker: usize,
        of: usize,
        rounds: usize,
    },
    RangeLocker {
        path: PathBuf,
        first: usize,
        second: usize,
        #[arg(long)]
        handshake: bool,
    },
    FlockHolder {
        path: PathBuf,
    },
    ShmHolder {
        os_id: String,
    },
    SharedReader {
        path: PathBuf,
    },
    BarrierParty {
        segment: String,
        parties: usize,
        index: usize,
        part: String,
    },
    ClassicsParty {
        segment: String,
        index: usize,
        parties: usize,
    },
    ClassicsProducer {
        segment: String,
        items: u32,
    },
    CvActor {
        segment: String,
        schedule: usize,
        actor: usize,
    },
}

/// What the command line asks for: a scenario (none: the tour), a variant, and the knobs.
pub struct Parsed {
    pub scenario: Option<Scenario>,
    pub with: With,
    pub knobs: Knobs,
}

impl Parsed {
    /// Parses `args`, the program's name first (`std::env::args_os()`).
    ///
    /// # Errors
    /// clap's error for what it can check itself (an unknown scenario, a value out of range);
    /// `e.exit()` prints it and ends the program with status 2.
    pub fn from_args<I, T>(args: I) -> Result<Parsed, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let k = cli.knobs;
        let knobs = Knobs {
            workers: k.workers.map(usize::from),
            lines: k.lines.into(),
            limits: k.limits.into_iter().map(usize::from).collect(),
            work_ms: k.work_ms.into(),
            meals: k.meals.into(),
            steps: k.steps.into(),
            given: given_flags(&matches),
        };
        Ok(Parsed {
            scenario: cli.scenario,
            with: k.with,
            knobs,
        })
    }
}

/// The clap command, with the `--workers` help made from the knobs table, so that each
/// scenario's default is written once.
pub fn command() -> clap::Command {
    Cli::command().mut_arg("workers", |arg| arg.help(knobs::workers_help()))
}

/// The knobs the user wrote on the command line (not defaults), before or after the
/// scenario's name.
fn given_flags(matches: &clap::ArgMatches) -> Vec<&'static str> {
    use clap::parser::ValueSource::CommandLine;
    let written = |m: &clap::ArgMatches, id: &str| {
        m.try_contains_id(id).unwrap_or(false) && m.value_source(id) == Some(CommandLine)
    };
    knobs::FLAGS
        .into_iter()
        .filter(|flag| {
            let id = flag[2..].replace('-', "_");
            written(matches, &id)
                || matches
                    .subcommand()
                    .is_some_and(|(_, sub)| written(sub, &id))
        })
        .collect()
}
