//! The seed's semaphore: 100 workers, three kinds of work, each kind limited to a few at once.
//!
//! Worker `i` does kind `i % 3`. Every worker records how many of its kind are inside at the
//! moment it enters; the highest such number per kind is what the check reads. All workers are
//! released at once through a gate, so without a semaphore nearly a third of them are inside
//! their kind together. With one semaphore per kind (limit permits each), a worker waits for a
//! permit before it enters and the count can never pass the limit. Threads use this crate's
//! [`Semaphore`]; processes (in `semaphore/named.rs`) use POSIX named semaphores, and since
//! they share no counter, each child reports when it entered and left (on the one monotonic
//! clock all processes read) and the parent replays those times to find the most inside at once.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::demo::narrate::{duration, header, plural};

use crate::classics::Event;
use crate::counting_semaphore::Semaphore;
use crate::output::{conclude, every_second};

mod named;
pub use named::{child, most_at_once, processes};

/// The names of the three kinds of work.
pub const KINDS: [&str; 3] = ["A", "B", "C"];
/// How long any worker waits for a permit before the run is called broken.
const PATIENCE: Duration = Duration::from_secs(20);

fn workers_of(workers: usize, kind: usize) -> usize {
    (0..workers).filter(|w| w % 3 == kind).count()
}

/// Longer runs than this report their progress.
const SLOW: Duration = Duration::from_secs(3);

/// About how long the run with semaphores takes: each kind lets `limit` workers in at a time.
fn expected(workers: usize, limits: [usize; 3], work: Duration) -> Duration {
    let rounds = (0..3).map(|k| workers_of(workers, k).div_ceil(limits[k]));
    work * rounds.max().expect("three kinds, so there is a largest") as u32
}

/// Says how far a long run is, and that it will take a while.
fn progress(out: &mut impl Write, done: usize, workers: usize, started: Instant) -> Result<()> {
    let after = duration(started.elapsed());
    writeln!(out, "   ... {done} of {workers} workers done after {after}")?;
    Ok(())
}

fn report(
    out: &mut impl Write,
    label: &str,
    max: [usize; 3],
    limits: [usize; 3],
    workers: usize,
    took: Duration,
) -> Result<()> {
    writeln!(out, "   {label} (took {}):", duration(took))?;
    for k in 0..3 {
        let n = workers_of(workers, k);
        writeln!(
            out,
            "     kind {} (limit {}): {}, at most {} inside at once",
            KINDS[k],
            limits[k],
            plural(n, "worker", "workers"),
            max[k]
        )?;
    }
    Ok(())
}

fn conclude_limits(
    out: &mut impl Write,
    without: [usize; 3],
    with: [usize; 3],
    limits: [usize; 3],
    workers: usize,
) -> Result<()> {
    let pairs = |max: [usize; 3]| {
        (0..3)
            .map(|k| format!("{}={}/{}", KINDS[k], max[k], limits[k]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let kept = (0..3).all(|k| with[k] <= limits[k]);
    // Without the semaphore the limit is passed wherever there are more workers than the limit.
    let passed = (0..3).any(|k| without[k] > limits[k])
        || (0..3).all(|k| workers_of(workers, k) <= limits[k]);
    let what = format!(
        "most inside at once (of the limit) with the semaphore {} (never above the limit: \
         {kept}); without it {}",
        pairs(with),
        pairs(without)
    );
    conclude(
        out,
        kept && passed,
        &what,
        "a semaphore admits at most its limit, however many wait",
    )?;
    Ok(())
}

/// The scenario's header, for `with` (threads or processes).
fn announce(
    out: &mut impl Write,
    with: &str,
    workers: usize,
    limits: [usize; 3],
    work: Duration,
) -> Result<()> {
    header(
        out,
        &format!("semaphore ({with})"),
        "workers of three kinds, each kind limited",
        &[
            ("workers", workers.to_string()),
            ("limits", limits.map(|l| l.to_string()).join(",")),
            ("work", duration(work)),
        ],
    )?;
    Ok(())
}

/// Threads: all workers at once, without and then with one [`Semaphore`] per kind.
///
/// # Errors
/// A worker waited longer than the patience, or the check did not hold.
pub fn threads(
    out: &mut impl Write,
    workers: usize,
    limits: [usize; 3],
    work: Duration,
) -> Result<()> {
    announce(out, "threads", workers, limits, work)?;
    let mut runs = Vec::new();
    for limited in [false, true] {
        let semaphores = limits.map(Semaphore::new);
        let inside = [(); 3].map(|_| AtomicUsize::new(0));
        let most = [(); 3].map(|_| AtomicUsize::new(0));
        let gate = Event::new();
        let started = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            // Builder, not `s.spawn`: with few threads allowed (`ulimit -u`, a container's pids
            // limit) a spawn fails, and `s.spawn` would panic where this says which limit.
            let mut handles = Vec::with_capacity(workers);
            let mut refused = None;
            for w in 0..workers {
                let (semaphores, inside, most, gate) = (&semaphores, &inside, &most, &gate);
                let spawned = std::thread::Builder::new().spawn_scoped(s, move || -> Result<()> {
                    let kind = w % 3;
                    anyhow::ensure!(gate.wait_timeout(PATIENCE), "the start gate never opened");
                    let permit = match limited {
                        true => Some(
                            semaphores[kind]
                                .acquire_timeout(PATIENCE)
                                .context("no permit in time")?,
                        ),
                        false => None,
                    };
                    let now = inside[kind].fetch_add(1, SeqCst) + 1;
                    most[kind].fetch_max(now, SeqCst);
                    std::thread::sleep(work); // the work itself
                                              // Leave before giving the permit back, or the next worker could count us.
                    inside[kind].fetch_sub(1, SeqCst);
                    drop(permit);
                    Ok(())
                });
                match spawned {
                    Ok(handle) => handles.push(handle),
                    Err(e) => {
                        refused = Some(
                            anyhow::Error::new(e)
                                .context(format!("starting thread {} of {workers}", w + 1)),
                        );
                        break;
                    }
                }
            }
            gate.set(); // every worker is waiting (or about to): let them all go at once
            if let Some(e) = refused {
                return Err(e); // the scope still joins the workers that started
            }
            if limited && expected(workers, limits, work) > SLOW {
                // A long run: say every second how far it is.
                let all_done = || Ok(handles.iter().all(|h| h.is_finished()));
                every_second(out, PATIENCE * 3, all_done, |after| {
                    let done = handles.iter().filter(|h| h.is_finished()).count();
                    format!("{done} of {workers} workers done after {}", duration(after))
                })?;
            }
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
            }
            Ok(())
        })?;
        let max = most.map(|m| m.load(SeqCst));
        report(
            out,
            if limited {
                "with a Semaphore per kind"
            } else {
                "without a semaphore"
            },
            max,
            limits,
            workers,
            started.elapsed(),
        )?;
        runs.push(max);
    }
    conclude_limits(out, runs[0], runs[1], limits, workers)
}
