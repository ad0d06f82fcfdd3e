//! The command line: one subcommand per scenario; `all` (the default) runs each in turn. Every
//! knob has its default here, shown by `--help`; one given for a scenario it does not apply to
//! is refused, and so is a value that cannot show the lesson.

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

use crate::lost_update;

/// The command line as clap derives it.
#[derive(Parser)]
#[command(
    version,
    max_term_width = 100,
    about = "Shared memory between processes, against copying"
)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Option<Scenario>,
    #[command(flatten)]
    pub knobs: Knobs,
}

/// The knobs, each with its default, shown by `--help`.
#[derive(Args)]
pub struct Knobs {
    /// Child processes: the number of CPUs, at least 2 and at most 64 (shared-segment,
    /// lost-update, copy-vs-share, cleanup)
    #[arg(long, global = true, default_value_t = default_workers(),
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub workers: u64,
    /// copy-vs-share: MiB moved from parent to children (scaled down to what /dev/shm holds)
    #[arg(long, global = true, default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub mib: u64,
    /// copy-vs-share: timed rounds per way, the best is shown
    #[arg(long, global = true, default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=20))]
    pub rounds: u64,
    /// lost-update: increments per child
    #[arg(long, global = true, default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub increments: u64,
    /// lost-update: force the plain way's steps (each load, each store) into this order and
    /// predict the lost updates first: rr (each child in turn), free (no forcing), or child
    /// numbers such as 0101, repeated
    #[arg(long, global = true, default_value = "free")]
    pub schedule: String,
    /// shared-segment: image width in pixels
    #[arg(long, global = true, default_value_t = 640,
          value_parser = clap::value_parser!(u64).range(16..=8192))]
    pub width: u64,
    /// shared-segment: image height in pixels
    #[arg(long, global = true, default_value_t = 480,
          value_parser = clap::value_parser!(u64).range(16..=8192))]
    pub height: u64,
    /// Test hook: panic once every child mapped a segment, before its name is unlinked
    #[arg(long, global = true, hide = true)]
    pub panic_after_map: bool,
    /// Test hook: wait this many ms once every child mapped a segment, before unlinking it
    #[arg(long, global = true, hide = true)]
    pub hold_before_unlink_ms: Option<u64>,
}

/// The default for `--workers`: one child per CPU, at least two (a lost update needs two
/// writers) and at most 64 (the largest `--workers` takes).
fn default_workers() -> u64 {
    num_cpus::get().clamp(2, 64) as u64
}

/// The scenarios, and the hidden roles of child processes.
#[derive(Subcommand)]
pub enum Scenario {
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

/// What a child process of this demo does.
#[derive(Subcommand)]
pub enum Role {
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
        index: usize,
        plan: String,
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

/// What the command line asks for: the scenario (none: the tour), the knobs, and which of
/// them the user wrote (`--mib`, ...), since only those are checked against the scenario.
pub struct Parsed {
    pub scenario: Option<Scenario>,
    pub knobs: Knobs,
    pub given: Vec<&'static str>,
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
        let matches = Cli::command().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        Ok(Parsed {
            scenario: cli.scenario,
            knobs: cli.knobs,
            given: given_flags(&matches),
        })
    }
}

/// The knobs of [`APPLIES`] that the user wrote on the command line (not defaults), before or
/// after the scenario's name.
fn given_flags(matches: &clap::ArgMatches) -> Vec<&'static str> {
    use clap::parser::ValueSource::CommandLine;
    let written = |m: &clap::ArgMatches, id: &str| {
        m.try_contains_id(id).unwrap_or(false) && m.value_source(id) == Some(CommandLine)
    };
    APPLIES
        .into_iter()
        .map(|(flag, _)| flag)
        .filter(|flag| {
            let id = flag[2..].replace('-', "_");
            written(matches, &id)
                || matches
                    .subcommand()
                    .is_some_and(|(_, sub)| written(sub, &id))
        })
        .collect()
}

/// The scenarios each knob applies to (`None` for the tour: all of them).
pub const APPLIES: [(&str, &[&str]); 7] = [
    (
        "--workers",
        &["shared-segment", "lost-update", "copy-vs-share", "cleanup"],
    ),
    ("--mib", &["copy-vs-share"]),
    ("--rounds", &["copy-vs-share"]),
    ("--increments", &["lost-update"]),
    ("--schedule", &["lost-update"]),
    ("--width", &["shared-segment"]),
    ("--height", &["shared-segment"]),
];

fn usage(message: String) -> anyhow::Error {
    common::demo::cli::UsageError(message).into()
}

/// Refuses a knob given for a scenario it does not apply to, and values that cannot show the
/// lesson. On the tour (`all`) every knob goes to the scenarios that take it.
///
/// # Errors
/// A [`UsageError`](common::demo::cli::UsageError) naming the knob and why.
pub fn check(name: &str, k: &Knobs, given: &[&str]) -> Result<()> {
    for (flag, applies) in APPLIES {
        if given.contains(&flag) && name != "all" && !applies.contains(&name) {
            return Err(usage(format!(
                "{flag} applies to {}, not to {name}",
                applies.join(", ")
            )));
        }
    }
    if k.workers == 1 && (name == "all" || name == "lost-update") {
        return Err(usage(
            "--workers 1 for lost-update: losing an update needs at least two writers".into(),
        ));
    }
    let workers = k.workers;
    let in_all = workers * k.increments;
    if in_all > lost_update::MOST_IN_ALL && (name == "all" || name == "lost-update") {
        return Err(usage(format!(
            "lost-update: {workers} workers x {} increments is {in_all} under one lock, \
             more than the {} that finish in time here",
            k.increments,
            lost_update::MOST_IN_ALL
        )));
    }
    if name == "all" || name == "lost-update" {
        lost_update::check_schedule(&k.schedule, workers, k.increments).map_err(usage)?;
    }
    // Process boundary: ipc-channel makes its sockets in TMPDIR; without one it cannot start.
    // (Not bad input: the machine's state, exit status 71.)
    common::demo::machine::writable_tmpdir()?;
    Ok(())
}
