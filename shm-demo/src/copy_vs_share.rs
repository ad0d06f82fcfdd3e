//! Copy vs share: move a buffer from the parent to its children by messages over ipc-channel and
//! by a shared segment; bandwidth of each against an in-process memcpy of the same size.
//!
//! Every way is timed the same: from the moment the parent starts moving the data until the last
//! child has the data of its slice mapped in its own address space (it has read one word of every
//! 4 KiB page of its slice). Children are started and connected before any clock runs.
//!
//! - **memcpy**: one `copy_from_slice` in the parent into a buffer whose pages already exist.
//! - **ipc bytes (copy)**: `IpcBytesSender::send` of each child's slice. The bytes are copied
//!   twice (into the kernel's socket buffers, then out into a fresh `Vec` in the child), and the
//!   child's fresh pages must be faulted in and zeroed: well below memcpy.
//! - **ipc IpcSharedMemory**: ipc-channel's own shared memory: one copy into a new memfd, then
//!   only its file descriptor is sent; the child maps it. One copy, but into fresh pages.
//! - **segment, new**: create a segment, copy the buffer into it, send its name; children open
//!   and map it. One copy into fresh pages, like the memfd.
//! - **segment, reused**: the segment from the previous way, already mapped by everyone: the
//!   parent copies into it and tells the children "go". One copy into existing pages, so it runs
//!   at memcpy speed; this is the steady state of a program that keeps a segment (the target).
//!
//! Fresh pages are what separate "new" from "reused": the kernel must allocate, zero and map
//! every 4 KiB page on first touch, which on this machine costs several times as much as copying
//! it (the scenario measures it: "first write to each of the N fresh pages").

use crate::crew::{self, REPORT_LIMIT};
use crate::output::{conclude, load_warning, parent_is};
use crate::segment::{self, Segment};
use anyhow::{anyhow, bail, Context, Result};
use common::demo::narrate::{duration, header};
use common::demo::sys::{monotonic_nanos, nanos_between};
use ipc_channel::ipc::{IpcBytesSender, IpcSender, IpcSharedMemory};
use std::io::Write;
use std::ops::Range;
use std::time::{Duration, Instant};

mod receiver;
mod report;
mod sizing;
pub use receiver::child;
use receiver::connect;
pub use sizing::check_memory;
use sizing::fit_in_dev_shm;

const PAGE: usize = 4096;
const MIB: usize = 1 << 20;

/// What a child sends back when it connects: its pid and the two channels the parent sends on.
pub(crate) type Hello = (u32, IpcBytesSender, IpcSender<IpcSharedMemory>);

/// Child `i` of `n` gets bytes `slice(i)` of a `len`-byte buffer (page-aligned bounds).
fn slice(i: usize, n: usize, len: usize) -> Range<usize> {
    let pages = len / PAGE;
    (i * pages / n * PAGE)..((i + 1) * pages / n * PAGE)
}

/// Reads one word of every page of `bytes` (mapping each page) and sums them: a cheap check
/// that each page arrived with the right content, at the right place.
fn sample(bytes: &[u8]) -> u64 {
    bytes.chunks(PAGE).enumerate().fold(0u64, |sum, (p, page)| {
        let at = (p * 8) % (page.len() - 7).max(1);
        let word = page.get(at..at + 8).map_or(0, |w| {
            u64::from_le_bytes(w.try_into().expect("`at..at + 8` is 8 bytes long"))
        });
        sum.wrapping_add(word)
    })
}

