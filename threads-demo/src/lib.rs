//! `threads-demo`: the scenarios of `processes-demo`, run with threads of one process.
//!
//! # What it teaches
//!
//! A thread is a second line of execution *inside* a process: it shares the process's memory,
//! its pid and its fate. Every scenario here has a twin of the same file name in
//! `processes-demo`, with the same public functions and the same workload constants, so
//!
//! ```text
//! diff -u threads-demo/src/shared_memory.rs processes-demo/src/shared_memory.rs
//! ```
//!
//! shows exactly what a process boundary changes: how a worker starts, how data reaches it,
//! what it can share, and how its crash looks from outside.
//!
//! # How to run it
//!
//! ```text
//! cargo run -p threads-demo                          # every scenario, in order
//! cargo run -p threads-demo -- speedup --workers 4   # one scenario, with a knob
//! cargo run -p threads-demo -- --help                # the list of scenarios and knobs
//! cargo test -p threads-demo                         # every scenario, checked
//! ```
//!
//! # What to look for
//!
//! Every thread reports the same pid; a thread changes only what it owns (moved values,
//! `thread_local!`) unless memory is shared on purpose (`Arc<Mutex<_>>`, atomics), and the
//! compiler refuses to share it any other way; a panic ends one thread, an abort ends them all.
//! Each scenario ends with one `result:` line that states its checked invariant.
//!
//! # Modules
//!
//! - [`crew`]: the workers of a scenario (threads of this process), their reports and their end.
//! - [`spawn_join`]: N threads say who they are; the parent joins every one.
//! - [`private_memory`]: moved copies and `thread_local!` stay private to a thread.
//! - [`shared_memory`]: one counter shared through `Arc<Mutex<_>>` and through an atomic.
//! - [`false_sharing`]: own counters in one cache line, then padded apart: the cost, timed.
//! - [`messages`]: producers and a consumer over a bounded crossbeam channel.
//! - [`crash`]: a panicking thread is reported by `join`; an abort takes every thread with it.
//! - [`speedup`]: the same CPU-bound work on 1, 2, ... N threads.
//! - [`pool`]: the same tasks through `common::ThreadPool`.
//! - [`borrow_stack`]: scoped threads borrow the parent's stack, no copy needed.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod borrow_stack;
pub mod crash;
pub mod crew;
pub mod false_sharing;
pub mod messages;
pub mod pool;
pub mod private_memory;
pub mod shared_memory;
pub mod spawn_join;
pub mod speedup;

use anyhow::{Context, Result};
use clap::builder::RangedU64ValueParser;
use common::demo::cli::UsageError;
use std::io::Write;

/// The scenarios, in the order `all` runs them.
#[derive(clap::Subcommand, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Every scenario below, in order (the default)
    All,
    /// N workers say who they are; the parent waits for every one
    SpawnJoin,
    /// Each worker changes its own copy; the parent's value stays as it was
    PrivateMemory,
    /// One counter shared on purpose: a Mutex and an atomic give the exact total
    SharedMemory,
    /// Own counters side by side or a cache line apart: false sharing, timed
    FalseSharing,
    /// Producers and a consumer over a bounded channel: back-pressure, a timeout, messages/s
    Messages,
    /// A worker that panics or aborts, seen from the parent
    Crash,
    /// The same CPU-bound work on 1, 2, ... N workers: time, speed-up, efficiency
    Speedup,
    /// The same tasks through common's pool
    Pool,
    /// Workers that read and write the parent's array
    BorrowStack,
}

