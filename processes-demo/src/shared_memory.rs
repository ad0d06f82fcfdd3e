//! Shared memory: one counter shared on purpose, through a lock and through an atomic.
//!
//! Processes share nothing unless they ask: a counter in a plain variable would be one counter
//! per process (see private_memory.rs). So the parent creates a segment, named memory that every
//! worker maps into its own address space (often at a different address), for the counters.
//! A lock (one increment at a time) or an atomic (each `fetch_add` is indivisible) makes each
//! access whole, so both totals are exact, `workers * increments`, however the increments
//! interleave.
//! There is no compile-time refusal to show here: the compiler sees one process at a time, and
//! to it the segment is raw bytes behind a pointer; the `unsafe` cast below is where we promise
//! what it cannot check. The segment's name is unlinked as soon as every worker has mapped it,
//! so not even a `SIGKILL` of the demo can leave it in `/dev/shm`; before that, Ctrl-C removes
//! it (`PathGuard`).
//!
//! `shm-demo` tells the whole story of memory shared between processes; `sync-demo` the locks.

use anyhow::{anyhow, bail, ensure, Context, Result};
use common::demo::child::self_command;
use common::demo::cleanup::PathGuard;
use common::demo::narrate::{conclude, duration, header, pid_tag};
use common::demo::process::Crew;
use common::demo::sys::describe_exit;
use shared_memory::{Shmem, ShmemConf};
use std::io::Write;
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

/// Increments per worker, by default.
pub const INCREMENTS: u64 = 10_000;

/// How long the parent waits for each report before it calls the run stuck.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the segment holds: a lock and the count it guards, an atomic count, and how many
/// workers have mapped the segment so far.
#[repr(C)]
struct Counters {
    // Process boundary: std's `Mutex` cannot lock across processes (it waits on a futex private
    // to its process), so this lock is a flag in the segment, taken with `compare_exchange`.
    locked: AtomicBool,
    by_lock: AtomicU64,
    atomic: AtomicU64,
    mapped: AtomicU64,
}

/// `workers` workers each add 1, `increments` times, to one shared counter.
///
/// # Errors
/// A failed spawn or segment, a missing report, or a failed check.
pub fn run(out: &mut impl Write, workers: usize, increments: u64) -> Result<()> {
    header(
        out,
        "shared-memory",
        "one counter shared on purpose",
        &[("workers", workers as u64), ("increments", increments)],
    )?;
    let expected = workers as u64 * increments;
    // Shared on purpose: a segment named with our pid, so parallel runs do not clash. The guard
    // is registered first, so Ctrl-C removes the name even right after it is created.
    let os_id = format!("/processes-demo-{}-shared-memory", std::process::id());
    let name = PathGuard::new(format!("/dev/shm{os_id}"));
    let mut shmem = ShmemConf::new()
        .os_id(&os_id)
        .size(std::mem::size_of::<Counters>())
        .create()
        .map_err(|e| anyhow!("creating segment {os_id}: {e}"))?;
    shmem.set_owner(false); // the guard removes the name (early, or on Ctrl-C), not the Shmem's drop
    let counters = counters(&shmem)?;
    writeln!(
        out,
        "[parent] nothing is shared unless asked: segment {} ({} bytes) mapped at {:p}",
        name.path().display(),
        shmem.len(),
        shmem.as_ptr()
    )?;

    let started = Instant::now();
    // Process boundary: a worker is this program started again; the segment's name reaches
    // it in its arguments, and its report comes back on its stdout.
    let mut reports = Crew::new();
    for index in 0..workers {
        let mut cmd = self_command();
        cmd.args(["child", "shared-memory", &index.to_string()]);
        cmd.args([increments.to_string(), os_id.clone()]);
        reports
            .start(&mut cmd)
            .with_context(|| format!("spawning worker {index}"))?;
    }
    // Process boundary: unlink the name once every worker has mapped it; the memory lives on.
    let all_mapped = || counters.mapped.load(Relaxed) == workers as u64;
    if !common::demo::procfs::eventually(REPORT_TIMEOUT, all_mapped) {
        bail!(
            "only {} of {workers} workers mapped the segment",
            counters.mapped.load(Relaxed)
        );
    }
    drop(name);
    writeln!(out, "[parent] all {workers} workers mapped it, so its name is unlinked now; the memory stays until the last unmaps")?;
    for _ in 0..workers {
        let (index, line) = reports
            .recv(REPORT_TIMEOUT)?
            .context("waiting for a report")?;
        writeln!(out, "{} {line}", pid_tag(reports.pid(index)))?;
    }
    for status in reports.reap(REPORT_TIMEOUT)? {
        ensure!(status.success(), "a worker {}", describe_exit(status));
    }
    // Each worker's adds happened before it exited, and we reaped it: the totals are complete.
    let by_lock = counters.by_lock.load(Relaxed);
    let by_atomic = counters.atomic.load(Relaxed);
    writeln!(
        out,
        "[parent] locked total {by_lock}, atomic total {by_atomic} after {}",
        duration(started.elapsed())
    )?;

    conclude(
        out,
        by_lock == expected && by_atomic == expected,
        format!("mutex {by_lock}, atomic {by_atomic} (expected {expected})"),
        "processes share only what they map, and a lock or atomics make every increment whole",
    )?;
    Ok(())
}

