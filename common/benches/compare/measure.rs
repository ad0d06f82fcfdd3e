//! Timing and reporting: interleaved runs (A B A B), medians, and one line (or table row) a row.
//!
//! Why interleaved: on a shared machine the load changes from second to second. Timing all of
//! ours and then all of the peer's gives one of them the quieter machine, and running ours back
//! to back lets glibc hand the same warm pages to each run (`map` took 3 ms that way, 6-8 ms
//! interleaved). Alternating one run of each keeps both under the same conditions.

use common::demo::narrate::duration;
use std::time::{Duration, Instant};

/// How a row is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One line a row, at most 100 characters.
    Lines,
    /// Markdown table rows, for common/README.md (see `table.sh`).
    Markdown,
}

/// The target a row is held to.
#[derive(Clone, Copy)]
pub enum Target {
    /// The ratio must be at most this.
    AtMost(f64),
    /// The ratio (a speed-up) must be at least this.
    AtLeast(f64),
    /// Shown for reference.
    None,
}

/// One row of the report: what was measured, on our side and the peer's, and how they compare.
pub struct Row {
    pub work: String,
    pub ours: String,
    pub peer: String,
    pub theirs: String,
    pub ratio: f64,
    pub target: Target,
}

impl Row {
    /// A row comparing two times: the ratio is ours / theirs.
    pub fn times(work: &str, ours: Duration, peer: &str, theirs: Duration, target: Target) -> Row {
        Row {
            work: work.to_string(),
            ours: duration(ours),
            peer: peer.to_string(),
            theirs: duration(theirs),
            ratio: ours.as_secs_f64() / theirs.as_secs_f64(),
            target,
        }
    }

    /// A speed-up row: the ratio is `alone / ours`, the time one after another over ours.
    pub fn speedup(work: &str, ours: Duration, alone: Duration, target: Target) -> Row {
        Row {
            ratio: alone.as_secs_f64() / ours.as_secs_f64(),
            ..Row::times(work, ours, "sequential (speed-up)", alone, target)
        }
    }

    fn verdict(&self) -> String {
        match self.target {
            Target::AtMost(t) if self.ratio <= t => format!("<= {t}x met"),
            Target::AtMost(t) => format!("<= {t}x MISSED"),
            Target::AtLeast(t) if self.ratio >= t => format!(">= {t}x met"),
            Target::AtLeast(t) => format!(">= {t}x MISSED"),
            Target::None => "reference".to_string(),
        }
    }

    /// Prints the row: two lines (the work, then the numbers), or one Markdown table row.
    pub fn print(&self, style: Style) {
        let ratio = format!("{:.2}x", self.ratio);
        match style {
            Style::Lines => {
                println!("{}", self.work);
                println!(
                    "    ours {:>10}   {:<28} {:>10}   {ratio:>7}   {}",
                    self.ours,
                    self.peer,
                    self.theirs,
                    self.verdict()
                );
            }
            Style::Markdown => println!(
                "| {} | {} | {} {} | {ratio} | {} |",
                self.work,
                self.ours,
                self.peer,
                self.theirs,
                self.verdict()
            ),
        }
    }
}

/// Runs `ours` and `peer` alternately, `runs` times each, and returns the median time of each.
/// Each closure times its own work (so set-up can stay outside the clock).
pub fn interleaved(
    runs: usize,
    mut ours: impl FnMut() -> Duration,
    mut peer: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        a.push(ours());
        b.push(peer());
    }
    (median(a), median(b))
}

/// Times `f`.
pub fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// The median of some timings.
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The 1-minute load average, as the kernel reports it.
pub fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("?").to_string()
}

/// The CPU's model name.
pub fn cpu() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_string(), |m| m.trim().to_string())
}