/// The knobs every scenario reads; each is checked by clap (out of range: exit status 2).
#[derive(clap::Args, Clone, Debug)]
pub struct Knobs {
    /// Workers (threads here, processes in processes-demo), in every scenario but crash
    #[arg(long, global = true, default_value_t = num_cpus::get().clamp(1, 256),
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub workers: usize,
    /// Increments per worker in shared-memory
    #[arg(long, global = true, default_value_t = shared_memory::INCREMENTS,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..=10_000_000))]
    pub increments: u64,
    /// Messages sent in all in messages
    #[arg(long, global = true, default_value_t = messages::MESSAGES,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..=10_000_000))]
    pub messages: u64,
    /// Messages in flight at most (the channel's bound) in messages
    #[arg(long, global = true, default_value_t = messages::CAPACITY,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    pub capacity: usize,
    /// Numbers searched for primes in speedup and pool
    #[arg(long, global = true, default_value_t = speedup::PRIME_LIMIT,
          value_parser = RangedU64ValueParser::<u64>::new().range(1_000..=1_000_000_000))]
    pub limit: u64,
    /// The share of speedup's work made serial, in percent (Amdahl's law)
    #[arg(long, global = true, value_name = "PCT", default_value_t = speedup::SERIAL_PCT,
          value_parser = RangedU64ValueParser::<u64>::new().range(0..=99))]
    pub serial: u64,
    /// Tasks in pool
    #[arg(long, global = true, default_value_t = pool::TASKS,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub tasks: usize,
    /// Elements of the parent's array in borrow-stack
    #[arg(long, global = true, default_value_t = borrow_stack::SIZE,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    pub size: usize,
}

/// Every scenario, in the order `all` runs them.
pub const TOUR: [Scenario; 9] = [
    Scenario::SpawnJoin,
    Scenario::PrivateMemory,
    Scenario::SharedMemory,
    Scenario::FalseSharing,
    Scenario::Messages,
    Scenario::Crash,
    Scenario::Speedup,
    Scenario::Pool,
    Scenario::BorrowStack,
];

impl Scenario {
    /// The scenario's command, which is also its header and, with `_` for `-`, its file name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::All => "all",
            Scenario::SpawnJoin => "spawn-join",
            Scenario::PrivateMemory => "private-memory",
            Scenario::SharedMemory => "shared-memory",
            Scenario::FalseSharing => "false-sharing",
            Scenario::Messages => "messages",
            Scenario::Crash => "crash",
            Scenario::Speedup => "speedup",
            Scenario::Pool => "pool",
            Scenario::BorrowStack => "borrow-stack",
        }
    }
}

/// Each knob and the scenarios it changes: a knob given for any other scenario is refused
/// (exit status 2), so no flag is ever silently ignored. `crash` takes none: it runs one worker
/// per fate, four in all.
pub const FLAGS: &[(&str, &[&str])] = &[
    (
        "--workers",
        &[
            "spawn-join",
            "private-memory",
            "shared-memory",
            "false-sharing",
            "messages",
            "speedup",
            "pool",
            "borrow-stack",
        ],
    ),
    ("--increments", &["shared-memory"]),
    ("--messages", &["messages"]),
    ("--capacity", &["messages"]),
    ("--limit", &["speedup", "pool"]),
    ("--serial", &["speedup"]),
    ("--tasks", &["pool"]),
    ("--size", &["borrow-stack"]),
];

/// The knobs of [`FLAGS`] that the user wrote on the command line (not defaults), before or
/// after the scenario's name.
pub fn given_flags(matches: &clap::ArgMatches) -> Vec<&'static str> {
    use clap::parser::ValueSource::CommandLine;
    let written = |m: &clap::ArgMatches, id: &str| {
        m.try_contains_id(id).unwrap_or(false) && m.value_source(id) == Some(CommandLine)
    };
    FLAGS
        .iter()
        .map(|(flag, _)| *flag)
        .filter(|flag| {
            let id = &flag[2..];
            written(matches, id)
                || matches
                    .subcommand()
                    .is_some_and(|(_, sub)| written(sub, id))
        })
        .collect()
}

