//! Headers, actor tags, durations, plurals and speed-ups: the words and numbers of narration.

use std::fmt::Display;
use std::io::{self, Write};
use std::time::Duration;

/// Prints a scenario's header: its name, one line on what it shows, and its parameters.
///
/// ```
/// let mut out = Vec::new();
/// common::demo::narrate::header(&mut out, "spawn", "N workers say who they are", &[("workers", 4)]).unwrap();
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

/// A duration in milliseconds: `12.345 ms`. Superseded by [`duration`]; kept for the crates
/// that still use it.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(common::demo::narrate::millis(Duration::from_micros(12_345)), "12.345 ms");
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
/// use common::demo::narrate::duration;
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
/// use common::demo::narrate::plural;
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
/// let s = common::demo::narrate::speedup(Duration::from_millis(193), Duration::from_millis(100));
/// assert_eq!(s, "1.93x");
/// let slow = common::demo::narrate::speedup(Duration::from_micros(213), Duration::from_millis(10));
/// assert_eq!(slow, "0.0213x");
/// ```
pub fn speedup(baseline: Duration, new: Duration) -> String {
    let r = ratio(baseline, new);
    // Three significant figures, also below 1: `0.0213x`, never a bare `0.00x`.
    let decimals = match r {
        r if r >= 100.0 || !r.is_finite() => 0,
        r if r >= 10.0 => 1,
        r if r >= 1.0 || r <= 0.0 => 2,
        r => (2 - r.log10().floor() as i32).clamp(2, 6) as usize,
    };
    format!("{r:.decimals$}x")
}

/// `baseline / new` as a number (infinite if `new` took no measurable time).
pub fn ratio(baseline: Duration, new: Duration) -> f64 {
    baseline.as_secs_f64() / new.as_secs_f64().max(f64::MIN_POSITIVE)
}
