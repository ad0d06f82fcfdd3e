//! Imbalance: the same skewed image split three ways among the workers, and who waited.
//!
//! Each row of a Mandelbrot image costs what its points cost: a point inside the set runs all
//! [`MAX_ITER`] iterations, a point far outside escapes after one or two. The view is chosen
//! off-centre, so the costly rows sit in the first half of the image (CMU 15-418's first
//! assignment shows the same with three threads slower than two). The split decides the time:
//!
//! - contiguous blocks (worker `w` gets rows `w*H/W ..`): one worker draws the costly band and
//!   the others wait for it;
//! - interleaved rows (worker `w` gets rows `w, w + W, ...`): every worker gets some of each
//!   band, so the shares cost about the same, decided before anything ran;
//! - dynamic (one task per row, `Chunk::Auto`): an idle worker takes the next batch, so nobody
//!   waits long, whatever the costs; the price is more batches to hand out.
//!
//! Every split computes the same image, so the checksum (the sum of every point's iterations)
//! is the same six times: that is the check. The busy times are measurements, and the max/min
//! ratio of the contiguous split against the dynamic one chooses the lesson.

use crate::picture::ascii;
use crate::{process_pool, thread_pool, Settings};
use anyhow::{ensure, Result};
use common::demo::narrate::{conclude, duration, header, load_warning, pid_tag, thread_tag};
use common::{Chunk, Pool, Span};
use std::io::Write;
use std::time::Duration;

/// Rows and columns of the image.
pub const ROWS: u32 = 64;
/// Columns of the image.
pub const COLS: u32 = 96;
/// Iterations after which a point counts as inside the set.
pub const MAX_ITER: u32 = 6000;
/// Columns of the ASCII timeline.
const WIDTH: usize = 48;

/// The rows a task computes: `first, first + step, ...` below `end`.
pub type Rows = (u32, u32, u32);

/// Iterations of `z = z^2 + c` before `|z| > 2`, at most [`MAX_ITER`], for the point of image
/// row `row` and column `col`. The view is `[-2.0, 0.6] x [-0.3, 1.3]`: the bulb of the set
/// fills the lower rows of the view, so the first rows cost the most.
pub fn escape(row: u32, col: u32) -> u32 {
    let x0 = -2.0 + 2.6 * f64::from(col) / f64::from(COLS);
    let y0 = -0.3 + 1.6 * f64::from(row) / f64::from(ROWS);
    let (mut x, mut y, mut i) = (0.0f64, 0.0f64, 0);
    while i < MAX_ITER && x * x + y * y <= 4.0 {
        (x, y) = (x * x - y * y + x0, 2.0 * x * y + y0);
        i += 1;
    }
    i
}

/// The task: the sum of [`escape`] over every point of the rows `first, first + step, ...`
/// below `end`.
pub fn rows_checksum((first, step, end): Rows) -> u64 {
    (first..end)
        .step_by(step.max(1) as usize)
        .flat_map(|row| (0..COLS).map(move |col| u64::from(escape(row, col))))
        .sum()
}

