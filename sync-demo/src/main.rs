//! The command line: one subcommand per scenario, `--with threads|processes` for either half.
//! Every knob goes before or after the scenario's name; one that does not apply to the chosen
//! scenario is refused, and so is a value that could not show the lesson (see `knobs.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use sync_demo::knobs::{self, Knobs, Scenario as Name};
use sync_demo::{
    agreed_order, classics, deadlock, dining_philosophers, holder_dies, independent_order, mutex,
    output, record_locks, semaphore,
};

#[derive(Parser)]
#[command(
    version,
    about = "Mutex, semaphore and deadlock, ordered and unordered work: threads and processes"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Option<Scenario>,
    #[command(flatten)]
    knobs: KnobArgs,
}

#[derive(Args)]
struct KnobArgs {
    /// Which variant of each scenario to run.
    #[arg(long, value_enum, default_value_t = With::Both, global = true)]
    with: With,
    /// Workers (threads or processes) [default: mutex 10, semaphore 100,
    /// independent-order/agreed-order 4, dining-philosophers 5, classics 4]
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
    /// mutex: lines each worker writes [default: 5]
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=100))]
    lines: Option<u16>,
    /// semaphore: the limits of kinds A, B and C (`--limits 4 2 1` or `--limits 4,2,1`)
    /// [default: 4,2,1]
    #[arg(long, global = true, num_args = 1..=3, value_delimiter = ',',
          value_parser = clap::value_parser!(u16).range(1..=64))]
    limits: Option<Vec<u16>>,
    /// semaphore: milliseconds of work per worker [default: 3]
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=100))]
    work_ms: Option<u16>,
    /// dining-philosophers: meals each philosopher eats [default: 3]
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=100))]
    meals: Option<u16>,
    /// independent-order, agreed-order: steps each worker announces [default: 3]
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=20))]
    steps: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum With {
    Both,
    Threads,
    Processes,
}

#[derive(Subcommand)]
enum Scenario {
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
    /// A child process of this demo (internal).
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        role: Role,
    },
}

// Positional names differ from the global knobs (`lines`, `workers`, `steps`): clap ids are
// shared between a command and its subcommands.
#[derive(Subcommand)]
enum Role {
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
}

fn child(role: Role) -> Result<()> {
    match role {
        Role::TornWriter {
            path,
            worker,
            count,
            lock,
        } => mutex::child(&path, worker, count, lock),
        Role::SemWorker { kind, sem, work_us } => {
            semaphore::child(kind, &sem, Duration::from_micros(work_us))
        }
        Role::IndependentOrderWorker { worker, rounds } => independent_order::child(worker, rounds),
        Role::AgreedOrderWorker { worker, of, rounds } => agreed_order::child(worker, of, rounds),
        Role::RangeLocker {
            path,
            first,
            second,
            handshake,
        } => record_locks::child(&path, first, second, handshake),
        Role::FlockHolder { path } => holder_dies::child_flock(&path),
        Role::ShmHolder { os_id } => holder_dies::child_shm(&os_id),
        Role::SharedReader { path } => classics::child_reader(&path),
    }
}

fn name_of(scenario: &Scenario) -> Option<Name> {
    Some(match scenario {
        Scenario::All => Name::All,
        Scenario::IndependentOrder => Name::IndependentOrder,
        Scenario::AgreedOrder => Name::AgreedOrder,
        Scenario::Mutex => Name::Mutex,
        Scenario::Semaphore => Name::Semaphore,
        Scenario::Deadlock => Name::Deadlock,
        Scenario::DiningPhilosophers => Name::DiningPhilosophers,
        Scenario::HolderDies => Name::HolderDies,
        Scenario::Classics => Name::Classics,
        Scenario::Child { .. } => return None,
    })
}

