//! `sync-demo`: mutex, semaphore and deadlock, each going wrong and then right, for threads and
//! for processes.
//!
//! # What it teaches
//!
//! The overview names two situations and one failure. "10 processes working in parallel, but
//! only one of them can write data to a file at a time" is a mutex; "100 workers performing
//! three types of work, and only a certain number of workers can perform each type at a time" is
//! a semaphore per type; "a circular dependency" is a deadlock. Each scenario runs the broken
//! version first and shows the damage (torn lines, limits passed, a cycle of waiters), then the
//! cure, and checks the result. Synchronization is "slightly different" between threads and
//! processes, and every scenario shows how: threads share memory, so a `Mutex` or a `Condvar`
//! in it will do; processes share only what the kernel gives them (file locks, named
//! semaphores, shared memory), and those behave differently when a holder dies.
//!
//! # How to run it
//!
//! ```text
//! cargo run -p sync-demo                                   # every scenario, both variants
//! cargo run -p sync-demo -- mutex --with processes         # one scenario, one variant
//! cargo run -p sync-demo -- semaphore --limits 3,2,1 --workers 60
//! cargo run -p sync-demo -- --help
//! ```
//!
//! # What to look for
//!
//! Every scenario ends with one `result:` line that states its checked invariant: torn lines 0
//! with the lock and more than 0 without; the most workers inside a kind never above its limit;
//! the deadlock's cycle printed and both workers finishing; the file lock released when its
//! holder is killed, the shared-memory mutex not.
//!
//! # Modules
//!
//! - [`torn_lines`]: the mutex scenario (workers appending lines to one file).
//! - [`work_limits`]: the semaphore scenario (three kinds of work with limits).
//! - [`semaphore`]: a counting semaphore from `Mutex` + `Condvar`, model-checked with loom.
//! - [`lock_ordering`]: two threads, opposite lock order: deadlock detected, then the cures.
//! - [`dining_philosophers`]: the N-way deadlock and its cure.
//! - [`wait_for_graph`]: locks that see a circular wait (used by the two above).
//! - [`record_locks`]: two processes, `fcntl` record locks, the kernel's `EDEADLK`.
//! - [`holder_dies`]: poisoning, a file lock released by the kernel, a shared mutex left locked.
//! - [`classics`]: event, barrier, read-write lock, bounded buffer.
//! - [`crew`]: child processes (this program again) with a start gate and a message pipe.
//! - [`sys`]: POSIX named semaphores, `fcntl` record locks, a shared-memory mutex: every
//!   `unsafe` block of the crate.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod classics;
pub mod crew;
pub mod dining_philosophers;
pub mod holder_dies;
pub mod lock_ordering;
pub mod record_locks;
pub mod semaphore;
pub mod sys;
pub mod torn_lines;
pub mod wait_for_graph;
pub mod work_limits;
