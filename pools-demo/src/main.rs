//! `pools-demo`: the same workload through a thread pool and a process pool. See the crate docs
//! (`src/lib.rs`) for what each scenario shows.

use clap::builder::RangedU64ValueParser;
use clap::{value_parser, CommandFactory, FromArgMatches, Parser, Subcommand};
use pools_demo::{
    bench, blocking_vs_handles, chunking, crash, imbalance, ordered_vs_completed, same_interface,
    share_vs_send, sizing, start_methods, stopping, streaming, timeline, workloads, Settings,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pools-demo",
    version,
    max_term_width = 100,
    about = "One workload through a ThreadPool and a ProcessPool: results, costs, timelines, crashes"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Option<Scenario>,
    /// Workers per pool, in every scenario but sizing (which tries 1 to 2N).
    #[arg(long, global = true, default_value_t = num_cpus::get(), value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    workers: usize,
    /// Batch size for `map` in timeline, workloads and bench; chunking adds it to its list
    /// [default: automatic: decreasing batches, about eight per worker].
    #[arg(long, global = true, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    chunk: Option<usize>,
    /// Also write SVG charts into this directory (workloads, timeline, bench).
    #[arg(long, global = true, value_name = "DIR")]
    svg: Option<PathBuf>,
    /// How many tiny tasks in chunking.
    #[arg(long, global = true, default_value_t = 10_000, value_parser = value_parser!(u64).range(1..=10_000_000))]
    tasks: u64,
}

#[derive(Subcommand)]
enum Scenario {
    /// Every scenario in order (the default; bench is not included).
    All,
    /// One generic function runs on both pools and gets identical results.
    SameInterface,
    /// map keeps order, map_unordered streams as tasks finish, submit with a timeout.
    #[command(alias = "ordered")]
    OrderedVsCompleted,
    /// The caller blocks in map, works while submitted tasks run, or awaits them (async).
    BlockingVsHandles,
    /// Many tiny tasks with batch sizes 1, 10, 100, auto: per-task overhead.
    Chunking,
    /// CPU-bound, tiny and sleeping work: sequential vs thread pool vs process pool.
    Workloads,
    /// An ASCII timeline per pool: who ran which batch when.
    Timeline,
    /// A task that panics and a task that aborts, on both pools.
    Crash,
    /// 1 to 2N workers on CPU-bound work; logical vs physical CPUs.
    Sizing,
    /// Input pulled lazily: eager vs streamed peak memory, and an endless input.
    Streaming,
    /// A large table read by every task: sent with each, or shared once (Pool::share).
    ShareVsSend,
    /// shutdown(false), shutdown(true), terminate() and drop, with work running and queued.
    Stopping,
    /// A skewed image split in blocks, interleaved, or dynamically: who waited.
    Imbalance,
    /// fork, fork + exec and the pool's re-exec, timed; a lock held at fork stays held.
    StartMethods,
    /// The larger comparison with a progress bar and a table of ratios.
    Bench {
        /// Repetitions of each run (the table shows medians).
        #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100))]
        reps: usize,
        /// Size of the workloads, relative to the `workloads` scenario.
        #[arg(long, default_value_t = 4, value_parser = value_parser!(u64).range(1..=1000))]
        scale: u64,
    },
    /// Runs the aborting task on a thread pool; started by `crash` as a child process.
    #[command(name = "abort-in-thread-pool", hide = true)]
    AbortInThreadPool,
    /// A fresh start of this program for start-methods: takes its own lock, exits.
    #[command(name = "start-methods-child", hide = true)]
    StartMethodsChild,
}

