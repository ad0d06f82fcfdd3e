//! One output format for every demo: headers, actor tags, times, speed-ups and the checked result.
//!
//! Scenarios write to any `&mut impl Write`, so tests read exactly what a user sees. Keeping the
//! format in one place is what lets a student compare two demos line by line.
//!
//! One file per concern, every item re-exported here (`common::demo::narrate::duration`):
//!
//! - `format`: headers, actor tags, durations, plurals and speed-ups.
//! - `wrap`: lines of at most [`WIDTH`] characters.
//! - `load`: the load warning printed before anything is timed.
//! - `outcome`: the `result:` line, [`CheckFailed`], [`Interrupted`] and tidy panics.

mod format;
mod load;
mod outcome;
mod wrap;

pub use format::{duration, header, millis, pid_tag, plural, ratio, speedup, thread_tag};
pub use load::{load_average, load_warning};
pub use outcome::{conclude, result_lines, tidy_panics, CheckFailed, Interrupted};
pub use wrap::{say, wrap, Wrapped, WIDTH};
