//! The SVG charts of `--svg DIR`: a pool's timeline and the speed-up table, drawn with plotters.
//!
//! plotters builds the picture from elements (rectangles, text, axes) and its SVG backend writes
//! them out, so the files are well-formed and a browser shows them. It is built without its
//! font feature: text is written as SVG `<text>` and the browser picks the font.

use crate::picture::symbol;
use crate::workloads::Row;
use anyhow::Context;
use common::Span;
use plotters::prelude::*;
use std::path::Path;

/// Draws `spans` as one lane per worker, time across, each batch a labelled block.
///
/// # Errors
/// A drawing or file error, naming the file.
pub fn timeline(path: &Path, title: &str, spans: &[Span], workers: usize) -> anyhow::Result<()> {
    let context = || format!("writing {}", path.display());
    let t0 = spans.iter().map(|s| s.start).min().unwrap_or_default();
    let ms = |t: std::time::Duration| (t - t0).as_secs_f64() * 1e3;
    let t_max = spans.iter().map(|s| ms(s.end)).fold(1.0, f64::max);

    let root = SVGBackend::new(path, (900, 120 + 60 * workers as u32)).into_drawing_area();
    root.fill(&WHITE).with_context(context)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..t_max * 1.02, -0.5..workers as f64 - 0.5)
        .with_context(context)?;
    chart
        .configure_mesh()
        .x_desc("ms since the first batch started")
        .y_labels(workers)
        .y_label_formatter(&|y| format!("worker {}", y.round()))
        .disable_y_mesh()
        .draw()
        .with_context(context)?;
    chart
        .draw_series(spans.iter().map(|s| {
            let lane = s.worker as f64;
            Rectangle::new(
                [(ms(s.start), lane - 0.35), (ms(s.end), lane + 0.35)],
                Palette99::pick(s.first).filled(),
            )
        }))
        .with_context(context)?;
    chart
        .draw_series(spans.iter().map(|s| {
            let lane = s.worker as f64;
            Rectangle::new(
                [(ms(s.start), lane - 0.35), (ms(s.end), lane + 0.35)],
                BLACK.stroke_width(1),
            )
        }))
        .with_context(context)?;
    chart
        .draw_series(spans.iter().map(|s| {
            let middle = (ms(s.start) + ms(s.end)) / 2.0;
            Text::new(
                symbol(s.first).to_string(),
                (middle, s.worker as f64),
                ("sans-serif", 14),
            )
        }))
        .with_context(context)?;
    root.present().with_context(context)?;
    Ok(())
}

/// Draws the speed-up over sequential of each workload on each pool as paired bars.
///
/// # Errors
/// A drawing or file error, naming the file.
pub fn speedups(path: &Path, title: &str, rows: &[Row]) -> anyhow::Result<()> {
    let context = || format!("writing {}", path.display());
    let ratio = |base: std::time::Duration, new: std::time::Duration| {
        common::demo::narrate::ratio(base, new).min(1e6)
    };
    let top = rows
        .iter()
        .flat_map(|r| {
            [
                ratio(r.sequential, r.thread),
                ratio(r.sequential, r.process),
            ]
        })
        .fold(1.0, f64::max)
        * 1.2;

    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE).with_context(context)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..rows.len() as f64 - 0.5, 0.0..top)
        .with_context(context)?;
    chart
        .configure_mesh()
        .x_labels(rows.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 {
                rows.get(i as usize)
                    .map(|r| r.name.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_x_mesh()
        .y_desc("speed-up over sequential (x)")
        .draw()
        .with_context(context)?;
    let pools = [("thread pool", BLUE, -0.35), ("process pool", RED, 0.0)];
    for (label, color, offset) in pools {
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let value = if label == "thread pool" {
                    ratio(r.sequential, r.thread)
                } else {
                    ratio(r.sequential, r.process)
                };
                let x = i as f64 + offset;
                Rectangle::new([(x, 0.0), (x + 0.35, value)], color.mix(0.7).filled())
            }))
            .with_context(context)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    // The break-even line: below it, the pool is slower than a plain loop.
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 1.0), (rows.len() as f64 - 0.5, 1.0)],
            BLACK.stroke_width(1),
        )))
        .with_context(context)?
        .label("1x: as fast as sequential")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .with_context(context)?;
    root.present().with_context(context)?;
    Ok(())
}