impl Knobs {
    /// Checks what clap cannot check alone: knobs given to a scenario they do not apply to
    /// (`given`, from [`given_flags`]), values that cannot show the lesson, combinations.
    ///
    /// # Errors
    /// A [`UsageError`] naming the knobs and the reason (exit status 2).
    pub fn check(&self, scenario: Scenario, given: &[&str]) -> Result<()> {
        common::demo::cli::check_flags(scenario.name(), given, FLAGS)?;
        let sharing = matches!(scenario, Scenario::All | Scenario::SharedMemory);
        if sharing && self.workers < 2 {
            let why = "--workers 1: shared-memory needs at least 2 workers to share anything";
            return Err(UsageError(why.into()).into());
        }
        self.validate()
    }

    /// Checks what clap cannot check alone: combinations of knobs.
    ///
    /// # Errors
    /// A [`UsageError`] naming the knobs (exit status 2).
    pub fn validate(&self) -> Result<()> {
        let total = self.workers as u64 * self.increments;
        if total > 100_000_000 {
            let why = format!("--workers x --increments is {total}; at most 100000000 are allowed");
            return Err(UsageError(why).into());
        }
        if self.tasks as u64 > self.limit {
            let why = format!(
                "--tasks ({}) may not exceed --limit ({})",
                self.tasks, self.limit
            );
            return Err(UsageError(why).into());
        }
        Ok(())
    }
}

/// Runs one scenario (or all of them) with `knobs`, narrating to `out`.
///
/// # Errors
/// A [`UsageError`] for bad knobs, a failed check, or a failed spawn.
pub fn run(scenario: Scenario, knobs: &Knobs, out: &mut impl Write) -> Result<()> {
    knobs.validate()?;
    let k = knobs;
    match scenario {
        Scenario::All => {
            for s in TOUR {
                run(s, k, out)?;
            }
            Ok(())
        }
        Scenario::SpawnJoin => spawn_join::run(out, k.workers),
        Scenario::PrivateMemory => private_memory::run(out, k.workers),
        Scenario::SharedMemory => shared_memory::run(out, k.workers, k.increments),
        Scenario::FalseSharing => false_sharing::run(out, k.workers),
        Scenario::Messages => messages::run(out, k.workers, k.messages, k.capacity),
        Scenario::Crash => crash::run(out, k.workers),
        Scenario::Speedup => speedup::run(out, k.workers, k.limit, k.serial),
        Scenario::Pool => pool::run(out, k.workers, k.tasks, k.limit),
        Scenario::BorrowStack => borrow_stack::run(out, k.workers, k.size),
    }
    .with_context(|| format!("scenario {}", scenario.name()))
}

/// Names of this process's threads that are still alive and start with `prefix`, read from
/// `/proc/self/task/*/comm`: the way to show that no worker thread outlived its `join`.
///
/// A joined thread's entry can outlive its `join` by a moment: the kernel wakes the joiner as
/// the thread exits and removes the entry a little later (seen once in 20 interrupted tours on
/// a busy machine). So a thread still listed is looked for again, for up to 100 ms.
pub fn live_threads(prefix: &str) -> Result<Vec<String>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    loop {
        let names = thread_names(prefix)?;
        if names.is_empty() || std::time::Instant::now() >= deadline {
            return Ok(names);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Names of this process's threads that start with `prefix`, as listed now.
fn thread_names(prefix: &str) -> Result<Vec<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")?;
    let mut names = Vec::new();
    for task in tasks.flatten() {
        // A thread may end between read_dir and this read; it is then simply not alive.
        if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
            if name.starts_with(prefix) {
                names.push(name.trim_end().to_string());
            }
        }
    }
    Ok(names)
}

/// The hidden `child` subcommand: runs worker `index` of `scenario` in a child process. Only
/// `crash` has one here: its abort must end a process of its own, not the demo.
///
/// # Errors
/// An unknown scenario or parameters (a worker that aborts never returns).
pub fn child_main(scenario: &str, index: usize, params: &[String]) -> Result<()> {
    match (scenario, params) {
        ("crash", []) => crash::child(index),
        (other, _) => Err(UsageError(format!("no worker for scenario \"{other}\"")).into()),
    }
}
