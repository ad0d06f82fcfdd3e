//! One output format for every demo: headers, actor tags, times, speed-ups and the checked result.
//!
//! Scenarios write to any `&mut impl Write`, so tests read exactly what a user sees. Keeping the
//! format in one place is what lets a student compare two demos line by line.

use std::fmt::Display;
use std::io::{self, Write};
use std::time::Duration;

/// Prints a scenario's header: its name, one line on what it shows, and its parameters.
///
/// ```
/// let mut out = Vec::new();
/// common::narrate::header(&mut out, "spawn", "N workers say who they are", &[("workers", 4)]).unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "\n== spawn: N workers say who they are ==\n   workers=4\n");
/// ```
///
/// # Errors
/// Only the writer's errors.
pub fn header(
    out: &mut impl Write,
    name: &str,
    shows: &str,
    params: &[(&str, impl Display)],
) -> io::Result<()> {
    writeln!(out, "\n== {name}: {shows} ==")?;
    let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !params.is_empty() {
        writeln!(out, "   {}", params.join(" "))?;
    }
    Ok(())
}

/// The tag of a thread in narration: `[thread 3]`.
pub fn thread_tag(index: usize) -> String {
    format!("[thread {index}]")
}

/// The tag of a process in narration: `[pid 4123]`.
pub fn pid_tag(pid: u32) -> String {
    format!("[pid {pid}]")
}

/// A duration in the workspace's one unit, milliseconds: `12.345 ms`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(common::narrate::millis(Duration::from_micros(12_345)), "12.345 ms");
/// ```
pub fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A duration with three significant figures and a unit that fits: `840 µs`, `3.21 ms`, `25.9 s`.
///
/// This is the one timing format of the workspace: a student comparing two lines never has to
/// convert units in their head, and no line pretends to a precision the clock does not have.
///
/// ```
/// use std::time::Duration;
/// use common::narrate::duration;
/// assert_eq!(duration(Duration::from_nanos(840)), "840 ns");
/// assert_eq!(duration(Duration::from_micros(840)), "840 µs");
/// assert_eq!(duration(Duration::from_micros(3_214)), "3.21 ms");
/// assert_eq!(duration(Duration::from_micros(12_345)), "12.3 ms");
/// assert_eq!(duration(Duration::from_millis(25_902)), "25.9 s");
/// assert_eq!(duration(Duration::from_secs(1_234)), "1234 s");
/// ```
pub fn duration(d: Duration) -> String {
    const UNITS: [&str; 4] = ["ns", "µs", "ms", "s"];
    // Three significant figures: 1.23, 12.3, 123 (and 1234 for long runs in seconds).
    let decimals = |v: f64| -> usize {
        match v {
            v if v < 10.0 => 2,
            v if v < 100.0 => 1,
            _ => 0,
        }
    };
    let mut value = d.as_secs_f64() * 1e9;
    let mut unit = 0;
    loop {
        // Rounding decides the digits, so 999.6 µs moves up to "1.00 ms", not "1000 µs".
        let p = 10f64.powi(decimals(value) as i32);
        let rounded = (value * p).round() / p;
        if rounded < 1000.0 || unit == UNITS.len() - 1 {
            return format!("{:.*} {}", decimals(rounded), rounded, UNITS[unit]);
        }
        value /= 1000.0;
        unit += 1;
    }
}

/// `n` and the right form of a noun: `1 retry`, `2 retries`, `0 lines`.
///
/// ```
/// use common::narrate::plural;
/// assert_eq!(plural(1, "retry", "retries"), "1 retry");
/// assert_eq!(plural(2, "retry", "retries"), "2 retries");
/// assert_eq!(plural(0, "line", "lines"), "0 lines");
/// ```
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How many times faster `new` is than `baseline`: `1.93x`.
///
/// ```
/// use std::time::Duration;
/// let s = common::narrate::speedup(Duration::from_millis(193), Duration::from_millis(100));
/// assert_eq!(s, "1.93x");
/// ```
pub fn speedup(baseline: Duration, new: Duration) -> String {
    format!("{:.2}x", ratio(baseline, new))
}

/// `baseline / new` as a number (infinite if `new` took no measurable time).
pub fn ratio(baseline: Duration, new: Duration) -> f64 {
    baseline.as_secs_f64() / new.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// A scenario's invariant did not hold. Demos turn this into a non-zero exit status.
#[derive(Debug)]
pub struct CheckFailed(pub String);

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "check failed: {}", self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// Prints the closing line of a scenario and turns a failed check into an error.
///
/// The line reads `result: <what> [ok] -- <lesson>`, or `result: <what> [FAILED]`. Tests look for
/// the `result:` line, so every scenario ends with exactly one.
///
/// ```
/// let mut out = Vec::new();
/// common::narrate::conclude(&mut out, 4 == 2 + 2, "4 (expected 4)", "addition works").unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "result: 4 (expected 4) [ok] -- addition works\n");
/// ```
///
/// # Errors
/// An `io::Error` wrapping [`CheckFailed`] when `passed` is false, or the writer's error. Both
/// end a demo with exit status 1.
pub fn conclude(
    out: &mut impl Write,
    passed: bool,
    what: impl Display,
    lesson: &str,
) -> io::Result<()> {
    if passed {
        writeln!(out, "result: {what} [ok] -- {lesson}")
    } else {
        writeln!(out, "result: {what} [FAILED]")?;
        Err(io::Error::other(CheckFailed(what.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_is_an_error_and_says_so() {
        let mut out = Vec::new();
        let err = conclude(&mut out, false, "3 (expected 4)", "unused").unwrap_err();
        assert_eq!(err.to_string(), "check failed: 3 (expected 4)");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "result: 3 (expected 4) [FAILED]\n"
        );
    }
}
