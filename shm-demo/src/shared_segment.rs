//! Shared segment: N children open one segment by name and each computes its rows of an image in
//! place; the parent reads the finished image where it lies.
//!
//! The parent creates a segment big enough for a Mandelbrot image (one `u32` per pixel) and
//! passes only its *name* to the children. Each child maps the same physical pages and writes its
//! own band of rows, so no pixel is ever copied: when the last child reports done, the image is
//! already in the parent's address space. The bands do not overlap and the parent reads only
//! after every child reported (through a pipe, which orders the writes before the reads), so no
//! lock is needed. The speed-up over the serial baseline is bounded by the cores (2 here).

use crate::crew::{self, child, REPORT_LIMIT};
use crate::output::{conclude, load_warning, parent_is, PARENT};
use crate::segment::{Opened, Segment};
use anyhow::{bail, Context, Result};
use common::demo::narrate::{duration, header, speedup};
use std::io::Write;
use std::time::Instant;

/// Iterations after which a point counts as inside the set.
const MAX_ITER: u32 = 255;

/// Escape-time of pixel (`x`, `y`) of a `width` x `height` view of the Mandelbrot set.
pub fn mandelbrot(x: usize, y: usize, width: usize, height: usize) -> u32 {
    let cr = -2.2 + 3.0 * x as f64 / width as f64;
    let ci = -1.2 + 2.4 * y as f64 / height as f64;
    let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0);
    while n < MAX_ITER && zr * zr + zi * zi <= 4.0 {
        (zr, zi) = (zr * zr - zi * zi + cr, 2.0 * zr * zi + ci);
        n += 1;
    }
    n
}

/// Child `i` of `n` computes rows `band(i).0 .. band(i).1`.
fn band(i: usize, n: usize, height: usize) -> (usize, usize) {
    (i * height / n, (i + 1) * height / n)
}

/// Images of at least this many pixels take seconds: the run then reports its progress.
const LARGE: usize = 4 << 20;

/// Refuses an image whose segment would not fit in `/dev/shm` (writing past its free space
/// would kill the demo with SIGBUS), naming the free space.
///
/// # Errors
/// A [`common::demo::cli::UsageError`] if it could never fit, a
/// [`common::demo::machine::MachineError`] if it does not fit now; the `statvfs` error.
pub fn check_space(width: usize, height: usize) -> Result<()> {
    let needed = (width * height * 4) as u64;
    let what = format!("shared-segment: a {width}x{height} image");
    common::demo::machine::check_room(std::path::Path::new("/dev/shm"), needed, &what)?;
    Ok(())
}

/// Computes rows `rows` of the image into `pixels`, saying `progress(done rows)` at every
/// quarter when the image is large.
fn compute(
    pixels: &mut [u32],
    rows: std::ops::Range<usize>,
    (width, height): (usize, usize),
    mut progress: impl FnMut(usize),
) {
    let quarter = (rows.len() / 4).max(1);
    for (k, row) in pixels.chunks_mut(width).enumerate() {
        let y = rows.start + k;
        for (x, pixel) in row.iter_mut().enumerate() {
            *pixel = mandelbrot(x, y, width, height);
        }
        if width * height >= LARGE && (k + 1) % quarter == 0 && k + 1 < rows.len() {
            progress(k + 1);
        }
    }
}

