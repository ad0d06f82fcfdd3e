//! The command line: one subcommand per scenario, `--with threads|processes` for either half.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use common::cli::UsageError;
use sync_demo::{
    classics, dining_philosophers, holder_dies, lock_ordering, record_locks, torn_lines,
    work_limits,
};

#[derive(Parser)]
#[command(
    version,
    about = "Mutex, semaphore and deadlock: broken, then cured, for threads and for processes"
)]
struct Cli {
    /// Which variant of each scenario to run.
    #[arg(long, value_enum, default_value_t = With::Both, global = true)]
    with: With,
    #[command(subcommand)]
    scenario: Option<Scenario>,
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
    /// Workers append lines to one file: torn without a lock, whole with one.
    Mutex {
        /// Workers writing at once.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
        workers: u16,
        /// Lines each worker writes.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
        lines: u16,
    },
    /// Workers of three kinds, each kind limited to a few at once.
    Semaphore {
        /// Workers in all (worker i does kind i % 3).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: u16,
        /// The limits of kinds A, B and C: three numbers (`--limits 4 2 1` or `--limits 4,2,1`).
        #[arg(long, num_args = 1..=3, value_delimiter = ',', default_values_t = [4, 2, 1], value_parser = clap::value_parser!(u16).range(1..=64))]
        limits: Vec<u16>,
        /// Milliseconds of work per worker.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
        work_ms: u16,
    },
    /// Opposite lock order: the deadlock detected, then cured; dining philosophers.
    Deadlock {
        /// Philosophers at the table.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=32))]
        philosophers: u16,
        /// Meals each philosopher eats.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
        meals: u16,
    },
    /// A lock's holder dies: poisoned, released by the kernel, or locked for good.
    HolderDies,
    /// Event, barrier, read-write lock, bounded buffer.
    Classics {
        /// Threads (or reader processes) taking part.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        workers: u16,
    },
    /// A child process of this demo (internal).
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        role: Role,
    },
}

#[derive(Subcommand)]
enum Role {
    TornWriter {
        path: PathBuf,
        worker: usize,
        lines: usize,
        #[arg(long)]
        lock: bool,
    },
    SemWorker {
        kind: usize,
        sem: String,
        work_us: u64,
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

fn run(cli: Cli) -> Result<()> {
    let out = &mut std::io::stdout();
    let (threads, processes) = (cli.with != With::Processes, cli.with != With::Threads);
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    let all = matches!(scenario, Scenario::All);
    if let Scenario::Child { role } = scenario {
        return match role {
            Role::TornWriter {
                path,
                worker,
                lines,
                lock,
            } => torn_lines::child(&path, worker, lines, lock),
            Role::SemWorker { kind, sem, work_us } => {
                work_limits::child(kind, &sem, Duration::from_micros(work_us))
            }
            Role::RangeLocker {
                path,
                first,
                second,
                handshake,
            } => record_locks::child(&path, first, second, handshake),
            Role::FlockHolder { path } => holder_dies::child_flock(&path),
            Role::ShmHolder { os_id } => holder_dies::child_shm(&os_id),
            Role::SharedReader { path } => classics::child_reader(&path),
        };
    }
    // A run killed by SIGKILL could not remove its named semaphores, segment or files; their
    // names carry the dead owner's pid, so this run can tell them from a live run's and sweep.
    for (dir, prefix) in [("/dev/shm", "sem.sync-demo-"), ("/dev/shm", "sync-demo-")] {
        common::cleanup::sweep_stale(std::path::Path::new(dir), prefix);
    }
    common::cleanup::sweep_stale(&std::env::temp_dir(), "sync-demo-");
    if all || matches!(scenario, Scenario::Mutex { .. }) {
        let (workers, lines) = match scenario {
            Scenario::Mutex { workers, lines } => (workers.into(), lines.into()),
            _ => (10, 5),
        };
        if threads {
            torn_lines::threads(out, workers, lines)?;
        }
        if processes {
            torn_lines::processes(out, workers, lines)?;
        }
    }
    if all || matches!(scenario, Scenario::Semaphore { .. }) {
        let (workers, limits, work) = match &scenario {
            Scenario::Semaphore {
                workers,
                limits,
                work_ms,
            } => {
                // clap checked each limit's range; the count needs a check of its own.
                let &[a, b, c] = limits.as_slice() else {
                    let msg = format!(
                        "--limits takes three numbers (kinds A, B, C), e.g. 4,2,1; got {}",
                        limits.len()
                    );
                    return Err(UsageError(msg).into());
                };
                (
                    (*workers).into(),
                    [a, b, c].map(usize::from),
                    u64::from(*work_ms),
                )
            }
            _ => (100, [4, 2, 1], 3),
        };
        let work = Duration::from_millis(work);
        if threads {
            work_limits::threads(out, workers, limits, work)?;
        }
        if processes {
            work_limits::processes(out, workers, limits, work)?;
        }
    }
    if all || matches!(scenario, Scenario::Deadlock { .. }) {
        let (n, meals) = match scenario {
            Scenario::Deadlock {
                philosophers,
                meals,
            } => (philosophers.into(), meals.into()),
            _ => (5, 3),
        };
        if threads {
            lock_ordering::threads(out)?;
            dining_philosophers::threads(out, n, meals)?;
        }
        if processes {
            record_locks::processes(out)?;
        }
    }
    if all || matches!(scenario, Scenario::HolderDies) {
        if threads {
            holder_dies::threads(out)?;
        }
        if processes {
            holder_dies::processes(out)?;
        }
    }
    if all || matches!(scenario, Scenario::Classics { .. }) {
        let workers = match scenario {
            Scenario::Classics { workers } => workers.into(),
            _ => 4,
        };
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
        Err(e) => common::cli::fail(
            format!("{e:#}"),
            e.downcast_ref::<common::cli::UsageError>().is_some(),
        ),
    }
}
