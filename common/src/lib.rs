//! `common`: one [`Pool`] interface over threads ([`ThreadPool`]) and processes
//! ([`ProcessPool`]), and the small helpers every demo of this workspace shares.
//!
//! # What it teaches
//!
//! Python offers `ThreadPool` and `Pool` (or `ThreadPoolExecutor` and `ProcessPoolExecutor`)
//! with one interface. This crate does the same for Rust: a generic `fn work<P: Pool>(pool: &P)`
//! runs unchanged on both pools and gets the same results. What differs is what happens
//! underneath, and that is the lesson:
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
//! # Reading it
//!
//! `src/` is about 11,600 lines, and a reader needs a third of them. Another third is [`demo`]
//! (helpers for this workspace's demos) and `testing`. Of the pools, start with the core, about
//! 4,000 lines with their unit tests, which hold the whole contract:
//!
//! - `pool.rs`: the trait, every method written once over one required method, `dispatch`;
//!   `batch.rs`, `slot.rs`, `handle.rs`: a batch's way back, a task's result and its handle;
//!   `chunk.rs`, `panics.rs`, `codec.rs`: batch sizes, panics as errors, items as bytes;
//! - `thread_pool.rs`: threads fed by one channel;
//! - `process_pool/`: `mod.rs`, `spawn.rs`, `supervisor.rs`, `job.rs`, `worker.rs`, `link.rs`,
//!   `wire.rs`, `message.rs` and `call.rs`: one supervisor thread per worker process, the
//!   private socket pair, the frames, and how a function pointer reaches another process.
//!
//! The rest of the pools, about 2,000 lines, are speed layers, each opening with what it wins,
//! measured; skip them and the pools still make sense: the thread pool's in-place `map`
//! (`thread_pool/in_place.rs`, `map.rs`) and its inlined tasks (`inline.rs`), a task lent
//! straight to an idle worker
//! (`process_pool/lend.rs`, `lend/`, `park.rs`), batches queued ahead at a worker
//! (`prefetch.rs`), and large or repeated payloads kept off fresh memory (`answer.rs`,
//! `streamed.rs`, `owned_bytes.rs`, `big_buffer.rs`).
//!
//! # Where things are
//!
//! At the root: what a pool user needs ([`Pool`], [`ThreadPool`], [`ProcessPool`], their
//! builders, [`TaskHandle`], [`Task`], [`Chunk`], [`Span`], [`Error`] with [`Exit`],
//! [`as_completed`], [`Array`], [`Shared`] and [`init`]: 15 names, the most there may be, as
//! a test below checks). [`Task`]
//! is the bound that a helper generic over the pool and the item type writes, on every pool:
//!
//! ```
//! use common::{Pool, Task, ThreadPool};
//!
//! // `f` runs twice over every item, on any pool, for any type a task can take.
//! fn twice<P: Pool, T: Task>(pool: &P, f: fn(T) -> T, items: Vec<T>) -> Vec<T> {
//!     let once = pool.map(f, items).expect("f does not panic");
//!     pool.map(f, once).expect("f does not panic")
//! }
//!
//! let pool = ThreadPool::new(2).unwrap();
//! assert_eq!(twice(&pool, |n: u64| n + 1, vec![1, 2]), [3, 4]);
//! assert_eq!(twice(&pool, |s: String| s + "!", vec!["hi".into()]), ["hi!!"]);
//! ```
//!
//! A task's argument and result are owned values: [`Task`] asks `DeserializeOwned` and
//! `'static`. A process worker decodes its argument from bytes that are gone once the task
//! starts, so a borrowed `&str` would point into nothing; the thread pool keeps the same rule,
//! so that one generic function runs on both. A borrowed argument does not compile (rustc says
//! "implementation of `Deserialize` is not general enough"); a `String` does:
//!
//! ```compile_fail
//! use common::{Pool, ThreadPool};
//! let pool = ThreadPool::new(2).unwrap();
//! let lengths = pool.map(|s: &'static str| s.len(), vec!["a", "bc"]).unwrap();
//! ```
//!
//! ```
//! use common::{Pool, ThreadPool};
//! let pool = ThreadPool::new(2).unwrap();
//! let owned: Vec<String> = ["a", "bc"].map(String::from).into();
//! assert_eq!(pool.map(|s: String| s.len(), owned).unwrap(), [1, 2]);
//! ```
//!
//! Beside the root:
//!
//! - [`iter`]: the iterators that [`Pool::map_unordered`], [`Pool::map_iter`] and
//!   [`as_completed`] return, which a user rarely names.
//! - [`inline`]: [`inline::task!`], a task that [`Pool::map_inline`] runs on a thread pool
//!   with its closure inlined, and everywhere else as a `fn` pointer.
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