/// Runs the scenario: `size_mib` MiB to `workers` children, each way `rounds` times (best kept).
///
/// # Errors
/// If a child fails or any child's data does not match what the parent sent.
pub fn run(out: &mut impl Write, workers: usize, asked_mib: usize, rounds: usize) -> Result<()> {
    // Every "fastest round" below relies on this.
    anyhow::ensure!(
        rounds >= 1,
        "copy-vs-share needs at least one round (got 0)"
    );
    check_memory(asked_mib)?;
    let (size_mib, free) = fit_in_dev_shm(asked_mib)?;
    header(
        out,
        "copy-vs-share",
        "the same bytes to every child, by copying messages and by a shared segment",
        &[("workers", workers), ("mib", size_mib), ("rounds", rounds)],
    )?;
    if size_mib < asked_mib {
        writeln!(
            out,
            "   --mib {asked_mib} scaled down to {size_mib}: /dev/shm has {} free, and a new \
             segment\n   is made while the children still map the previous one (room for two)",
            segment::mib(free)
        )?;
    }
    parent_is(out)?;
    let busy = load_warning(out)?;
    let len = size_mib * MIB;
    // Distinct content in every word, so a page in the wrong place fails the check.
    let mut src = vec![0u8; len];
    for (k, word) in src.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&(k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    }
    let expected: Vec<u64> = (0..workers)
        .map(|i| sample(&src[slice(i, workers, len)]))
        .collect();

    // Baseline first: memcpy within this process, into pages that already exist.
    let mut dst = vec![1u8; len]; // Non-zero, so every page is really allocated now.
    let memcpy = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            dst.copy_from_slice(&src);
            started.elapsed()
        })
        .min()
        .expect("rounds >= 1 (checked on entry), so there is a fastest");
    anyhow::ensure!(dst == src, "memcpy baseline copied wrongly");
    drop(dst);

    let mut crew = crew::spawn(workers, |i| {
        vec![
            "copy-vs-share".into(),
            i.to_string(),
            workers.to_string(),
            len.to_string(),
        ]
    })?;
    let mut channels = Vec::new();
    for (i, pid) in crew.pids().into_iter().enumerate() {
        channels.push(connect(&mut crew, i, pid)?);
    }
    crew.expect_all(out, "ready", REPORT_LIMIT)?;

    let mut rows: Vec<(&str, Duration)> = vec![("memcpy in one process", memcpy)];
    let mut checked = 0;
    // Each way: send the command, start the clock, move the data, wait for every child's
    // report "<monotonic time when my slice was mapped> <sample>", check the samples.
    let mut best = |name, times: &mut Vec<Duration>, got: Vec<String>, start: u64| -> Result<()> {
        let mut last = start;
        for (i, words) in got.iter().enumerate() {
            let (at, sum) = words
                .split_once(' ')
                .context("a report without two numbers")?;
            last = last.max(at.parse()?);
            if sum.parse::<u64>()? != expected[i] {
                bail!("{name}: child {i}'s data differs from what the parent sent");
            }
            checked += 1;
        }
        times.push(nanos_between(start, last));
        Ok(())
    };
    let (mut copy, mut memfd, mut new, mut reused) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut segment: Option<Segment> = None;
    // For the reused segment, also the parent's copy alone: what remains is waking the
    // children and their page reads, which a busy scheduler can stretch.
    let mut reused_copy = Vec::new();
    let started = Instant::now();
    for round in 1..=rounds {
        crew.broadcast("ipc")?;
        let start = monotonic_nanos();
        for (i, (bytes, _)) in channels.iter().enumerate() {
            bytes
                .send(&src[slice(i, workers, len)])
                .with_context(|| format!("sending bytes to child {i}"))?;
        }
        best(
            "ipc bytes",
            &mut copy,
            crew.expect_all(out, "got", REPORT_LIMIT)?,
            start,
        )?;

        crew.broadcast("memfd")?;
        let start = monotonic_nanos();
        for (i, (_, shm)) in channels.iter().enumerate() {
            shm.send(IpcSharedMemory::from_bytes(&src[slice(i, workers, len)]))
                .map_err(|e| anyhow!("sending a memfd to child {i}: {e}"))?;
        }
        best(
            "ipc IpcSharedMemory",
            &mut memfd,
            crew.expect_all(out, "got", REPORT_LIMIT)?,
            start,
        )?;

        drop(segment.take()); // The previous round's segment goes (children unmap it on "map").
        let start = monotonic_nanos();
        let mut seg = Segment::create("copy-vs-share", len)?;
        seg.bytes_mut(0..len)?.copy_from_slice(&src); // no child has mapped it yet
        crew.broadcast(&format!("map {}", seg.os_id()))?;
        best(
            "segment, new",
            &mut new,
            crew.expect_all(out, "got", REPORT_LIMIT)?,
            start,
        )?;
        seg.unlink(out)?; // Every child has mapped it: the name can go.

        // Zero it first (untimed), so a child reading stale data would fail the check. Every
        // child waits for its next command meanwhile, and reads only after "shm".
        seg.bytes_mut(0..len)?.fill(0);
        let start = monotonic_nanos();
        seg.bytes_mut(0..len)?.copy_from_slice(&src);
        reused_copy.push(nanos_between(start, monotonic_nanos()));
        crew.broadcast("shm")?;
        best(
            "segment, reused",
            &mut reused,
            crew.expect_all(out, "got", REPORT_LIMIT)?,
            start,
        )?;
        segment = Some(seg);
        // A long run (large --mib, a debug build) says how far it is; a quick one stays quiet.
        if round < rounds && started.elapsed() > Duration::from_secs(1) {
            let after = duration(started.elapsed());
            writeln!(
                out,
                "   ... round {round} of {rounds}: every way done after {after}"
            )?;
        }
    }
    drop(channels);
    crew.finish(out, "got", REPORT_LIMIT)?;
    drop(segment);

    // The reused round with the best total, split into the parent's copy and the rest.
    let fastest = (0..reused.len())
        .min_by_key(|&r| reused[r])
        .expect("rounds >= 1 (checked on entry), so there is a fastest");
    let (reused_total, reused_copy) = (reused[fastest], reused_copy[fastest]);
    for (name, times) in [
        ("ipc-channel bytes (copy)", copy),
        ("ipc-channel IpcSharedMemory", memfd),
        ("shared segment, new", new),
        ("shared segment, reused", reused),
    ] {
        let best = times.into_iter().min();
        rows.push((
            name,
            best.expect("rounds >= 1 (checked on entry): one time per round"),
        ));
    }
    let lesson = report::show(
        out,
        report::Measured {
            rows: &rows,
            len,
            rounds,
            workers,
            reused_copy,
            reused_total,
            busy,
        },
    )?;
    let what = format!(
        "{checked} child slices verified (the data of every child, every way, every round: \
         {workers} x 4 x {rounds})"
    );
    conclude(out, checked == 4 * rounds * workers, &what, &lesson)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_page_aligned_and_cover_everything() {
        let len = 10 * PAGE;
        let all: Vec<Range<usize>> = (0..3).map(|i| slice(i, 3, len)).collect();
        assert_eq!(
            all,
            vec![0..3 * PAGE, 3 * PAGE..6 * PAGE, 6 * PAGE..10 * PAGE]
        );
    }

    #[test]
    fn sample_sees_a_moved_page() {
        let a: Vec<u8> = (0..3 * PAGE).map(|i| (i / 7) as u8).collect();
        let mut b = a.clone();
        b.rotate_left(PAGE);
        assert_ne!(sample(&a), sample(&b));
    }
}
