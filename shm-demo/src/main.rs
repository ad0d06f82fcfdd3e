//! Command line of shm-demo: one subcommand per scenario; `all` (the default) runs each in turn.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use shm_demo::{
    cleanup, copy_vs_share, lost_update, output, segment, separate_memory, shared_segment,
};
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
    /// Child processes [default: the number of CPUs, at least 2] (shared-segment,
    /// lost-update, copy-vs-share, cleanup)
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: Option<u64>,
    /// copy-vs-share: MiB moved from parent to children (scaled down to what /dev/shm holds)
    /// [default: 256]
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    mib: Option<u64>,
    /// copy-vs-share: timed rounds per way, the best is shown [default: 3]
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=20))]
    rounds: Option<u64>,
    /// lost-update: increments per child [default: 1000000]
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    increments: Option<u64>,
    /// shared-segment: image width in pixels [default: 640]
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(16..=8192))]
    width: Option<u64>,
    /// shared-segment: image height in pixels [default: 480]
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(16..=8192))]
    height: Option<u64>,
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
        // `shm-demo | head -1`: the reader has all it wanted; end quietly, as Unix tools do.
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

/// The scenarios each knob applies to (`None` for the tour: all of them).
const APPLIES: [(&str, &[&str]); 6] = [
    (
        "--workers",
        &["shared-segment", "lost-update", "copy-vs-share", "cleanup"],
    ),
    ("--mib", &["copy-vs-share"]),
    ("--rounds", &["copy-vs-share"]),
    ("--increments", &["lost-update"]),
    ("--width", &["shared-segment"]),
    ("--height", &["shared-segment"]),
];

fn usage(message: String) -> anyhow::Error {
    common::demo::cli::UsageError(message).into()
}

/// Refuses a knob given for a scenario it does not apply to, and values that cannot show the
/// lesson. On the tour (`all`) every knob goes to the scenarios that take it.
fn check(name: &str, k: &Knobs) -> Result<()> {
    let given = [
        k.workers.is_some(),
        k.mib.is_some(),
        k.rounds.is_some(),
        k.increments.is_some(),
        k.width.is_some(),
        k.height.is_some(),
    ];
    for ((flag, applies), set) in APPLIES.iter().zip(given) {
        if set && name != "all" && !applies.contains(&name) {
            return Err(usage(format!(
                "{flag} applies to {}, not to {name}",
                applies.join(", ")
            )));
        }
    }
    if k.workers == Some(1) && (name == "all" || name == "lost-update") {
        return Err(usage(
            "--workers 1 for lost-update: losing an update needs at least two writers".into(),
        ));
    }
    let workers = k.workers.map_or(num_cpus::get().max(2) as u64, |w| w);
    let in_all = workers * k.increments.unwrap_or(1_000_000);
    if in_all > lost_update::MOST_IN_ALL && (name == "all" || name == "lost-update") {
        return Err(usage(format!(
            "lost-update: {workers} workers x {} increments is {in_all} under one lock, \
             more than the {} that finish in time here",
            k.increments.unwrap_or(1_000_000),
            lost_update::MOST_IN_ALL
        )));
    }
    // Process boundary: ipc-channel makes its sockets in TMPDIR; without one it cannot start.
    let tmp = std::env::temp_dir();
    if !tmp.is_dir() {
        return Err(usage(format!(
            "TMPDIR={} is not a directory: set TMPDIR to a writable one (or unset it for /tmp)",
            tmp.display()
        )));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let k = cli.knobs;
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    let name = match &scenario {
        Scenario::Child { .. } => None,
        Scenario::All => Some("all"),
        Scenario::SeparateMemory => Some("separate-memory"),
        Scenario::SharedSegment => Some("shared-segment"),
        Scenario::LostUpdate => Some("lost-update"),
        Scenario::CopyVsShare => Some("copy-vs-share"),
        Scenario::Cleanup => Some("cleanup"),
    };
    let Some(name) = name else {
        let Scenario::Child { role } = scenario else {
            unreachable!("only a child has no name")
        };
        return child(role);
    };
    check(name, &k)?;
    // clap's ranged parsers exist for u64, not usize; every range above fits a usize.
    let workers = k.workers.map_or(num_cpus::get().max(2), |w| w as usize);
    let mib = k.mib.unwrap_or(256) as usize;
    let rounds = k.rounds.unwrap_or(3) as usize;
    let increments = k.increments.unwrap_or(1_000_000);
    let (width, height) = (
        k.width.unwrap_or(640) as usize,
        k.height.unwrap_or(480) as usize,
    );
    segment::set_hooks(segment::Hooks {
        panic_after_map: k.panic_after_map,
        hold_before_unlink: k.hold_before_unlink_ms.map(Duration::from_millis),
    });
    let all = name == "all";
    let runs = |n: &str| all || name == n;
    // Refuse what the machine cannot hold before anything runs.
    if runs("copy-vs-share") {
        copy_vs_share::check_memory(mib)?;
    }
    if runs("shared-segment") {
        shared_segment::check_space(width, height)?;
    }
    let mut out = output::stdout();
    // Before anything else: remove segments that a SIGKILLed earlier run left behind.
    segment::remove_stale(&mut out)?;
    if runs("separate-memory") {
        separate_memory::run(&mut out)?;
    }
    if runs("shared-segment") {
        shared_segment::run(&mut out, workers, width, height)?;
    }
    if runs("lost-update") {
        lost_update::run(&mut out, workers, increments)?;
    }
    if runs("copy-vs-share") {
        copy_vs_share::run(&mut out, workers, mib, rounds)?;
    }
    if runs("cleanup") {
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
