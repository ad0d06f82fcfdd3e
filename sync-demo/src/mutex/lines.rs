//! The shared file: a line in three pieces, written with pauses between them, and read back as
//! whole lines per worker and torn ones. Both halves of the scenario use these.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};

/// The pause between the pieces of one line: long enough that other workers run in it.
pub(super) const PAUSE: Duration = Duration::from_millis(1);

/// The bytes of one whole line (see [`pieces`]).
pub(super) const LINE_BYTES: u64 = 18 + 20 + 5;

/// The three pieces of line `line` of worker `worker`; together they make one whole line.
pub(super) fn pieces(worker: usize, line: usize) -> [String; 3] {
    let digit = char::from(b'0' + (worker % 10) as u8);
    [
        format!("worker {worker:02} line {line:02} "),
        digit.to_string().repeat(20),
        " end\n".to_string(),
    ]
}

/// Writes one line, piece by piece, pausing between pieces.
pub(super) fn write_line(mut file: &File, worker: usize, line: usize) -> Result<()> {
    for (i, piece) in pieces(worker, line).iter().enumerate() {
        file.write_all(piece.as_bytes())
            .context("appending to the shared file")?;
        if i < 2 {
            std::thread::sleep(PAUSE); // on purpose: make room for other writers
        }
    }
    Ok(())
}

/// Writes one worker's lines, holding `lock` (if any) around each whole line.
pub(super) fn write_lines(
    file: &File,
    worker: usize,
    lines: usize,
    lock: Option<&Mutex<()>>,
) -> Result<()> {
    for line in 0..lines {
        // The `Mutex<()>` guards no data of its own: it guards the file, by convention.
        let _guard = lock.map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        write_line(file, worker, line)?;
    }
    Ok(())
}

/// What the file holds: whole lines per worker, and torn ones.
pub(super) struct Tally {
    pub(super) whole: Vec<usize>,
    pub(super) torn: usize,
    pub(super) example: Option<String>,
}

pub(super) fn tally(path: &Path, workers: usize, lines: usize) -> Result<Tally> {
    let text = std::fs::read_to_string(path).context("reading the shared file back")?;
    let mut tally = Tally {
        whole: vec![0; workers],
        torn: 0,
        example: None,
    };
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        let parsed = line.strip_prefix("worker ").and_then(|rest| {
            let worker: usize = rest.get(..2)?.parse().ok()?;
            let n: usize = rest.get(8..10)?.parse().ok()?;
            (worker < workers && n < lines && pieces(worker, n).concat() == format!("{line}\n"))
                .then_some((worker, n))
        });
        match parsed {
            Some(id) if seen.insert(id) => tally.whole[id.0] += 1,
            _ => {
                tally.torn += 1;
                tally.example.get_or_insert_with(|| line.to_string());
            }
        }
    }
    Ok(tally)
}

pub(super) fn temp_file(name: &str) -> Result<(common::demo::cleanup::PathGuard, File)> {
    let guard = common::demo::cleanup::PathGuard::new(
        std::env::temp_dir().join(format!("sync-demo-{}-{name}", std::process::id())),
    );
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(guard.path())
        .context("creating the shared file")?;
    Ok((guard, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_bytes_progress_counts() {
        assert_eq!(pieces(3, 4).concat().len() as u64, LINE_BYTES);
        assert_eq!(pieces(12, 99).concat().len() as u64, LINE_BYTES);
    }
}
