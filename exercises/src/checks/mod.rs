//! One check per exercise, and the types the exercises are written against (`Log`, `Counter`,
//! `Account`): what a step of a forced schedule is, and what the check then looks at.

pub mod barrier;
pub mod deadlock;
pub mod lost_update;
pub mod pipeline;
pub mod pool_map;
pub mod semaphore;
pub mod torn_lines;
