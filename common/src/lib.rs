//! `common`: one [`Pool`] interface over threads ([`ThreadPool`]) and processes
//! ([`ProcessPool`]), and the small helpers every demo of this workspace shares.
//!
//! # What it teaches
//!
//! Python offers `ThreadPool` and `Pool` (or `ThreadPoolExecutor` and `ProcessPoolExecutor`)
//! with one interface. This crate does the same for Rust, in a few hundred lines meant to be
//! read: a generic `fn work<P: Pool>(pool: &P)` runs unchanged on both pools and gets the same
//! results. What differs is what happens underneath, and that is the lesson:
//!
//! - a thread worker shares the program's memory, so a task's argument simply moves to it;
//! - a process worker has memory of its own, so the argument is encoded to bytes, sent over a
//!   socket, and decoded; the task itself travels as a code address ([`ProcessPool`] explains
//!   how);
//! - a task that panics fails alone, on both pools;
//! - a process worker that dies (abort, `SIGKILL`, `exit`) fails only the task it was running,
//!   and is replaced; a thread pool could not survive that, because an abort ends the process;
//! - a process pool can kill a running task ([`ProcessPool::terminate`]); a thread pool cannot.
//!
//! # How to run it
//!
//! ```text
//! cargo run -p common --example pool_tour     # both pools, side by side
//! cargo test -p common                        # the contract, including fault tests
//! cargo bench -p common --bench compare       # against rayon, threadpool, procspawn, Python
//! ```
//!
//! # Modules
//!
//! - [`pool`]: the [`Pool`] trait, task handles, the unordered stream, chunking, timelines.
//! - [`thread_pool`]: [`ThreadPool`], std threads fed by a crossbeam channel.
//! - [`process_pool`]: [`ProcessPool`], re-executed workers fed over ipc-channel.
//! - [`child`]: starting this program again as a child process that cannot become a zombie.
//! - [`cli`]: exit statuses shared by every demo (2 for bad input).
//! - [`cleanup`]: what to kill and remove if the program is interrupted.
//! - [`narrate`]: the one output format of every demo (headers, times, speed-ups, results).
//! - [`sys`]: the few Linux calls std lacks, each behind a safe function.
//! - [`testing`]: helpers for tests that look at processes and `/dev/shm` through `/proc`.
#![warn(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    missing_docs
)]

pub mod child;
pub mod cleanup;
pub mod cli;
mod error;
pub mod narrate;
mod panics;
pub mod plumbing;
pub mod pool;
pub mod process_pool;
pub mod sys;
pub mod testing;
pub mod thread_pool;

pub use error::Error;
pub use pool::{Chunk, Pool, Results, Span, Task, TaskHandle, Unordered};
pub use process_pool::{ProcessPool, ProcessPoolBuilder};
pub use thread_pool::{ThreadPool, ThreadPoolBuilder};

/// Prepares this process; call it first thing in `main`.
///
/// - If this process was started by [`child::self_command`], it arranges to die with its
///   parent (see there).
/// - If this process was started as a [`ProcessPool`] worker, it serves its pool and exits
///   here: `init` never returns in a worker. This is Rust's analogue of Python's
///   `if __name__ == "__main__":` guard, which keeps a spawned worker from running the program.
/// - Otherwise it installs the interrupt handler of [`cleanup`], so that Ctrl-C kills and reaps
///   registered child processes and removes registered files before the program exits, and
///   removes the socket directories of earlier runs that were killed mid-handshake
///   ([`cleanup::sweep_stale_sockets`]).
pub fn init() {
    child::die_with_parent_if_child();
    process_pool::worker::run_if_worker();
    cleanup::install_interrupt_handler();
    // What an earlier run killed by SIGKILL mid-handshake left behind (see the function).
    cleanup::sweep_stale_sockets(&std::env::temp_dir(), std::time::Duration::from_secs(10));
}
