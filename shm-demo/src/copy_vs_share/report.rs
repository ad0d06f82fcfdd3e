//! Copy vs share, the report: the table of ways, why a new segment falls behind (the cost of a
//! first touch of fresh pages, measured with no copy at all), and the lesson the numbers give.

use super::{MIB, PAGE};
use crate::output::PARENT;
use crate::segment::Segment;
use anyhow::Result;
use common::demo::narrate::{duration, ratio};
use std::io::Write;
use std::time::{Duration, Instant};

/// What the rounds measured: the best time of each way (memcpy first, reused segment last).
pub(super) struct Measured<'a> {
    pub rows: &'a [(&'a str, Duration)],
    pub len: usize,
    pub rounds: usize,
    pub workers: usize,
    /// The fastest reused round: the parent's copy alone, and the whole round.
    pub reused_copy: Duration,
    pub reused_total: Duration,
    /// The `load:` warning was printed.
    pub busy: bool,
}

/// Writes one byte of every page of `bytes` and returns how long that took: on fresh pages,
/// the cost of the kernel allocating, zeroing and mapping each one.
fn touch_pages(bytes: &mut [u8]) -> Duration {
    let started = Instant::now();
    for at in (0..bytes.len()).step_by(PAGE) {
        bytes[at] = 1;
    }
    std::hint::black_box(bytes);
    started.elapsed()
}

/// The GB/s of moving `len` bytes in `took`.
fn gbps(len: usize, took: Duration) -> f64 {
    len as f64 / took.as_secs_f64().max(f64::MIN_POSITIVE) / 1e9
}

/// Prints the report and returns the lesson, chosen from the numbers.
///
/// # Errors
/// The writer's errors, or the probe segment could not be made.
pub(super) fn show(out: &mut impl Write, m: Measured<'_>) -> Result<String> {
    let memcpy = m.rows[0].1;
    writeln!(
        out,
        "{PARENT} {} MiB to {} children, best of {}:",
        m.len / MIB,
        m.workers,
        m.rounds
    )?;
    writeln!(
        out,
        "   {:<28} {:>12} {:>8} {:>10}",
        "way", "time", "GB/s", "vs memcpy"
    )?;
    for (name, took) in m.rows {
        writeln!(
            out,
            "   {name:<28} {:>12} {:>8.2} {:>9.2}x",
            duration(*took),
            gbps(m.len, *took),
            ratio(memcpy, *took)
        )?;
    }
    // Why "new" falls behind: time the first touch of fresh pages, with no copy at all.
    let mut probe = Segment::create("fault-probe", m.len)?;
    let touch = touch_pages(probe.bytes_mut(0..m.len)?);
    drop(probe);
    // The same for fresh private memory (what a child's received Vec gets), for comparison:
    // a large zeroed allocation comes straight from the kernel, its pages not yet mapped.
    let mut private = vec![0u8; m.len];
    let touch_private = touch_pages(&mut private);
    drop(private);
    let pages = (m.len / PAGE) as f64;
    let per_page = |d: Duration| d.as_nanos() as f64 / pages;
    writeln!(
        out,
        "{PARENT} first write to each of the {pages} fresh pages of 4 KiB, no copy at all:"
    )?;
    writeln!(
        out,
        "   new segment {} ({:.0} ns a page, {:.1}x the time of the whole memcpy)",
        duration(touch),
        per_page(touch),
        ratio(touch, memcpy)
    )?;
    writeln!(
        out,
        "   fresh private memory {} ({:.0} ns a page)",
        duration(touch_private),
        per_page(touch_private)
    )?;
    writeln!(
        out,
        "{PARENT} segment, reused: the parent's copy into it {} ({:.2}x of memcpy),",
        duration(m.reused_copy),
        ratio(memcpy, m.reused_copy)
    )?;
    writeln!(
        out,
        "   then {} until the last child had read its pages",
        duration(m.reused_total.saturating_sub(m.reused_copy))
    )?;
    let share = ratio(memcpy, m.rows[4].1);
    let verdict = if share >= 0.7 { "met" } else { "missed" };
    writeln!(
        out,
        "{PARENT} target: shared segment (reused) at least 0.70x of memcpy: {share:.2}x, {verdict}"
    )?;
    // The lesson follows the numbers measured just now.
    let over_copy = ratio(m.rows[1].1, m.rows[4].1);
    let lesson = if m.busy {
        "the machine was busy, so these bandwidths say little: rerun".to_string()
    } else if share >= 0.7 {
        "a segment that stays mapped moves data at memcpy speed; messages copy it twice".into()
    } else if over_copy >= 1.2 {
        format!(
            "a segment that stays mapped beat copied messages {over_copy:.1}x, though it \
             reached only {share:.2}x of memcpy here"
        )
    } else {
        format!(
            "here sharing did not beat copying ({over_copy:.2}x): at this size, waking the \
             children costs as much as the copy"
        )
    };
    Ok(lesson)
}
