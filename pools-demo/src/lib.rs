//! `pools-demo`: one workload through a [`ThreadPool`] and a [`ProcessPool`], compared and drawn.
//!
//! # What it teaches
//!
//! Python offers `ThreadPool` and `Pool` with one interface; `common` does the same for Rust.
//! Every scenario here is written once, as a function generic over `P: Pool`, and run on both
//! pools. The results are identical; what differs is the cost and what can go wrong:
//!
//! - in Rust, threads *do* speed up CPU-bound work (there is no global interpreter lock), so a
//!   thread pool is the default choice;
//! - a process pool pays for starting its workers and for encoding every argument and result
//!   into bytes, so tiny tasks must travel in chunks;
//! - in exchange a process pool isolates crashes: a task that aborts kills one worker, which is
//!   replaced, while the same abort in a thread pool ends the whole program.
//!
//! # How to run it
//!
//! ```text
//! cargo run -p pools-demo                         # every scenario, a few seconds
//! cargo run -p pools-demo -- timeline --chunk 2   # one scenario, with options
//! cargo run -p pools-demo -- all --svg charts     # also write SVG charts to charts/
//! cargo run --release -p pools-demo -- bench      # the larger comparison, with a progress bar
//! cargo test -p pools-demo                        # run every scenario and check its result
//! ```
//!
//! # What to look for
//!
//! Each scenario ends with one `result:` line: the checked invariant (values, counts, error
//! kinds; never timings) and the lesson. The timings around it are the evidence for the lesson;
//! they vary from run to run, and a debug build exaggerates per-task overhead.
//!
//! # Modules
//!
//! - [`same_interface`]: one generic function, identical results on both pools.
//! - [`ordered_vs_completed`]: `map` waits and keeps order; `map_unordered` streams; `submit`
//!   with a timeout.
//! - [`chunking`]: many tiny tasks, batch sizes 1, 10, 100 and auto: per-task overhead.
//! - [`workloads`]: CPU-bound, tiny and sleeping work, sequential vs both pools, with speed-ups.
//! - [`timeline`]: who ran which batch when, drawn in ASCII (and SVG with `--svg`).
//! - [`crash`]: a panicking and an aborting task on both pools.
//! - [`sizing`]: 1 to 2N workers on CPU-bound work; logical vs physical CPUs.
//! - [`streaming`]: input pulled lazily: eager vs streamed peak memory, and an endless input.
//! - [`share_vs_send`]: a large table read by every task: sent with each, shared once, or
//!   read in place.
//! - [`stopping`]: shutdown(false), shutdown(true), terminate() and drop, side by side.
//! - [`imbalance`]: a skewed image split in blocks, interleaved, or dynamically: who waited.
//! - [`start_methods`]: fork, fork + exec, and the pool's re-exec, timed; fork after threads.
//! - [`sys`](mod@sys): `fork` and `waitpid` behind safe calls: the crate's only `unsafe`.
//! - [`bench`](mod@bench): the larger comparison behind the README's table, with a progress bar.
//! - [`tasks`]: the task functions every scenario sends to the pools.
//! - [`picture`]: the ASCII timeline picture, and the timeline consistency check.
//! - [`charts`]: the SVG charts, drawn with plotters.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod bench;
pub mod blocking_vs_handles;
pub mod charts;
pub mod chunking;
pub mod crash;
pub mod imbalance;
pub mod ordered_vs_completed;
pub mod picture;
pub mod same_interface;
pub mod share_vs_send;
pub mod sizing;
pub mod start_methods;
pub mod stopping;
pub mod streaming;
pub mod sys;
pub mod tasks;
pub mod timeline;
pub mod workloads;

use anyhow::Context;
use common::demo::cli::UsageError;
use common::{Chunk, ProcessPool, ThreadPool};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every scenario of the default run, in order (`bench` is run on its own).
pub const TOUR: [&str; 13] = [
    "same-interface",
    "ordered-vs-completed",
    "blocking-vs-handles",
    "chunking",
    "workloads",
    "timeline",
    "crash",
    "sizing",
    "streaming",
    "share-vs-send",
    "stopping",
    "imbalance",
    "start-methods",
];

/// Each shared knob and the scenarios it changes: a knob given for any other scenario is
/// refused (exit status 2), so no flag is ever silently ignored. `sizing` takes no `--workers`:
/// it tries 1 to 2N workers itself.
pub const FLAGS: &[(&str, &[&str])] = &[
    (
        "--workers",
        &[
            "same-interface",
            "ordered-vs-completed",
            "blocking-vs-handles",
            "chunking",
            "workloads",
            "timeline",
            "crash",
            "bench",
            "streaming",
            "share-vs-send",
            "stopping",
            "imbalance",
        ],
    ),
    ("--chunk", &["chunking", "workloads", "timeline", "bench"]),
    ("--svg", &["workloads", "timeline", "bench"]),
    ("--tasks", &["chunking"]),
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

/// The knobs every scenario shares, from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Workers per pool.
    pub workers: usize,
    /// Batch size for `map` where a scenario lets you choose (`None`: automatic).
    pub chunk: Option<usize>,
    /// Where to write SVG charts, if anywhere (already checked to be writable).
    pub svg: Option<PathBuf>,
}

impl Settings {
    /// The `--chunk` choice as a [`Chunk`].
    pub fn chunk(&self) -> Chunk {
        self.chunk.map_or(Chunk::Auto, Chunk::Size)
    }
}

/// A thread pool of `workers` threads.
///
/// # Errors
/// The pool's error (zero workers, or a thread the OS refused).
pub fn thread_pool(workers: usize, record_timeline: bool) -> anyhow::Result<ThreadPool> {
    ThreadPool::builder()
        .workers(workers)
        .record_timeline(record_timeline)
        .build()
        .with_context(|| format!("starting a thread pool of {workers}"))
}

/// A process pool of `workers` processes, every one connected when this returns.
///
/// # Errors
/// The pool's error (zero workers, or a worker that did not start or connect).
pub fn process_pool(workers: usize, record_timeline: bool) -> anyhow::Result<ProcessPool> {
    ProcessPool::builder()
        .workers(workers)
        .record_timeline(record_timeline)
        .build()
        .with_context(|| format!("starting a process pool of {workers}"))
}

/// Runs `f` and returns its value with the time it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// The median of a few timings (the upper middle one for an even count).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Makes sure `dir` exists and is writable, before any scenario runs, so that a bad `--svg`
/// is reported at once as bad input (exit status 2) rather than after seconds of work.
///
/// # Errors
/// A [`UsageError`] naming the directory and the reason.
pub fn check_svg_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let unusable = |e: std::io::Error| {
        UsageError(format!(
            "--svg {}: not a writable directory: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    // Creating the directory succeeds when it already exists, even read-only: try a file.
    let probe = dir.join(format!(".pools-demo-probe-{}", std::process::id()));
    let guard = common::demo::cleanup::PathGuard::new(&probe);
    std::fs::write(&probe, b"").map_err(unusable)?;
    drop(guard); // removes the probe
    Ok(dir.to_path_buf())
}