fn run(cli: Cli) -> Result<()> {
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    let Some(name) = name_of(&scenario) else {
        let Scenario::Child { role } = scenario else {
            unreachable!("name_of is None only for a child")
        };
        return child(role);
    };
    let k = cli.knobs;
    let given = Knobs {
        workers: k.workers.map(usize::from),
        lines: k.lines.map(usize::from),
        limits: k.limits.map(|l| l.into_iter().map(usize::from).collect()),
        work_ms: k.work_ms.map(u64::from),
        meals: k.meals.map(usize::from),
        steps: k.steps.map(usize::from),
    };
    // Refuses what does not apply or cannot show the lesson, before anything runs.
    let knobs = knobs::check(name, &given, k.with == With::Processes)?;
    // Process boundary: the mutex and the locks share files in TMPDIR; say so if it is missing.
    let tmp = std::env::temp_dir();
    if !tmp.is_dir() {
        return Err(common::demo::cli::UsageError(format!(
            "TMPDIR={} is not a directory: set TMPDIR to a writable one (or unset it for /tmp)",
            tmp.display()
        ))
        .into());
    }
    let (threads, processes) = (k.with != With::Processes, k.with != With::Threads);
    let out = &mut output::stdout();
    // A run killed by SIGKILL could not remove its named semaphores, segment or files; their
    // names carry the dead owner's pid, so this run can tell them from a live run's and sweep.
    for prefix in ["sem.sync-demo-", "sync-demo-"] {
        common::demo::cleanup::sweep_stale(std::path::Path::new("/dev/shm"), prefix);
    }
    common::demo::cleanup::sweep_stale(&std::env::temp_dir(), "sync-demo-");
    let runs = |n: Name| name == Name::All || name == n;
    let (workers, steps) = (|n| knobs.workers_for(n), knobs.steps);
    if runs(Name::IndependentOrder) {
        let workers = workers(Name::IndependentOrder);
        if threads {
            independent_order::threads(out, workers, steps)?;
        }
        if processes {
            independent_order::processes(out, workers, steps)?;
        }
    }
    if runs(Name::AgreedOrder) {
        let workers = workers(Name::AgreedOrder);
        if threads {
            agreed_order::threads(out, workers, steps)?;
        }
        if processes {
            agreed_order::processes(out, workers, steps)?;
        }
    }
    if runs(Name::Mutex) {
        let workers = workers(Name::Mutex);
        if threads {
            mutex::threads(out, workers, knobs.lines)?;
        }
        if processes {
            mutex::processes(out, workers, knobs.lines)?;
        }
    }
    if runs(Name::Semaphore) {
        let (workers, work) = (
            workers(Name::Semaphore),
            Duration::from_millis(knobs.work_ms),
        );
        if threads {
            semaphore::threads(out, workers, knobs.limits, work)?;
        }
        if processes {
            semaphore::processes(out, workers, knobs.limits, work)?;
        }
    }
    if runs(Name::Deadlock) {
        if threads {
            deadlock::threads(out)?;
        }
        if processes {
            deadlock::processes(out)?;
        }
    }
    if runs(Name::DiningPhilosophers) && threads {
        dining_philosophers::threads(out, workers(Name::DiningPhilosophers), knobs.meals)?;
    }
    if runs(Name::HolderDies) {
        if threads {
            holder_dies::threads(out)?;
        }
        if processes {
            holder_dies::processes(out)?;
        }
    }
    if runs(Name::Classics) {
        let workers = workers(Name::Classics);
        if threads {
            classics::threads(out, workers)?;
        }
        if processes {
            classics::processes(out, workers)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    common::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `sync-demo | head -1`: the reader has all it wanted; end quietly, as Unix tools do.
        // Not after an interrupt, though: then the handler's status (130) is the right one.
        Err(e)
            if common::demo::cleanup::interrupted_by().is_none()
                && output::stdout_closed()
                && output::is_broken_pipe(AsRef::<dyn std::error::Error>::as_ref(&e)) =>
        {
            ExitCode::from(141)
        }
        Err(e) => common::demo::cli::fail(
            format!("{e:#}"),
            e.downcast_ref::<common::demo::cli::UsageError>().is_some(),
        ),
    }
}