/// Runs the scenario with `workers` children on a `width` x `height` image.
///
/// # Errors
/// If a child cannot be started or fails, or a pixel differs from the serial result.
pub fn run(out: &mut impl Write, workers: usize, width: usize, height: usize) -> Result<()> {
    header(
        out,
        "shared-segment",
        "children fill their rows of one image in a shared segment",
        &[("workers", workers), ("width", width), ("height", height)],
    )?;
    let me = PARENT;
    parent_is(out)?;
    load_warning(out)?;
    let started = Instant::now();
    let mut reference = vec![0u32; width * height];
    let mut said: std::io::Result<()> = Ok(());
    compute(&mut reference, 0..height, (width, height), |done| {
        if said.is_ok() {
            let at = duration(started.elapsed());
            said = writeln!(
                out,
                "{me} serial baseline: {done} of {height} rows after {at}"
            );
        }
    });
    said?;
    let serial = started.elapsed();
    writeln!(
        out,
        "{me} serial baseline in this process: {}",
        duration(serial)
    )?;

    let mut segment = Segment::create("shared-segment", width * height * 4)?;
    writeln!(out, "{me} created {}", segment.path().display())?;
    writeln!(
        out,
        "   {} bytes: {width} x {height} pixels of 4 bytes each",
        segment.len()
    )?;
    let os_id = segment.os_id().to_string();
    let mut crew = crew::spawn(workers, |i| {
        let (first, end) = band(i, workers, height);
        let args = [
            os_id.clone(),
            width.to_string(),
            height.to_string(),
            first.to_string(),
            end.to_string(),
        ];
        ["shared-segment".to_string()]
            .into_iter()
            .chain(args)
            .collect()
    })?;
    crew.expect_all(out, "mapped", REPORT_LIMIT)?;
    segment.unlink(out)?;
    writeln!(
        out,
        "{me} every child mapped the segment; unlinked its name (the mappings stay valid)"
    )?;

    let started = Instant::now();
    crew.broadcast("go")?;
    crew.expect_all(out, "done", REPORT_LIMIT)?;
    let parallel = started.elapsed();
    crew.finish(out, "done", REPORT_LIMIT)?;
    writeln!(
        out,
        "{me} {workers} children filled the image in {} ({} against the baseline)",
        duration(parallel),
        speedup(serial, parallel)
    )?;
    writeln!(
        out,
        "(children's lines may come in any order: they run at the same time)"
    )?;

    // Every child has reported done and is reaped: nobody writes the image any more.
    let image = segment.u32s(0, width * height)?;
    let wrong = image.iter().zip(&reference).filter(|(a, b)| a != b).count();
    let what = format!(
        "{} of {} pixels match the serial result, read in place",
        image.len() - wrong,
        image.len()
    );
    conclude(
        out,
        wrong == 0,
        &what,
        "each child wrote its rows into the one segment; nothing was copied back",
    )?;
    Ok(())
}

/// The child: map the segment, say so, wait for "go", compute rows `first..end` in place.
///
/// # Errors
/// If the segment cannot be opened or is too small for the rows.
pub fn child(os_id: &str, width: usize, height: usize, first: usize, end: usize) -> Result<()> {
    let mut segment = Opened::open(os_id)?;
    if first > end || end > height {
        bail!("rows {first}..{end} are not rows of a {width}x{height} image");
    }
    child::report("mapped", "");
    if child::next_command().as_deref() != Some("go") {
        return Ok(()); // The parent gave up on us; nothing to do.
    }
    let started = Instant::now();
    // Only this child writes these rows, and the parent reads them only after "done".
    let rows = segment
        .u32s_mut(first * width, (end - first) * width)
        .context("this child's rows")?;
    compute(rows, first..end, (width, height), |done| {
        child::say(format_args!(
            "{done} of my {} rows after {}",
            end - first,
            duration(started.elapsed())
        ));
    });
    child::say(format_args!(
        "rows {first}..{end} written in place in {}",
        duration(started.elapsed())
    ));
    child::report("done", "");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_every_row_once() {
        let rows: Vec<usize> = (0..3)
            .flat_map(|i| <[usize; 2]>::from(band(i, 3, 100)))
            .collect();
        assert_eq!(rows, vec![0, 33, 33, 66, 66, 100]);
    }

    #[test]
    fn the_origin_is_inside_and_far_points_escape() {
        assert_eq!(mandelbrot(22, 12, 30, 24), MAX_ITER); // c = (0, 0)
        assert_eq!(mandelbrot(0, 0, 30, 24), 1);
    }
}
