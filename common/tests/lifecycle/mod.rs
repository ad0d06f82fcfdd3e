//! The parts of a worker's life that are not `worker_lifecycle.rs`'s own: user code that panics
//! on a pool's thread.

pub(crate) mod user_panics;
