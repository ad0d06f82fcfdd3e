//! The ASCII picture of a pool's timeline, and the check that a timeline is consistent.
//!
//! A timeline is the pool's record of its batches ([`Span`]): which worker, which items, when.
//! Drawn with one row per worker and time across, idle time shows as `.`, so an idle tail, a
//! long batch or a late start is visible at a glance. The check is on the record, not on
//! timings: every item ran in exactly one batch, and no worker ran two batches at once.

use common::Span;
use std::time::Duration;

/// The symbol of a batch: its first item's index, in `0-9a-zA-Z` (wrapping after 62).
pub fn symbol(first: usize) -> char {
    const SYMBOLS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char::from(SYMBOLS[first % SYMBOLS.len()])
}

/// Draws `spans` as text: one row per worker, `width` columns from the first start to the last
/// end; each batch is filled with its [`symbol`], idle time with `.`.
pub fn ascii(
    spans: &[Span],
    workers: usize,
    width: usize,
    tag: impl Fn(&Span) -> String,
) -> Vec<String> {
    let t0 = spans.iter().map(|s| s.start).min().unwrap_or_default();
    let t1 = spans.iter().map(|s| s.end).max().unwrap_or_default();
    let total = (t1 - t0).as_secs_f64().max(1e-9);
    let column = |t: Duration| (((t - t0).as_secs_f64() / total) * width as f64) as usize;
    (0..workers)
        .map(|w| {
            let mine: Vec<&Span> = spans.iter().filter(|s| s.worker == w).collect();
            let mut row = vec!['.'; width];
            for s in &mine {
                let (from, to) = (column(s.start).min(width - 1), column(s.end).min(width));
                // Every batch gets at least one column, however short it was.
                row[from..to.max(from + 1)].fill(symbol(s.first));
            }
            let busy: Duration = mine.iter().map(|s| s.end - s.start).sum();
            let name = mine
                .first()
                .map(|s| tag(s))
                .unwrap_or_else(|| format!("worker {w}"));
            format!(
                "{name:<22}|{}| busy {:>3.0}%",
                row.iter().collect::<String>(),
                100.0 * busy.as_secs_f64() / total
            )
        })
        .collect()
}

/// Whether the spans cover items `0..tasks` exactly once and no worker ran two batches at once.
pub fn consistent(spans: &[Span], tasks: usize) -> bool {
    let mut seen = vec![0u32; tasks];
    for s in spans {
        for i in s.first..s.first + s.len {
            match seen.get_mut(i) {
                Some(n) => *n += 1,
                None => return false,
            }
        }
    }
    let mut by_worker: Vec<&Span> = spans.iter().collect();
    by_worker.sort_by_key(|s| (s.worker, s.start));
    let no_overlap = by_worker
        .windows(2)
        .all(|w| w[0].worker != w[1].worker || w[0].end <= w[1].start);
    seen.iter().all(|&n| n == 1) && no_overlap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(worker: usize, first: usize, len: usize, start: u64, end: u64) -> Span {
        Span {
            worker,
            pid: 1,
            first,
            len,
            start: Duration::from_millis(start),
            end: Duration::from_millis(end),
        }
    }

    #[test]
    fn a_picture_has_one_row_per_worker_and_marks_idle_time() {
        let spans = [
            span(0, 0, 1, 0, 50),
            span(0, 2, 1, 50, 100),
            span(1, 1, 1, 0, 50),
        ];
        let rows = ascii(&spans, 2, 10, |s| format!("w{}", s.worker));
        assert_eq!(rows[0], format!("{:<22}|0000022222| busy 100%", "w0"));
        assert_eq!(rows[1], format!("{:<22}|11111.....| busy  50%", "w1"));
    }

    #[test]
    fn consistency_catches_missing_repeated_and_overlapping_batches() {
        assert!(consistent(&[span(0, 0, 2, 0, 10), span(1, 2, 1, 0, 10)], 3));
        assert!(!consistent(&[span(0, 0, 2, 0, 10)], 3));
        assert!(!consistent(
            &[span(0, 0, 2, 0, 10), span(1, 1, 2, 0, 10)],
            3
        ));
        assert!(!consistent(
            &[span(0, 0, 2, 0, 10), span(0, 2, 1, 5, 15)],
            3
        ));
    }
}
