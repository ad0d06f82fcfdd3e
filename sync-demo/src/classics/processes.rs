//! The classics between processes: the same four as the threads run, ending with the same
//! result line. The event, the barrier and the buffer live in one shared segment
//! (`shared.rs`); the read-write lock is `flock` in its shared and exclusive modes.

use std::io::Write;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::{header, pid_tag, plural};
use common::demo::segment::Segment;

use super::{Facts, SharedClassics, PATIENCE};
use crate::crew::child::report;
use crate::crew::Crew;

/// Processes: the same four, `workers` processes each: the event, the barrier and the buffer in
/// a shared segment, the read-write lock an `flock`.
///
/// # Errors
/// A spawn, segment or file operation failed, or the check did not hold.
pub fn processes(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "classics (processes)",
        "event, barrier, read-write lock, bounded buffer",
        &[("workers", workers)],
    )?;
    // Process boundary: the event, barrier and buffer live in a segment every child maps.
    let mut shared =
        Segment::<SharedClassics>::create("classics").context("creating the segment")?;
    let name = shared.name().to_string();
    let party = |i: usize| {
        let (i, parties) = (i.to_string(), workers.to_string());
        ["classics-party".to_string(), name.clone(), i, parties]
    };
    let mut crew = Crew::spawn((0..workers).map(party)).context("spawning the parties")?;
    let items = 10;
    let producer = [
        "classics-producer".to_string(),
        name.clone(),
        items.to_string(),
    ];
    let mut producer = Crew::spawn([producer]).context("spawning the producer")?;
    shared
        .unlink_once_opened(workers + 1, PATIENCE)
        .context("waiting for every child to map the segment")?;

    // Event: every waiter wakes when it is set.
    crew.expect_all(out, "ready", PATIENCE)?;
    std::thread::sleep(Duration::from_millis(10)); // on purpose: let them all start waiting
    shared.set();
    let woke = count_ones(crew.expect_all(out, "woke", PATIENCE)?);
    writeln!(out, "   event: set once, {woke} of {workers} waiters woke")?;

    // Barrier: nobody starts phase 2 before everybody finished phase 1.
    let reports = crew.finish(out, "phase2", PATIENCE)?;
    let early = count_ones(reports.into_iter().map(|(_, words)| words));
    writeln!(
        out,
        "   barrier: {workers} processes arrived at different times; {early} started phase 2 early"
    )?;

    // Read-write lock: readers together, a writer alone (`flock`, which the kernel keeps).
    let (most_readers, writer_alone) = rwlock(out, workers)?;
    writeln!(
        out,
        "   rwlock: {most_readers} readers inside at once; the writer was {}",
        if writer_alone {
            "refused while they read, granted after"
        } else {
            "let in among readers?!"
        }
    )?;

    // Bounded buffer: a fast producer process, the parent a slow consumer, capacity 2.
    producer
        .broadcast(crate::crew::GO)
        .context("opening the start gate")?;
    let mut received = Vec::new();
    for _ in 0..items {
        std::thread::sleep(Duration::from_millis(2)); // on purpose: a slow consumer
        received.push(shared.pop()? as usize);
    }
    writeln!(
        out,
        "   {} consumed {}",
        pid_tag(std::process::id()),
        plural(items, "item", "items")
    )?;
    let reports = producer.finish(out, "fullest", PATIENCE)?;
    let fullest = reports
        .first()
        .and_then(|(_, words)| words.parse().ok())
        .context("the producer's report")?;
    let in_order = received == (0..items).collect::<Vec<_>>();
    writeln!(
        out,
        "   buffer: never held more than {fullest} (capacity 2); {} received, in order: {in_order}",
        plural(received.len(), "item", "items")
    )?;
    let facts = Facts {
        woke,
        workers,
        early,
        most_readers,
        writer_alone,
        fullest,
        in_order,
    };
    facts.conclude(out)
}

/// How many reports say `1`.
fn count_ones(reports: impl IntoIterator<Item = String>) -> usize {
    reports.into_iter().filter(|words| words == "1").count()
}

/// `workers` reader processes hold a shared `flock` together while the parent tries the
/// exclusive one; how many held it at once, and whether the writer was refused then and
/// granted after.
fn rwlock(out: &mut impl Write, workers: usize) -> Result<(usize, bool)> {
    let guard = common::demo::cleanup::PathGuard::new(
        std::env::temp_dir().join(format!("sync-demo-{}-rwlock", std::process::id())),
    );
    let file = std::fs::File::create(guard.path()).context("creating the lock file")?;
    let path = guard.path().display().to_string();
    let mut crew = Crew::spawn((0..workers).map(|_| ["shared-reader", path.as_str()]))
        .context("spawning the readers")?;
    // Every reader reports while it holds the lock and keeps it until the gate opens: when
    // all have reported, all hold it at once.
    let together = crew.expect_all(out, "shared", PATIENCE)?.len();
    let refused = matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock));
    crew.broadcast(crate::crew::GO)
        .context("opening the start gate")?;
    crew.finish(out, "done", PATIENCE)?;
    let granted = file.try_lock().is_ok();
    Ok((together, refused && granted))
}

/// In a child: holds a shared lock on `path` until the parent says go.
///
/// # Errors
/// A file operation failed or the parent went away.
pub fn child_reader(path: &std::path::Path) -> Result<()> {
    let file = std::fs::File::open(path).context("opening the lock file")?;
    file.lock_shared().context("taking the shared lock")?;
    crate::crew::child::say("holds the shared lock");
    crate::crew::child::report("shared", "");
    crate::crew::wait_for_go()?;
    Ok(())
}

/// In a child: party `index` of `parties`. Reports `@ready`, waits for the event and reports
/// `@woke 1` (or 0); then arrives at the barrier at its own time and reports `@phase2 1` if it
/// passed before every party had finished phase 1 (0 otherwise).
///
/// # Errors
/// The segment could not be opened, or the barrier failed.
pub fn child_party(segment: &str, index: usize, parties: usize) -> Result<()> {
    let shared = Segment::<SharedClassics>::open(segment).context("opening the segment")?;
    report("ready", "");
    report("woke", u8::from(shared.wait_event(PATIENCE)));
    std::thread::sleep(Duration::from_millis(2 * index as u64)); // on purpose: arrive apart
    shared.phase1.fetch_add(1, AcqRel);
    shared.barrier.wait(parties as u32, PATIENCE)?;
    let early = shared.phase1.load(Acquire) < parties as u32;
    report("phase2", u8::from(early));
    Ok(())
}

/// In a child: waits for the start gate, then puts items `0..items` into the buffer as fast as
/// it can and reports `@fullest N`, the most the buffer held after a put.
///
/// # Errors
/// The segment could not be opened, or a put waited past its bound.
pub fn child_producer(segment: &str, items: u32) -> Result<()> {
    let shared = Segment::<SharedClassics>::open(segment).context("opening the segment")?;
    crate::crew::wait_for_go()?;
    let mut fullest = 0;
    for item in 0..items {
        fullest = fullest.max(shared.push(item)?);
    }
    report("fullest", fullest);
    Ok(())
}