impl Scenario {
    /// The scenario's command, which is also its header and, with `_` for `-`, its file name.
    fn name(&self) -> &'static str {
        match self {
            Scenario::All => "all",
            Scenario::SameInterface => "same-interface",
            Scenario::OrderedVsCompleted => "ordered-vs-completed",
            Scenario::BlockingVsHandles => "blocking-vs-handles",
            Scenario::Chunking => "chunking",
            Scenario::Workloads => "workloads",
            Scenario::Timeline => "timeline",
            Scenario::Crash => "crash",
            Scenario::Sizing => "sizing",
            Scenario::Streaming => "streaming",
            Scenario::ShareVsSend => "share-vs-send",
            Scenario::Stopping => "stopping",
            Scenario::Bench { .. } => "bench",
            Scenario::AbortInThreadPool => "abort-in-thread-pool",
            Scenario::Imbalance => "imbalance",
            Scenario::StartMethods => "start-methods",
            Scenario::StartMethodsChild => "start-methods-child",
        }
    }
}

fn run(cli: Cli, given: &[&str]) -> anyhow::Result<()> {
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    if !matches!(
        scenario,
        Scenario::AbortInThreadPool | Scenario::StartMethodsChild
    ) {
        common::demo::cli::check_flags(scenario.name(), given, pools_demo::FLAGS)?;
    }
    let svg = cli
        .svg
        .as_deref()
        .map(pools_demo::check_svg_dir)
        .transpose()?;
    let settings = Settings {
        workers: cli.workers,
        chunk: cli.chunk,
        svg,
    };
    // Lines longer than 100 characters wrap onto indented lines.
    let mut out = common::demo::narrate::Wrapped::new(std::io::stdout().lock());
    let out = &mut out;
    match scenario {
        Scenario::All => {
            same_interface::run(out, &settings)?;
            ordered_vs_completed::run(out, &settings)?;
            blocking_vs_handles::run(out, &settings)?;
            chunking::run(out, &settings, cli.tasks)?;
            workloads::run(out, &settings)?;
            timeline::run(out, &settings)?;
            crash::run(out, &settings)?;
            sizing::run(out)?;
            streaming::run(out, &settings)?;
            share_vs_send::run(out, &settings)?;
            stopping::run(out, &settings)?;
            imbalance::run(out, &settings)?;
            start_methods::run(out)?;
        }
        Scenario::SameInterface => same_interface::run(out, &settings)?,
        Scenario::OrderedVsCompleted => ordered_vs_completed::run(out, &settings)?,
        Scenario::BlockingVsHandles => blocking_vs_handles::run(out, &settings)?,
        Scenario::Chunking => chunking::run(out, &settings, cli.tasks)?,
        Scenario::Workloads => workloads::run(out, &settings)?,
        Scenario::Timeline => timeline::run(out, &settings)?,
        Scenario::Crash => crash::run(out, &settings)?,
        Scenario::Sizing => sizing::run(out)?,
        Scenario::Streaming => streaming::run(out, &settings)?,
        Scenario::ShareVsSend => share_vs_send::run(out, &settings)?,
        Scenario::Stopping => stopping::run(out, &settings)?,
        Scenario::Bench { reps, scale } => bench::run(out, &settings, reps, scale)?,
        Scenario::AbortInThreadPool => crash::child_main(settings.workers)?,
        Scenario::Imbalance => imbalance::run(out, &settings)?,
        Scenario::StartMethods => start_methods::run(out)?,
        Scenario::StartMethodsChild => start_methods::child_main()?,
    }
    Ok(())
}

/// Help and version go to stdout as clap prints them; a refusal is one line and status 2.
fn parse_failed(e: clap::Error) -> ! {
    if e.use_stderr() {
        common::demo::cli::refuse(e.render())
    }
    e.exit()
}

fn main() -> ExitCode {
    common::init(); // a pool worker process serves its pool here and never returns
                    // Parsed in two steps so that the flags the user wrote can be told from defaults.
    let matches = Cli::command()
        .try_get_matches()
        .unwrap_or_else(|e| parse_failed(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| parse_failed(e));
    match run(cli, &pools_demo::given_flags(&matches)) {
        Ok(()) => ExitCode::SUCCESS,
        // Bad input: 2; a resource this machine lacks: 71; stdout closed by its reader
        // (`| head`): quietly; a failed check: 1 (see common::demo::cli).
        Err(e) => common::demo::cli::exit_status(e.as_ref()),
    }
}
