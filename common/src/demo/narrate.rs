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

/// A duration in milliseconds: `12.345 ms`. Superseded by [`duration`]; kept for the crates
/// that still use it.
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
/// let slow = common::narrate::speedup(Duration::from_micros(213), Duration::from_millis(10));
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

/// A scenario's invariant did not hold. Demos turn this into a non-zero exit status.
#[derive(Debug)]
pub struct CheckFailed(pub String);

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "check failed: {}", self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// The longest line a demo prints: longer ones wrap onto indented continuation lines.
pub const WIDTH: usize = 100;

/// Splits `text` into lines of at most [`WIDTH`] characters at spaces; the first line keeps
/// `text`'s leading spaces, every line after it starts with `indent`. A single word longer than a line is left whole.
///
/// ```
/// let lines = common::narrate::wrap(&"word ".repeat(30), "    ");
/// assert_eq!(lines.len(), 2);
/// assert!(lines.iter().all(|l| l.chars().count() <= 100));
/// assert!(lines[1].starts_with("    word"));
/// ```
pub fn wrap(text: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    // Leading spaces (a line's own indentation) are kept; others only separate words.
    let lead = text.len() - text.trim_start_matches(' ').len();
    let (mut line, mut words) = (text[..lead].to_string(), 0);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let needed = line.chars().count() + usize::from(words > 0) + word.chars().count();
        if words > 0 && needed > WIDTH {
            lines.push(std::mem::replace(&mut line, indent.to_string()));
            words = 0;
        }
        if words > 0 {
            line.push(' ');
        }
        line.push_str(word);
        words += 1;
    }
    if words > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A writer that wraps every line longer than [`WIDTH`] at spaces, continuing it on lines
/// indented four spaces deeper than it starts; shorter lines pass through untouched. A demo's
/// `main` puts its stdout in one, so no narration line, however long its numbers make it, runs
/// past the width.
///
/// ```
/// use std::io::Write;
/// let mut out = common::narrate::Wrapped::new(Vec::new());
/// writeln!(out, "  {}", "word ".repeat(30)).unwrap();
/// let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
/// assert!(text.lines().all(|l| l.chars().count() <= 100));
/// assert!(text.lines().nth(1).unwrap().starts_with("      word"));
/// ```
#[derive(Debug)]
pub struct Wrapped<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Wrapped<W> {
    /// Wraps the lines written to `inner`.
    pub fn new(inner: W) -> Wrapped<W> {
        Wrapped {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes out a last unfinished line and returns the inner writer.
    ///
    /// # Errors
    /// The inner writer's error.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }

    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let body = text.trim_end_matches('\n');
        if body.chars().count() <= WIDTH {
            return self.inner.write_all(line);
        }
        let lead = body.len() - body.trim_start_matches(' ').len();
        let indent = " ".repeat(lead + 4);
        let mut all = wrap(body, &indent).join("\n");
        if text.ends_with('\n') {
            all.push('\n');
        }
        self.inner.write_all(all.as_bytes())
    }
}

impl<W: Write> Write for Wrapped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.emit(&line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line)?;
        }
        self.inner.flush()
    }
}

/// Writes `text`, wrapped at [`WIDTH`] with continuation lines indented by four spaces, as one
/// `write_all`, so two processes sharing the terminal cannot interleave inside it.
///
/// ```
/// let mut out = Vec::new();
/// common::narrate::say(&mut out, &format!("[parent] {}", "word ".repeat(25))).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.lines().count(), 2);
/// assert!(text.lines().nth(1).unwrap().starts_with("    word"));
/// ```
///
/// # Errors
/// Only the writer's errors.
pub fn say(out: &mut impl Write, text: &str) -> io::Result<()> {
    let mut all = wrap(text, "    ").join("\n");
    all.push('\n');
    out.write_all(all.as_bytes())
}

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
/// if let Some(load) = common::narrate::load_average() {
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

