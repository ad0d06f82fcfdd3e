//! The OS primitives std lacks, each behind a small safe type: every `unsafe` block of the crate.
//!
//! - [`NamedSemaphore`]: a POSIX named semaphore (`sem_open`), which unrelated processes open by
//!   name. glibc keeps it as the file `/dev/shm/sem.<name>`, so it outlives every process until
//!   `sem_unlink` removes the name (processes that opened it keep using it).
//! - [`lock_range`] / [`unlock_range`]: `fcntl` record locks on byte ranges of a file. The kernel
//!   checks `F_SETLKW` waits between processes for cycles and refuses to close one (`EDEADLK`).
//! - [`SharedMutex`]: a pthread mutex (raw_sync) placed in a shared-memory segment, so that
//!   several processes lock the same one. It is not robust: if its holder dies, it stays locked.
//! - [`wait_while`] / [`wake_all`]: a futex, the word that the barrier and the condition
//!   variable shared between processes sleep on (safe through rustix: no `unsafe` there).
//! - [`pass_fd`] / [`take_passed_fd`]: a descriptor handed to a child at an agreed number.
//!
//! One file per primitive; each item is re-exported here, so `sync_demo::sys::NamedSemaphore`
//! is the path to use.

mod futex;
mod named_semaphore;
mod passed_fd;
mod record_lock;
mod shareable;
mod shared_mutex;

pub use futex::{wait_while, wake_all};
pub use named_semaphore::NamedSemaphore;
pub use passed_fd::{pass_fd, take_passed_fd};
pub use record_lock::{lock_range, unlock_range};
pub use shared_mutex::SharedMutex;
