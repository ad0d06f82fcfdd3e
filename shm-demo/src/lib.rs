//! `shm-demo`: shared memory between processes, against copying.
//!
//! # What it teaches
//!
//! Threads share an address space for free; processes share nothing unless they ask. This demo
//! shows what asking costs and buys. A child process changes only its own copy of the parent's
//! data ([`separate_memory`]); a shared segment, opened by name, lets N children write one image
//! in place ([`shared_segment`]); shared state brings back lost updates, cured by atomics or a
//! lock *inside* the segment ([`lost_update`]); a shared segment moves data at memcpy speed where
//! messages copy it twice ([`copy_vs_share`]); and a segment is a file in `/dev/shm` that outlives
//! a killed program unless the program takes care ([`cleanup`], [`segment`]).
//!
//! # How to run it
//!
//! ```text
//! cargo run -p shm-demo                          # every scenario, in order
//! cargo run -p shm-demo -- lost-update --workers 4 --increments 1000000
//! cargo run --release -p shm-demo -- copy-vs-share --size 256
//! cargo test -p shm-demo                         # each scenario and every way to die
//! ```
//!
//! # What to look for
//!
//! - `separate-memory`: the parent's sum is the same before and after the child doubled "it".
//! - `shared-segment`: the parent verifies every pixel where the children wrote it.
//! - `lost-update`: `plain` loses thousands of increments; `atomic` and `lock` lose none, and
//!   the lock is the slowest.
//! - `copy-vs-share`: the table; a reused segment runs near 1.00x of memcpy, messages far below.
//! - `cleanup`: a segment that is listed while the children run and gone before they finish.
//!
//! Children are this executable started again with the hidden `child` subcommand; they print
//! lines tagged `[pid N]`, which the parent relays. No segment, child process or file remains
//! after a normal run, a panic, Ctrl-C, SIGTERM, or SIGKILL of the parent (see [`segment`]).
//!
//! Two hidden flags exist for the reliability tests: `--panic-after-map` panics in the parent
//! once every child mapped a segment, before its name is unlinked; `--hold-before-unlink-ms N`
//! sleeps there, so a test can send a signal while the name still exists.
//!
//! # Modules
//!
//! - [`separate_memory`]: a child process changes its copy; a thread changes the original.
//! - [`shared_segment`]: children compute rows of an image in one segment, in place.
//! - [`lost_update`]: load-then-store vs `fetch_add` vs a process-shared mutex, timed.
//! - [`copy_vs_share`]: ipc-channel messages vs shared memory vs memcpy, in GB/s.
//! - [`cleanup`]: the leak of a killed owner, and the technique that prevents it.
//! - [`segment`]: the leak-proof segment every scenario uses (naming, guard, unlink, sweep),
//!   its free-space check, and its checked, typed views: every `unsafe` block of the crate.
//! - [`crew`]: the report limit over `common::demo::process`, which starts the children.
//! - [`output`]: result lines that fit, a `load:` warning, a closed pipe that ends quietly.
//! - [`cli`]: the command line (clap) with every default, and the checks of the knobs.
//! - [`tour`]: runs one scenario or all in order, or a child's role.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod cleanup;
pub mod cli;
pub mod copy_vs_share;
pub mod crew;
pub mod lost_update;
pub mod output;
pub mod segment;
pub mod separate_memory;
pub mod shared_segment;
pub mod tour;