mod array;
mod as_completed;
mod batch;
mod chunk;
mod codec;
pub mod demo;
mod error;
mod feed;
mod handle;
pub mod inline;
mod map_iter;
mod panics;
pub mod plumbing;
mod pool;
mod process_pool;
mod shared;
mod slot;
#[cfg(feature = "testing")]
pub mod testing;
mod thread_pool;
mod timeline;
mod unordered;

// The pools' own short paths to the helpers they share with the demos (`crate::sys`, ...).
use demo::{child, cleanup, sys};

// The user's API: at most 15 names at the root (DESIGN.md; checked by a test below).
pub use array::Array;
pub use as_completed::as_completed;
pub use error::{Error, Exit};
pub use pool::{Chunk, Pool, Span, Task, TaskHandle};
pub use process_pool::{ProcessPool, ProcessPoolBuilder};
pub use shared::Shared;
pub use thread_pool::{ThreadPool, ThreadPoolBuilder};

/// The iterators that a pool's streaming methods return: named in signatures, rarely by users
/// (as `std::collections::hash_map::Iter` is), so they live here rather than at the root.
pub mod iter {
    pub use crate::as_completed::AsCompleted;
    pub use crate::map_iter::MapIter;
    pub use crate::pool::Unordered;
}
// Their short paths inside this crate, where other modules name them (`crate::MapIter`).
#[allow(unused_imports)]
pub(crate) use iter::{AsCompleted, MapIter, Unordered};

/// Prepares this process; call it first thing in `main`.
///
/// - If this process was started by [`demo::child::self_command`], it arranges to die with its
///   parent (see there).
/// - If this process was started as a [`ProcessPool`] worker, it serves its pool and exits
///   here: `init` never returns in a worker. This is Rust's analogue of Python's
///   `if __name__ == "__main__":` guard, which keeps a spawned worker from running the program.
/// - Otherwise it installs the interrupt handler of [`demo::cleanup`], so that Ctrl-C kills and
///   reaps registered child processes and removes registered files before the program exits.
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

#[cfg(test)]
mod tests {
    /// The user's API stays small: at most 15 names at the crate root (DESIGN.md), counted from
    /// this file's own `pub` items and `pub use`s (modules are not counted: they are places).
    #[test]
    fn the_root_has_at_most_15_names() {
        let source = include_str!("lib.rs");
        let mut names = Vec::new();
        let mut lines = source.lines();
        while let Some(line) = lines.next() {
            if let Some(mut import) = line.strip_prefix("pub use ").map(String::from) {
                // rustfmt may spread a long `use` over several lines.
                while !import.ends_with(';') {
                    import += lines.next().expect("a `use` ends with `;`");
                }
                let tail = import.trim_end_matches(';');
                let list = tail.rsplit_once("::").map_or(tail, |(_, list)| list);
                let list = list.trim_matches(|c| c == '{' || c == '}');
                names.extend(
                    list.split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(String::from),
                );
            } else if let Some(item) = [
                "pub fn ",
                "pub struct ",
                "pub enum ",
                "pub trait ",
                "pub static ",
                "pub const ",
                "pub type ",
            ]
            .iter()
            .find_map(|kind| line.strip_prefix(kind))
            {
                let name = item
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next();
                names.push(name.expect("an item has a name").to_string());
            }
        }
        assert!(
            names.contains(&"Task".to_string()),
            "the parse found the root: {names:?}"
        );
        assert!(
            names.len() <= 15,
            "{} names at the root: {names:?}",
            names.len()
        );
    }
}
