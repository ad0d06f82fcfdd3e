//! `sync-demo`: ordered and unordered work, mutex, semaphore and deadlock, each going wrong and
//! then right, for threads and for processes.
//!
//! # What it teaches
//!
//! The overview calls work asynchronous when workers run independently, with no coordination,
//! and synchronous when they are coordinated "such that the operations occur in a predefined
//! order". It names two situations and one failure: "10 processes working in parallel, but only
//! one of them can write data to a file at a time" is a mutex; "100 workers performing three
//! types of work, and only a certain number of workers can perform each type at a time" is a
//! semaphore per type; "a circular dependency" is a deadlock. Each scenario runs the broken (or
//! uncoordinated) version first and shows the damage (an order that changes, torn lines, limits
//! passed, a cycle of waiters), then the cure, and checks the result. Synchronization is
//! "slightly different" between threads and processes, and every scenario shows how: threads
//! share memory, so a `Mutex` or a `Condvar` in it will do; processes share only what the kernel
//! gives them (pipes, file locks, named semaphores, shared memory), and those behave differently
//! when a holder dies.
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
//! Every scenario ends with one `result:` line that states its checked invariant: two runs in
//! different orders without coordination, the agreed order every time with it (and its cost);
//! torn lines 0 with the lock and more than 0 without; the most workers inside a kind never above
//! its limit; the deadlock's cycle printed and both workers finishing; the file lock released
//! when its holder is killed, the shared-memory mutex not.
//!
//! # Modules
//!
//! - [`independent_order`]: workers announce their steps with no coordination.
//! - [`agreed_order`]: the same workers in turns: a counter and a `Condvar`, a ring of pipes.
//! - [`order`]: what the pair shares: a step's work, a run's steps in time order.
//! - [`mutex`]: workers appending lines to one file.
//! - [`semaphore`]: three kinds of work with limits.
//! - [`counting_semaphore`]: a counting semaphore from `Mutex` + `Condvar`, checked with loom.
//! - [`deadlock`]: two threads, opposite lock order: deadlock detected, then the cures.
//! - [`record_locks`]: the same with two processes: `fcntl` record locks, the kernel's `EDEADLK`.
//! - [`dining_philosophers`]: the N-way deadlock and its cure.
//! - [`wait_for_graph`]: locks that see a circular wait (used by the two above).
//! - [`holder_dies`]: poisoning, a file lock released by the kernel, a shared mutex left locked.
//! - [`classics`]: event, barrier, read-write lock, bounded buffer; processes share a segment.
//! - [`deadlock_cures`]: one transfer workload, four cures timed; try-lock's livelock.
//! - [`barrier`]: workers in phases; a party that dies breaks the barrier for the others.
//! - [`shared_barrier`]: a barrier that can break, in memory or in a shared segment (futex).
//! - [`pool_deadlock`]: a task that waits on its own pool; the pool's answer and the cures.
//! - [`condition_variable`]: OSTEP's bounded buffer, four variants, forced schedules that break
//!   the wrong ones every run.
//! - [`bounded_buffer`]: the buffer's `put` and `get` over a monitor, in the four variants.
//! - [`forced_schedule`]: a script of turns at named hook points; the schedules.
//! - [`shared_condvar`]: a condition variable that wakes in arrival order (futex, shareable).
//! - [`cli`]: the command line (clap), with every default but the per-scenario worker counts.
//! - [`tour`]: runs one scenario, or all in order, for threads and processes; a child's role.
//! - [`knobs`]: which knob applies to which scenario, the values each one needs, worker counts.
//! - [`output`]: result lines that fit, a `load:` warning, a closed pipe that ends quietly.
//! - [`crew`]: the start gate over `common::demo::process` (child processes, this program again).
//! - [`sys`]: POSIX named semaphores, `fcntl` record locks, a shared-memory mutex, descriptors
//!   handed to a child: every `unsafe` block of the crate.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod agreed_order;
pub mod barrier;
pub mod bounded_buffer;
pub mod classics;
pub mod cli;
pub mod condition_variable;
pub mod counting_semaphore;
pub mod crew;
pub mod deadlock;
pub mod deadlock_cures;
pub mod dining_philosophers;
pub mod forced_schedule;
pub mod holder_dies;
pub mod independent_order;
pub mod knobs;
pub mod mutex;
pub mod order;
pub mod output;
pub mod pool_deadlock;
pub mod record_locks;
pub mod semaphore;
pub mod shared_barrier;
pub mod shared_condvar;
pub mod sys;
pub mod tour;
pub mod wait_for_graph;
