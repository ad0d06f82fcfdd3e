//! Bench: the workloads at a larger scale, repeated, with medians and a table of ratios.
//!
//! The same workloads as `workloads` (CPU-bound, tiny, sleeping) plus tiny tasks sent one per
//! message, `scale` times larger, each run `reps` times sequentially and on both pools; the
//! table shows medians, speed-ups over sequential, and how much longer the process pool took than
//! the thread pool. Run it in release for numbers worth quoting: a debug build inflates the
//! per-task overhead. Progress goes to stderr and is hidden when stderr is not a terminal.

use crate::workloads::{lesson_for, run_on, run_sequential, standard, Row, Workload, BUSY};
use crate::{median, process_pool, thread_pool, Settings};
use common::demo::narrate::{conclude, duration, header, ratio, speedup};
use common::Chunk;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;

/// The workloads of the bench: the standard three at `scale`, and tiny tasks one per batch.
pub fn cases(scale: u64, chunk: Chunk) -> Vec<(Workload, Chunk)> {
    let mut cases: Vec<(Workload, Chunk)> =
        standard(scale).into_iter().map(|w| (w, chunk)).collect();
    let one_by_one = Workload {
        name: "tiny x1",
        task: crate::tasks::tiny,
        items: (0..2_500 * scale).collect(),
        lesson: "one message per tiny task: pure overhead",
    };
    cases.push((one_by_one, Chunk::Size(1)));
    cases
}

/// Runs the bench and prints its table.
///
/// # Errors
/// A pool that cannot start, a chart that cannot be written, or a failed check.
pub fn run(
    out: &mut impl Write,
    settings: &Settings,
    reps: usize,
    scale: u64,
) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "bench",
        "the workloads, larger and repeated: medians and ratios",
        &[
            ("workers", workers as u64),
            ("reps", reps as u64),
            ("scale", scale),
        ],
    )?;
    let cases = cases(scale, settings.chunk());
    let bar = ProgressBar::with_draw_target(
        Some((cases.len() * reps * 3) as u64),
        ProgressDrawTarget::stderr(),
    );
    // The template is a constant, so parsing it cannot fail at run time; fall back to the default.
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let busy = common::demo::narrate::load_warning(out)?;
    let threads = thread_pool(workers, false)?;
    let processes = process_pool(workers, false)?;

    let (mut rows, mut right, mut runs) = (Vec::new(), 0, 0);
    for (work, chunk) in &cases {
        let (mut seq, mut thr, mut pro) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 1..=reps {
            bar.set_message(format!("{} (rep {rep}/{reps})", work.name));
            let (expected, t) = run_sequential(work);
            seq.push(t);
            bar.inc(1);
            let (by_threads, t) = run_on(&threads, work, *chunk)?;
            thr.push(t);
            bar.inc(1);
            let (by_processes, t) = run_on(&processes, work, *chunk)?;
            pro.push(t);
            bar.inc(1);
            right += usize::from(by_threads == expected) + usize::from(by_processes == expected);
            runs += 2;
        }
        rows.push(Row {
            name: work.name,
            sequential: median(seq),
            thread: median(thr),
            process: median(pro),
            lesson: work.lesson,
        });
    }
    bar.finish_and_clear();

    writeln!(
        out,
        "{:<10} {:>7} {:>12} {:>12} {:>12} {:>10} {:>10} {:>9}",
        "workload", "tasks", "sequential", "thread", "process", "thr/seq", "pro/seq", "pro/thr"
    )?;
    for (r, (w, _)) in rows.iter().zip(&cases) {
        writeln!(
            out,
            "{:<10} {:>7} {:>12} {:>12} {:>12} {:>10} {:>10} {:>8.2}x",
            r.name,
            w.items.len(),
            duration(r.sequential),
            duration(r.thread),
            duration(r.process),
            speedup(r.sequential, r.thread),
            speedup(r.sequential, r.process),
            ratio(r.process, r.thread)
        )?;
    }
    writeln!(
        out,
        "(medians of {reps}; thr/seq and pro/seq are speed-ups over sequential; pro/thr is how \
         many times longer the process pool took than the thread pool)"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<10} {}",
            format!("{}:", r.name),
            lesson_for(r, workers)
        )?;
    }
    if let Some(dir) = &settings.svg {
        let path = dir.join("bench-speedup.svg");
        crate::charts::speedups(
            &path,
            &format!("bench: speed-up over sequential, {workers} workers"),
            &rows,
        )?;
        writeln!(out, "wrote {}", path.display())?;
    }
    // "Threads win or tie" is claimed only where every row shows it (pro/thr at least 0.9).
    let threads_win = rows.iter().all(|r| ratio(r.process, r.thread) >= 0.9);
    let unreadable = busy || rows.iter().any(|r| lesson_for(r, workers) == BUSY);
    conclude(
        out,
        right == runs,
        format_args!("{right} of {runs} pool runs matched the sequential results"),
        match (threads_win, unreadable) {
            (true, _) => {
                "threads win or tie everywhere in Rust; processes pay per message and buy isolation"
            }
            (false, true) => "the machine was busy: rerun (the results above are checked)",
            (false, false) => {
                "the process pool won a row this time: rerun; a thread pool usually wins or ties"
            }
        },
    )?;
    Ok(())
}
