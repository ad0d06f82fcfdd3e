//! The check of `torn-lines`: each worker writes its lines piece by piece to one log, every
//! piece a step of the forced schedule; then every line of the log must be one worker's whole
//! line. Under `rr` an unlocked line is torn at its first piece, on every run.

use crate::harness::{self, Verdict};
use crate::replay::{Schedule, Turns};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lines each worker writes.
const LINES: usize = 2;

/// The log every worker appends to; each [`Log::write`] is one step of the schedule.
#[derive(Default)]
pub struct Log {
    text: Mutex<String>,
    turns: Option<Arc<Turns>>,
}

impl Log {
    /// Appends one piece. Under a forced schedule, first waits for this worker's turn.
    pub fn write(&self, piece: &str) {
        if let Some(turns) = &self.turns {
            turns.point();
        }
        self.text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_str(piece);
    }
}

/// What every worker shares: the log, and a lock for it.
pub struct Shared {
    pub log: Log,
    pub lock: Mutex<()>,
}

/// The pieces of line `line` of worker `me`; together they end with `\n`.
pub fn pieces(me: usize, line: usize) -> Vec<String> {
    let words = ["alpha ", "beta ", "gamma\n"];
    std::iter::once(format!("[thread {me}] line {line}: "))
        .chain(words.iter().map(|w| w.to_string()))
        .collect()
}

/// Runs `write_line` at 2, 3 and 4 workers under `schedule`.
pub fn check(
    out: &mut dyn Write,
    schedule: &Schedule,
    write_line: fn(&Shared, &[String]),
) -> std::io::Result<Verdict> {
    let mut seen = Vec::new();
    for workers in [2, 3, 4] {
        let turns = harness::turns(schedule, workers);
        let shared = Arc::new(Shared {
            log: Log {
                text: Mutex::new(String::new()),
                turns: Some(turns.clone()),
            },
            lock: Mutex::new(()),
        });
        let job_shared = shared.clone();
        let handles = harness::start(&turns, workers, move |me| {
            for line in 0..LINES {
                write_line(&job_shared, &pieces(me, line));
            }
        });
        let hung = "the workers did not finish in 10 s: is a lock never let go?";
        if let Err(why) = harness::wait_all(handles, Duration::from_secs(10), hung, || None) {
            return Ok(Err(format!("{workers} workers: {why}")));
        }
        let text = shared.log.text.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(why) = whole_lines(&text, workers) {
            return Ok(Err(format!("{workers} workers: {why}")));
        }
        let note = harness::let_go_note(&turns);
        writeln!(
            out,
            "{workers} workers: {} lines, each whole{note}",
            workers * LINES
        )?;
        seen.push(workers.to_string());
    }
    Ok(Ok(format!(
        "every line whole at {} workers",
        seen.join(", ")
    )))
}

/// Checks that `text` holds every worker's every line, whole, once.
fn whole_lines(text: &str, workers: usize) -> Result<(), String> {
    let mut expected: Vec<String> = (0..workers)
        .flat_map(|me| (0..LINES).map(move |line| pieces(me, line).concat()))
        .collect();
    for (number, line) in text.split_inclusive('\n').enumerate() {
        match expected.iter().position(|e| e == line) {
            Some(at) => drop(expected.remove(at)),
            None => {
                let shown: String = line.trim_end().chars().take(60).collect();
                return Err(format!("line {number} is torn: \"{shown}...\""));
            }
        }
    }
    match expected.first() {
        None => Ok(()),
        Some(missing) => Err(format!("a line is missing: \"{}\"", missing.trim_end())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_tells_torn_from_whole() {
        let whole: String = (0..2)
            .flat_map(|me| (0..LINES).map(move |l| pieces(me, l).concat()))
            .collect();
        assert_eq!(whole_lines(&whole, 2), Ok(()));
        let torn = whole.replacen("alpha ", "", 1);
        assert!(whole_lines(&torn, 2)
            .unwrap_err()
            .contains("line 0 is torn"));
    }
}
