//! What the demos of this workspace share, beside the pools: one output format, one way to exit,
//! cleanup that leaves nothing behind, and child processes that cannot outlive their parent.
//!
//! None of this is needed to use a pool; it is here so that every demo narrates, exits and
//! cleans up the same way, and so that a student comparing two demos sees only what differs.
//!
//! - [`copies`]: numbers copied to a child and back over its stdin and stdout.
//! - [`narrate`]: headers, actor tags, durations, speed-ups and the checked `result:` line.
//! - [`cli`]: one exit-status policy: 1 for a failed check, 2 for bad input, 71 for a machine
//!   that cannot run it.
//! - [`machine`]: what a machine may lack (a writable `TMPDIR`, room in `/dev/shm`,
//!   descriptors, processes), found before it fails or recognised in the error.
//! - [`cleanup`]: on Ctrl-C, kill registered children and remove registered files.
//! - [`abort`]: a child process that aborts beside a sibling thread, and the parent's watch.
//! - [`child`]: this program started again as a child that dies with its parent.
//! - [`process`]: the parent's side of its children: tagged lines, commands, bounded reaping,
//!   and ipc-channel's `accept` with a deadline and its socket guarded.
//! - [`procfs`]: what `/proc` says about processes (children, states), and `/dev/shm`.
//! - [`segment`]: memory shared between processes on purpose, with its name guarded, and a
//!   lock that works in it.
//! - [`threads`]: the threads twin of a crew of processes: named workers, their lines, a
//!   request to stop, bounded joins.
//! - [`sys`]: the few Linux calls std lacks, each behind a safe function.

pub mod abort;
pub mod child;
pub mod cleanup;
pub mod cli;
pub mod copies;
pub mod machine;
pub mod narrate;
pub mod process;
pub mod procfs;
pub mod segment;
pub mod sys;
pub mod threads;