/// Runs `f` with a panic hook that prints one tidy line per panic, `<tag> panicked at
/// <file>:<line>: <message>`, whatever `RUST_BACKTRACE` says; the previous hook is restored
/// afterwards. For scenarios that panic on purpose: the lesson is that the panic happened and
/// what the program saw, not Rust's backtrace. `tag` is called in the panicking thread.
///
/// ```
/// let caught = common::narrate::tidy_panics(|| "[thread 1]".to_string(), || {
///     std::thread::spawn(|| panic!("on purpose")).join().is_err()
/// });
/// assert!(caught);
/// ```
pub fn tidy_panics<R>(
    tag: impl Fn() -> String + Send + Sync + 'static,
    f: impl FnOnce() -> R,
) -> R {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = format!("{} panicked{at}: {message}\n", tag());
        // One write, so the line stays whole beside other processes' output.
        let _ = io::stderr().write_all(line.as_bytes());
    }));
    let value = f();
    drop(std::panic::take_hook());
    std::panic::set_hook(previous);
    value
}

/// The program is being interrupted: a scenario stops without a result line.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Prints the closing line of a scenario and turns a failed check into an error.
///
/// The line reads `result: <what> [ok] -- <lesson>`, or `result: <what> [FAILED]`, wrapped onto
/// indented lines past [`WIDTH`] characters. Tests look for the `result:` line, so every
/// scenario ends with exactly one, unless the program is being interrupted
/// ([`crate::cleanup::interrupted_by`]): then nothing is printed, because whatever the scenario
/// saw (a killed child, a short count) is the interrupt's doing, not its result.
///
/// ```
/// let mut out = Vec::new();
/// common::narrate::conclude(&mut out, 4 == 2 + 2, "4 (expected 4)", "addition works").unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "result: 4 (expected 4) [ok] -- addition works\n");
/// ```
///
/// # Errors
/// An `io::Error` wrapping [`CheckFailed`] when `passed` is false, one wrapping [`Interrupted`]
/// during an interrupt, or the writer's error. All end a demo with a non-zero exit status.
pub fn conclude(
    out: &mut impl Write,
    passed: bool,
    what: impl Display,
    lesson: &str,
) -> io::Result<()> {
    if !passed {
        // A failure seen at the moment of an interrupt is most likely its doing (a child killed
        // by the handler); give the handler a moment to say so before blaming the scenario.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if crate::cleanup::interrupted_by().is_some() {
        return Err(io::Error::other(Interrupted));
    }
    if passed {
        say_result(out, &format!("result: {what} [ok] -- {lesson}"))
    } else {
        say_result(out, &format!("result: {what} [FAILED]"))?;
        Err(io::Error::other(CheckFailed(what.to_string())))
    }
}

/// The `result:` lines of a demo's output, each joined back with its continuation lines, as
/// [`conclude`] wrote them before wrapping: what tests compare.
///
/// ```
/// let text = "== x ==\nresult: a long\n        line [ok] -- done\nother\n";
/// assert_eq!(common::narrate::result_lines(text), vec!["result: a long line [ok] -- done"]);
/// ```
pub fn result_lines(text: &str) -> Vec<String> {
    let mut results: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.starts_with("result:") {
            results.push(line.to_string());
            open = true;
        } else if open && line.starts_with("        ") {
            if let Some(last) = results.last_mut() {
                last.push(' ');
                last.push_str(line.trim_start());
            }
        } else {
            open = false;
        }
    }
    results
}

/// A `result:` line, its continuation lines indented under the text after `result: `.
fn say_result(out: &mut impl Write, text: &str) -> io::Result<()> {
    let mut all = wrap(text, "        ").join("\n");
    all.push('\n');
    out.write_all(all.as_bytes())
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

    #[test]
    fn a_long_result_wraps_under_its_text() {
        let mut out = Vec::new();
        let what = "many words ".repeat(12);
        conclude(
            &mut out,
            true,
            what.trim(),
            "and a lesson that goes on and on",
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 1, "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(
            lines[1].starts_with("        ") && text.contains("[ok] --"),
            "{text}"
        );
    }

    #[test]
    fn wrap_keeps_short_text_and_splits_long_text_at_spaces() {
        assert_eq!(wrap("short", "  "), vec!["short".to_string()]);
        let long = format!("{} tail", "x".repeat(98));
        assert_eq!(
            wrap(&long, "  "),
            vec!["x".repeat(98), "  tail".to_string()]
        );
    }
}
