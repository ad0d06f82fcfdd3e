//! The seed's mutex: workers append lines to one file; without a lock the lines tear.
//!
//! Each line is written in three pieces (three `write` calls) with a short sleep between them, as
//! a real writer that formats as it goes would. With `O_APPEND` each piece lands whole at the end
//! of the file, but nothing keeps the three pieces of one line together: another worker's pieces
//! land in between, and the line reads back torn. A lock held for the whole line makes the three
//! writes one step as far as the other workers can tell. Threads share a `std::sync::Mutex`
//! around the file; processes share nothing in memory, so they lock the file itself
//! (`File::lock`, an `flock` the kernel keeps per open file).

mod lines;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::{duration, header, plural, thread_tag};

use crate::crew::Crew;
use crate::output::conclude;
use lines::{tally, temp_file, write_line, write_lines, Tally, LINE_BYTES, PAUSE};

/// Locked runs longer than this report their progress.
const SLOW: Duration = Duration::from_secs(3);

/// With the lock, every line is written alone: about `workers * lines` times two pauses.
fn slow_with_lock(workers: usize, lines: usize) -> bool {
    PAUSE * 2 * (workers * lines) as u32 > SLOW
}

/// Until `done()` (or a minute, the most a run may take), says every second how many lines the
/// shared file holds (its length in whole lines: torn or not, every line has the same bytes).
fn watch(
    out: &mut impl Write,
    path: &Path,
    total: usize,
    done: impl FnMut() -> Result<bool>,
) -> Result<()> {
    crate::output::every_second(out, Duration::from_secs(60), done, |after| {
        let written = std::fs::metadata(path).map_or(0, |m| m.len() / LINE_BYTES);
        format!(
            "{written} of {total} lines written after {}",
            duration(after)
        )
    })
}

fn report(out: &mut impl Write, label: &str, t: &Tally, lines: usize) -> Result<()> {
    let complete = t.whole.iter().filter(|&&n| n == lines).count();
    writeln!(
        out,
        "   {label}: {}; {complete} of {} have all {} whole",
        plural(t.torn, "torn line", "torn lines"),
        plural(t.whole.len(), "worker", "workers"),
        plural(lines, "line", "lines")
    )?;
    if let Some(example) = &t.example {
        // The start of it is enough to see pieces of several workers run together.
        let start: String = example.chars().take(70).collect();
        writeln!(out, "   a torn line starts: \"{start}\"")?;
    }
    Ok(())
}

fn conclude_torn(
    out: &mut impl Write,
    without: &Tally,
    with: &Tally,
    workers: usize,
    lines: usize,
) -> Result<()> {
    let all_whole = with.whole.iter().all(|&n| n == lines);
    let what = format!(
        "with the lock {} torn of {}, all present: {all_whole}; without it {} torn",
        with.torn,
        plural(workers * lines, "line", "lines"),
        without.torn
    );
    conclude(
        out,
        with.torn == 0 && all_whole && without.torn > 0,
        &what,
        "one writer at a time keeps every line whole",
    )?;
    Ok(())
}

/// Threads: `workers` threads append `lines` lines each, first without, then with a `Mutex`.
///
/// # Errors
/// A file operation failed, or the check did not hold.
pub fn threads(out: &mut impl Write, workers: usize, lines: usize) -> Result<()> {
    header(
        out,
        "mutex (threads)",
        "workers append lines to one file",
        &[("workers", workers), ("lines", lines)],
    )?;
    let mut tallies = Vec::new();
    for locked in [false, true] {
        let (guard, file) = temp_file(if locked { "locked.txt" } else { "torn.txt" })?;
        let lock = Mutex::new(());
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let (file, lock) = (&file, &lock);
                    s.spawn(move || write_lines(file, w, lines, locked.then_some(lock)))
                })
                .collect();
            if locked && slow_with_lock(workers, lines) {
                let all_done = || Ok(handles.iter().all(|h| h.is_finished()));
                watch(out, guard.path(), workers * lines, all_done)?;
            }
            for (w, h) in handles.into_iter().enumerate() {
                h.join()
                    .map_err(|_| anyhow::anyhow!("worker {w} panicked"))??;
            }
            Ok(())
        })?;
        writeln!(
            out,
            "{} .. {}: each wrote {}",
            thread_tag(0),
            thread_tag(workers - 1),
            plural(lines, "line", "lines")
        )?;
        let t = tally(guard.path(), workers, lines)?;
        report(
            out,
            if locked {
                "with the Mutex"
            } else {
                "without a lock"
            },
            &t,
            lines,
        )?;
        tallies.push(t);
    }
    conclude_torn(out, &tallies[0], &tallies[1], workers, lines)
}

/// Processes: `workers` child processes append to one file, first without, then with `File::lock`.
///
/// # Errors
/// A spawn or file operation failed, or the check did not hold.
pub fn processes(out: &mut impl Write, workers: usize, lines: usize) -> Result<()> {
    header(
        out,
        "mutex (processes)",
        "workers append lines to one file",
        &[("workers", workers), ("lines", lines)],
    )?;
    writeln!(
        out,
        "   (children's lines come in a different order on every run: they run at once)"
    )?;
    let mut tallies = Vec::new();
    for locked in [false, true] {
        let (guard, _file) = temp_file(if locked { "locked.txt" } else { "torn.txt" })?;
        let path = guard.path().display().to_string();
        let args: Vec<Vec<String>> = (0..workers)
            .map(|w| {
                let mut a = vec![
                    "torn-writer".into(),
                    path.clone(),
                    w.to_string(),
                    lines.to_string(),
                ];
                if locked {
                    a.push("--lock".into());
                }
                a
            })
            .collect();
        let mut crew = Crew::spawn(args).context("spawning the writers")?;
        crew.expect_all(out, "ready", Duration::from_secs(10))?;
        // All start together, so their writes overlap.
        crew.broadcast(crate::crew::GO)
            .context("opening the start gate")?;
        if locked && slow_with_lock(workers, lines) {
            watch(
                out,
                guard.path(),
                workers * lines,
                || Ok(crew.all_exited()?),
            )?;
        }
        crew.finish(out, "done", Duration::from_secs(60))?;
        let t = tally(guard.path(), workers, lines)?;
        report(
            out,
            if locked {
                "with File::lock"
            } else {
                "without a lock"
            },
            &t,
            lines,
        )?;
        tallies.push(t);
    }
    conclude_torn(out, &tallies[0], &tallies[1], workers, lines)
}

/// In a child: appends this worker's lines, locking the whole file around each line if `lock`.
///
/// # Errors
/// A file operation failed.
pub fn child(path: &Path, worker: usize, lines: usize, lock: bool) -> Result<()> {
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .context("opening the shared file")?;
    crate::crew::child::report("ready", "");
    crate::crew::wait_for_go()?;
    for line in 0..lines {
        if lock {
            // Blocks until no other process holds it; the parent's deadline bounds the wait.
            file.lock().context("locking the file")?;
        }
        write_line(&file, worker, line)?;
        if lock {
            file.unlock().context("unlocking the file")?;
        }
    }
    crate::crew::child::say(format_args!(
        "worker {worker} wrote {}",
        plural(lines, "line", "lines")
    ));
    Ok(())
}