/// The three splits, each as its tasks and the batch size that hands them out.
pub fn policies(workers: u32) -> [(&'static str, Vec<Rows>, Chunk); 3] {
    let w = workers.min(ROWS);
    let blocks = (0..w)
        .map(|i| (i * ROWS / w, 1, (i + 1) * ROWS / w))
        .collect();
    let interleaved = (0..w).map(|i| (i, w, ROWS)).collect();
    let dynamic = (0..ROWS).map(|r| (r, 1, r + 1)).collect();
    [
        ("contiguous blocks", blocks, Chunk::Size(1)),
        ("interleaved rows", interleaved, Chunk::Size(1)),
        ("dynamic, one row a task", dynamic, Chunk::Auto),
    ]
}

/// Each worker's busy time in `spans` (the batches one map ran), by worker index.
pub fn busy_times(spans: &[Span], workers: usize) -> Vec<Duration> {
    let mut busy = vec![Duration::ZERO; workers];
    for s in spans {
        if let Some(b) = busy.get_mut(s.worker) {
            *b += s.end - s.start;
        }
    }
    busy
}

/// The busiest worker's time over the least busy one's (infinite if one did nothing).
pub fn max_over_min(busy: &[Duration]) -> f64 {
    let max = busy.iter().max().copied().unwrap_or_default();
    let min = busy.iter().min().copied().unwrap_or_default();
    max.as_secs_f64() / min.as_secs_f64()
}

/// Runs the three splits on `pool`, drawing each; returns the checksums and max/min ratios.
fn on_pool<P: Pool>(
    out: &mut impl Write,
    pool: &P,
    workers: usize,
    tag: impl Fn(&Span) -> String,
) -> Result<Vec<(u64, f64)>> {
    let mut found = Vec::new();
    for (name, tasks, chunk) in policies(workers as u32) {
        let before = pool.timeline().len();
        let sums = pool.map_chunked(rows_checksum, tasks.clone(), chunk)?;
        let spans: Vec<Span> = pool.timeline().split_off(before);
        ensure!(
            crate::picture::consistent(&spans, tasks.len()),
            "{name}: the timeline does not cover every task once"
        );
        let busy = busy_times(&spans, workers);
        let ratio = max_over_min(&busy);
        let times: Vec<String> = busy.iter().map(|&b| duration(b)).collect();
        let ratio_words = if ratio.is_finite() {
            format!("max/min {ratio:.2}x")
        } else {
            "a worker did nothing".to_string()
        };
        writeln!(
            out,
            "{name}: {} tasks; busy {}; {ratio_words}",
            tasks.len(),
            times.join(", ")
        )?;
        for line in ascii(&spans, workers, WIDTH, &tag) {
            writeln!(out, "  {line}")?;
        }
        found.push((sums.iter().sum(), ratio));
    }
    Ok(found)
}

/// The skewed image under three splits on both pools: busy times, ratios, timelines.
///
/// # Errors
/// A pool that cannot start, a task's error, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> Result<()> {
    let workers = settings.workers;
    header(
        out,
        "imbalance",
        "one skewed image split three ways: who waited",
        &[("workers", workers), ("rows", ROWS as usize)],
    )?;
    writeln!(
        out,
        "a {ROWS}x{COLS} Mandelbrot image, up to {MAX_ITER} iterations a point; the first rows \
         cost the most"
    )?;
    let busy = load_warning(out)?;
    writeln!(out, "-- thread pool")?;
    let threads = on_pool(out, &thread_pool(workers, true)?, workers, |s| {
        thread_tag(s.worker)
    })?;
    writeln!(out, "-- process pool")?;
    let processes = on_pool(out, &process_pool(workers, true)?, workers, |s| {
        format!("worker {} {}", s.worker, pid_tag(s.pid))
    })?;
    let expected = rows_checksum((0, 1, ROWS));
    let all: Vec<u64> = threads
        .iter()
        .chain(&processes)
        .map(|(sum, _)| *sum)
        .collect();
    let same = all.iter().all(|&s| s == expected);
    let (blocks, dynamic) = (threads[0].1, threads[2].1);
    conclude(
        out,
        same,
        format!(
            "checksum {expected} under all 3 splits on both pools ({} runs agree)",
            all.len()
        ),
        &lesson(workers, blocks, dynamic, busy),
    )?;
    Ok(())
}

/// The lesson, chosen from the thread pool's max/min ratios of the block and dynamic splits.
pub fn lesson(workers: usize, blocks: f64, dynamic: f64, busy: bool) -> String {
    if workers == 1 {
        "one worker cannot be out of balance: rerun with --workers 2 or more".into()
    } else if blocks.is_infinite() {
        "contiguous blocks left a worker nothing to do while another drew the costly rows; \
         handing out work as workers free up evens it"
            .into()
    } else if blocks > 1.5 * dynamic {
        format!(
            "contiguous blocks kept one worker busy {blocks:.1}x longer than another; \
             interleaving or handing out work as workers free up evens it"
        )
    } else if busy {
        "the machine was busy, so the busy times mislead: rerun".into()
    } else {
        "little imbalance this time (other programs may have had the CPUs): rerun".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_covers_every_row_once() {
        for workers in [1, 2, 3, 7, 100] {
            for (name, tasks, _) in policies(workers) {
                let mut rows: Vec<u32> = tasks
                    .iter()
                    .flat_map(|&(first, step, end)| (first..end).step_by(step as usize))
                    .collect();
                rows.sort();
                assert_eq!(rows, (0..ROWS).collect::<Vec<_>>(), "{name}, {workers}");
            }
        }
    }

    #[test]
    fn the_first_half_costs_more_than_the_second() {
        let first = rows_checksum((0, 1, ROWS / 2));
        let second = rows_checksum((ROWS / 2, 1, ROWS));
        assert!(first > 2 * second, "{first} vs {second}");
    }

    #[test]
    fn ratios_and_lessons() {
        let ms = Duration::from_millis;
        assert_eq!(max_over_min(&[ms(30), ms(10)]), 3.0);
        assert!(max_over_min(&[ms(30), ms(0)]).is_infinite());
        assert!(lesson(2, 3.0, 1.1, false).starts_with("contiguous blocks"));
        assert!(lesson(2, 1.1, 1.1, true).contains("rerun"));
    }
}
