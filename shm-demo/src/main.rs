//! Command line of shm-demo: one subcommand per scenario; `all` (the default) runs each in turn.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use shm_demo::{cleanup, copy_vs_share, lost_update, segment, separate_memory, shared_segment};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(version, about = "Shared memory between processes, against copying")]
struct Cli {
    #[command(subcommand)]
    scenario: Option<Scenario>,
    #[command(flatten)]
    knobs: Knobs,
}

#[derive(Args)]
struct Knobs {
    /// Child processes per scenario
    #[arg(long, global = true, default_value_t = num_cpus::get() as u64, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,
    /// MiB moved from parent to children in copy-vs-share
    #[arg(long, global = true, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    size: u64,
    /// Timed rounds per way in copy-vs-share (the best is shown)
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=20))]
    rounds: u64,
    /// Increments per child in lost-update
    #[arg(long, global = true, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    increments: u64,
    /// Image width in shared-segment
    #[arg(long, global = true, default_value_t = 640, value_parser = clap::value_parser!(u64).range(16..=8192))]
    width: u64,
    /// Image height in shared-segment
    #[arg(long, global = true, default_value_t = 480, value_parser = clap::value_parser!(u64).range(16..=8192))]
    height: u64,
    /// Test hook: panic once every child mapped a segment, before its name is unlinked
    #[arg(long, global = true, hide = true)]
    panic_after_map: bool,
    /// Test hook: wait this many ms once every child mapped a segment, before unlinking it
    #[arg(long, global = true, hide = true)]
    hold_before_unlink_ms: Option<u64>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Every scenario in order (the default)
    All,
    /// A child changes its copy of an array; the parent's is unchanged
    SeparateMemory,
    /// Children fill their rows of one image in a shared segment, in place
    SharedSegment,
    /// Load-then-store loses updates; atomics and a lock in the segment do not
    LostUpdate,
    /// Bandwidth of copying over ipc-channel vs a shared segment vs memcpy
    CopyVsShare,
    /// Segments outlive a killed owner; this demo's never do
    Cleanup,
    /// A child process of this demo (internal)
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        role: Role,
    },
}

#[derive(Subcommand)]
enum Role {
    SeparateMemory,
    // Positional names differ from the global knobs (`width`, `workers`...): clap ids are shared.
    SharedSegment {
        os_id: String,
        cols: usize,
        lines: usize,
        first: usize,
        end: usize,
    },
    LostUpdate {
        os_id: String,
        count: u64,
        of: usize,
    },
    CopyVsShare {
        index: usize,
        of: usize,
        len: usize,
    },
    Leak,
    Hold {
        os_id: String,
        index: usize,
    },
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

fn run(cli: Cli) -> Result<()> {
    let k = cli.knobs;
    // clap's ranged parsers exist for u64, not usize; every range above fits a usize.
    let (workers, size, rounds) = (k.workers as usize, k.size as usize, k.rounds as usize);
    let (width, height) = (k.width as usize, k.height as usize);
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    if let Scenario::Child { role } = scenario {
        return child(role);
    }
    segment::set_hooks(segment::Hooks {
        panic_after_map: k.panic_after_map,
        hold_before_unlink: k.hold_before_unlink_ms.map(Duration::from_millis),
    });
    let mut out = std::io::stdout().lock();
    // Before anything else: remove segments that a SIGKILLed earlier run left behind.
    segment::remove_stale(&mut out)?;
    let all = matches!(scenario, Scenario::All);
    if all || matches!(scenario, Scenario::CopyVsShare) {
        copy_vs_share::check_memory(size)?; // Refuse a too-large --size before doing anything.
    }
    if all || matches!(scenario, Scenario::SeparateMemory) {
        separate_memory::run(&mut out)?;
    }
    if all || matches!(scenario, Scenario::SharedSegment) {
        shared_segment::run(&mut out, workers, width, height)?;
    }
    if all || matches!(scenario, Scenario::LostUpdate) {
        lost_update::run(&mut out, workers, k.increments)?;
    }
    if all || matches!(scenario, Scenario::CopyVsShare) {
        copy_vs_share::run(&mut out, workers, size, rounds)?;
    }
    if all || matches!(scenario, Scenario::Cleanup) {
        cleanup::run(&mut out, workers)?;
    }
    Ok(())
}

fn child(role: Role) -> Result<()> {
    match role {
        Role::SeparateMemory => separate_memory::child(),
        Role::SharedSegment {
            os_id,
            cols,
            lines,
            first,
            end,
        } => shared_segment::child(&os_id, cols, lines, first, end),
        Role::LostUpdate { os_id, count, of } => lost_update::child(&os_id, count, of),
        Role::CopyVsShare { index, of, len } => copy_vs_share::child(index, of, len),
        Role::Leak => cleanup::leak_child(),
        Role::Hold { os_id, index } => cleanup::hold_child(&os_id, index),
    }
}