/// The worker, in its own process: `increments` times, one increment under the lock and one
/// atomic add.
///
/// # Errors
/// The segment cannot be opened, or the parent stopped reading our stdout.
pub fn worker(index: usize, increments: u64, os_id: &str) -> Result<()> {
    let shmem = ShmemConf::new()
        .os_id(os_id)
        .open()
        .map_err(|e| anyhow!("worker {index} opening segment {os_id}: {e}"))?;
    let counters = counters(&shmem)?;
    // Tell the parent that this mapping exists, so it may unlink the name.
    counters.mapped.fetch_add(1, Relaxed);
    for _ in 0..increments {
        // The lock makes the two steps between `lock` and `store(false)` one whole increment.
        lock(&counters.locked);
        let count = counters.by_lock.load(Relaxed);
        counters.by_lock.store(count + 1, Relaxed);
        counters.locked.store(false, Release);
        // Relaxed is enough: only the total matters, and the parent reads it after reaping us.
        counters.atomic.fetch_add(1, Relaxed);
    }
    let line = format!(
        "added {increments} to each counter (segment at {:p})",
        shmem.as_ptr()
    );
    // Process boundary: our stdout is a pipe to the parent, which prints the line for us.
    writeln!(std::io::stdout(), "{line}").context("writing to the parent")
}

/// Takes the lock: waits until the flag goes from `false` to `true`, yielding the CPU so that
/// the holder can run and let go. `Acquire` pairs with the holder's `Release`: we see its write.
fn lock(flag: &AtomicBool) {
    while flag
        .compare_exchange_weak(false, true, Acquire, Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
}

/// The counters at the start of `shmem`, borrowed for as long as the mapping lives.
fn counters(shmem: &Shmem) -> Result<&Counters> {
    ensure!(
        shmem.len() >= std::mem::size_of::<Counters>(),
        "segment too small"
    );
    // SAFETY:
    // 1. Alignment: the segment comes from mmap, which returns page-aligned addresses, so the
    //    8-byte alignment of `Counters` holds.
    // 2. Size: checked just above; the mapping is at least `size_of::<Counters>()` bytes.
    // 3. Validity: a new segment is zero-filled (ftruncate), and all-zero bytes are a valid
    //    `AtomicBool` (false) and valid `AtomicU64`s; after that every process touches these
    //    bytes only through the atomics.
    // 4. Lifetime: the reference borrows `shmem`, so it cannot outlive the mapping.
    Ok(unsafe { &*shmem.as_ptr().cast::<Counters>() })
}
