//! The solved exercises (`exercises/solutions/`), compiled with the `solutions` feature: each
//! file is its blank with the blanks filled, so `diff -u work/x.rs solutions/x.rs` is the answer.

#[path = "../solutions/barrier.rs"]
pub mod barrier;
#[path = "../solutions/deadlock.rs"]
pub mod deadlock;
#[path = "../solutions/lost_update.rs"]
pub mod lost_update;
#[path = "../solutions/pipeline.rs"]
pub mod pipeline;
#[path = "../solutions/pool_map.rs"]
pub mod pool_map;
#[path = "../solutions/semaphore.rs"]
pub mod semaphore;
#[path = "../solutions/torn_lines.rs"]
pub mod torn_lines;
