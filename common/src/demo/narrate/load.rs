//! The machine's load, so that a timing taken on a busy machine says so.

use super::plural;
use std::io::{self, Write};

/// Prints the machine's load if other programs compete for its CPUs, and says whether it did.
///
/// ```
/// let mut out = Vec::new();
/// let warned = common::demo::narrate::load_warning(&mut out).unwrap();
/// assert_eq!(warned, !out.is_empty()); // one line when busy, nothing otherwise
/// assert!(String::from_utf8(out).unwrap().lines().all(|l| l.chars().count() <= 100));
/// ```
///
/// The line reads `load: 5.12 programs runnable on 2 CPUs (1-minute average): timings may
/// mislead`. Every demo prints
/// this same line before it times anything, so a student who sees surprising numbers knows why.
/// Nothing is printed when `/proc/loadavg` cannot be read.
///
/// # Errors
/// Only the writer's errors.
pub fn load_warning(out: &mut impl Write) -> io::Result<bool> {
    let cpus = num_cpus::get();
    match load_average() {
        Some(load) if load > cpus as f64 => {
            writeln!(
                out,
                "load: {load:.2} programs runnable on {} (1-minute average): timings may mislead",
                plural(cpus, "CPU", "CPUs")
            )?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The 1-minute load average (runnable and uninterruptible tasks), from `/proc/loadavg`;
/// `None` where that file cannot be read (not Linux).
///
/// ```
/// if let Some(load) = common::demo::narrate::load_average() {
///     assert!(load >= 0.0);
/// }
/// ```
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
