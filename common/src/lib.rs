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
//! # Where things are
//!
//! At the root: what a pool user needs ([`Pool`], [`ThreadPool`], [`ProcessPool`], their
//! builders, [`TaskHandle`], the streams [`Unordered`], [`MapIter`] and [`as_completed`]'s
//! [`AsCompleted`], [`Chunk`], [`Span`], [`Error`] with [`Exit`], and [`init`]). Beside it:
//!
//! - [`plumbing`]: what a new kind of pool implements ([`Pool::dispatch`], batches, sinks).
//! - [`demo`]: narration, exit statuses, cleanup, child processes (one process layer) and
//!   `/proc` readers for this workspace's demos.
//! - `testing` (with the `testing` feature): helpers for tests that look at processes through
//!   `/proc`.
#![warn(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    missing_docs
)]

mod as_completed;
mod batch;
mod chunk;
mod codec;
pub mod demo;
mod error;
mod handle;
mod map_iter;
mod panics;
pub mod plumbing;
mod pool;
mod process_pool;
mod slot;
#[cfg(feature = "testing")]
pub mod testing;
mod thread_pool;
mod timeline;
mod unordered;

// The pools' own short paths to the helpers they share with the demos (`crate::sys`, ...).
use demo::{child, cleanup, sys};

pub use as_completed::{as_completed, AsCompleted};
pub use error::{Error, Exit};
pub use map_iter::MapIter;
pub use pool::{Chunk, Pool, Span, TaskHandle, Unordered};
pub use process_pool::{ProcessPool, ProcessPoolBuilder};
pub use thread_pool::{ThreadPool, ThreadPoolBuilder};

/// Prepares this process; call it first thing in `main`.
///
/// - If this process was started by [`demo::child::self_command`], it arranges to die with its
///   parent (see there).
/// - If this process was started as a [`ProcessPool`] worker, it serves its pool and exits
///   here: `init` never returns in a worker. This is Rust's analogue of Python's
///   `if __name__ == "__main__":` guard, which keeps a spawned worker from running the program.
/// - Otherwise it installs the interrupt handler of [`demo::cleanup`], so that Ctrl-C kills and reaps
///   registered child processes and removes registered files before the program exits.
///
/// It costs a few microseconds: it reads two environment variables and starts one thread; it
/// never scans or removes files.
///
/// Forgetting it is an error, not a fork storm: [`ProcessPool::new`] then fails at once with a
/// message naming `common::init()`. It must run on the main thread, first: a worker started
/// from a libtest `#[test]` would otherwise run the test harness; such a worker stops at once
/// and the pool's `new` fails with that reason. Test code that uses a `ProcessPool` lives in a
/// test target with `harness = false` whose `main` calls `common::init()` (see common's README).
pub fn init() {
    INIT_CALLED.store(true, std::sync::atomic::Ordering::Relaxed);
    child::die_with_parent_if_child();
    process_pool::worker::run_if_worker();
    cleanup::install_interrupt_handler();
}

/// Set by [`init`]. A [`ProcessPool`] refuses to start without it: in a program whose `main`
/// does not call `init`, each worker would run `main` again and start workers of its own.
static INIT_CALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn init_was_called() -> bool {
    INIT_CALLED.load(std::sync::atomic::Ordering::Relaxed)
}
