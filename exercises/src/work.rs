//! The blanks: the files a student edits, one per exercise (`exercises/work/`).

#[path = "../work/barrier.rs"]
pub mod barrier;
#[path = "../work/deadlock.rs"]
pub mod deadlock;
#[path = "../work/lost_update.rs"]
pub mod lost_update;
#[path = "../work/pipeline.rs"]
pub mod pipeline;
#[path = "../work/pool_map.rs"]
pub mod pool_map;
#[path = "../work/semaphore.rs"]
pub mod semaphore;
#[path = "../work/torn_lines.rs"]
pub mod torn_lines;
