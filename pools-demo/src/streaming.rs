//! Streaming: a pool pulls its input lazily, so an endless input works and memory follows the
//! window of batches in flight, not the input.
//!
//! Each pool weighs 128 MiB of buffers made on the fly, twice. Eager: the input is collected
//! into a `Vec` first (what `map` over a list does in Python), so all of it is alive at once
//! before the first task runs. Streamed: `map_iter` pulls a batch only when one comes back,
//! at most four per worker ahead (Python 3.14's `buffersize`), so only that window is alive.
//! The rise of this process's peak memory shows the difference (the kernel's `VmHWM`, reset
//! between runs). Then an endless input, `0..`, of which only 100 results are read: the count
//! of items the pool pulled is bounded by the window, and the program ends. On a terminal, a
//! progress bar (on stderr) follows the streamed results as they arrive.

use crate::{process_pool, thread_pool, Settings};
use common::demo::narrate::{conclude, header};
use common::Pool;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_bytes::ByteBuf;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Buffers of the weighed input, and the size of each: 128 MiB in all.
const BUFFERS: usize = 2_048;
const SIZE: usize = 64 * 1024;

/// Results read from the endless input.
const READ: usize = 100;

/// What one pool showed.
struct Seen {
    eager_mib: Option<u64>,
    streamed_mib: Option<u64>,
    weights_right: bool,
    endless_pulled: usize,
    endless_right: bool,
}

/// A buffer's weight: its length (the task is trivial; what matters is how its input travels).
fn weigh(buffer: ByteBuf) -> u64 {
    buffer.len() as u64
}

fn square(n: u64) -> u64 {
    n * n
}

/// The input, made on the fly: buffer `i` holds `i % 251` in every byte.
fn made() -> impl Iterator<Item = ByteBuf> {
    (0..BUFFERS).map(|i| ByteBuf::from(vec![(i % 251) as u8; SIZE]))
}

/// Resets this process's peak resident memory to its current size (Linux: `clear_refs` 5);
/// `false` where the kernel does not allow it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's peak resident memory since the last reset, in bytes.
fn peak() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    kib.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

/// Runs `work` and returns its value with the rise of the peak memory, in MiB (also used by
/// `share_vs_send`).
pub(crate) fn rise<T>(work: impl FnOnce() -> T) -> (T, Option<u64>) {
    let measured = reset_peak();
    let before = peak();
    let value = work();
    let rise = match (measured, before, peak()) {
        (true, Some(before), Some(after)) => Some(after.saturating_sub(before) >> 20),
        _ => None,
    };
    (value, rise)
}

/// A progress bar on stderr, fed by the results as they arrive, when stdout is a terminal; a
/// hidden one otherwise (a pipe, a file, a test), so the narration stays clean.
fn progress(label: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(BUFFERS as u64), ProgressDrawTarget::stderr());
    // The template is a constant, so parsing it cannot fail at run time; fall back to the default.
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} buffers  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    bar
}

pub(crate) fn mib(rise: Option<u64>) -> String {
    rise.map_or_else(|| "not measurable here".to_string(), |m| format!("{m} MiB"))
}

/// The one function both pools run.
fn compare<P: Pool>(out: &mut impl Write, pool: &P) -> anyhow::Result<Seen> {
    let kind = pool.kind();
    let total = (BUFFERS * SIZE) as u64;
    let (eager, eager_mib) = rise(|| {
        let all: Vec<ByteBuf> = made().collect();
        pool.map(weigh, all)
    });
    let eager_sum: u64 = eager?.iter().sum();
    writeln!(
        out,
        "{kind:<7} pool, eager:    collected first, then map: peak rose by {}",
        mib(eager_mib)
    )?;
    let bar = progress(&format!("{kind} pool, streaming"));
    let (streamed, streamed_mib) = rise(|| {
        pool.map_iter(weigh, made())
            .inspect(|_| bar.inc(1))
            .sum::<Result<u64, _>>()
    });
    bar.finish_and_clear();
    let streamed_sum = streamed?;
    writeln!(
        out,
        "{kind:<7} pool, streamed: map_iter pulls as batches return: peak rose by {}",
        mib(streamed_mib)
    )?;
    let pulled = AtomicUsize::new(0);
    let endless = (0u64..).inspect(|_| {
        pulled.fetch_add(1, Relaxed);
    });
    let squares: Vec<u64> = pool
        .map_iter(square, endless)
        .take(READ)
        .collect::<Result<_, _>>()?;
    let endless_pulled = pulled.load(Relaxed);
    writeln!(
        out,
        "{kind:<7} pool, endless:  read {READ} results of 0.., the pool pulled {endless_pulled} items"
    )?;
    Ok(Seen {
        eager_mib,
        streamed_mib,
        weights_right: eager_sum == total && streamed_sum == total,
        endless_pulled,
        endless_right: squares == (0..READ as u64).map(square).collect::<Vec<_>>(),
    })
}

/// Runs `compare` on both pools and checks the weights and the endless input's results.
///
/// # Errors
/// A pool that cannot start, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "streaming",
        "input pulled lazily: memory follows the window, and an endless input works",
        &[
            ("workers", workers.to_string()),
            ("input", format!("{BUFFERS} buffers of 64 KiB (128 MiB)")),
        ],
    )?;
    writeln!(
        out,
        "(peak memory is this process's; a process pool's workers hold their own batches)"
    )?;
    let seen = [
        compare(out, &thread_pool(workers, false)?)?,
        compare(out, &process_pool(workers, false)?)?,
    ];
    // Batches of an endless input double up to 64 items; four per worker ahead of the one read.
    let bound = READ + (4 * workers + 1) * 64;
    let right = seen
        .iter()
        .all(|s| s.weights_right && s.endless_right && s.endless_pulled <= bound);
    let smaller = seen.iter().all(|s| match (s.eager_mib, s.streamed_mib) {
        (Some(eager), Some(streamed)) => streamed * 4 < eager,
        _ => false,
    });
    let lesson = if smaller {
        "a pool that pulls its input as batches return holds a window, not the input"
    } else {
        "peak memory did not show the difference on this run (not measurable, or a busy \
         machine): rerun"
    };
    conclude(
        out,
        right,
        format_args!(
            "both pools weighed all 128 MiB, eager and streamed, and read {READ} results of an \
             endless input pulling at most {bound} items"
        ),
        lesson,
    )?;
    Ok(())
}
