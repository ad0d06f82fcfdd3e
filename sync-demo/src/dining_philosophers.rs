//! Dining philosophers: N around a table, one fork between each pair, two forks to eat.
//!
//! Philosopher `p` takes fork `p` (left), then fork `p+1` (right; philosopher N's right fork is
//! fork 1). If all pick up their left fork at once (a barrier forces it here), each waits for a
//! right fork that its neighbour holds: a cycle through all N, which the [`LockTable`] reports;
//! the victim puts its fork down and tries again, and everyone eats. The cure is the global
//! lock order again: everyone takes the lower-numbered of their two forks first. Philosopher N
//! then reaches for fork 1 before fork N, and a cycle cannot form.

use std::io::Write;
use std::sync::Barrier;
use std::time::Duration;

use anyhow::{bail, Result};
use common::demo::narrate::{duration, header, plural, thread_tag};

use crate::output::{conclude, say_wrapped};
use crate::wait_for_graph::{LockTable, Refused};

/// How long a philosopher waits for a fork before the run is called broken: 5 s, or longer for
/// a big table, where a philosopher can go hungry while its neighbours eat (the locks are not
/// fair): at most every meal of the table eaten one at a time.
fn patience(n: usize, meals: usize) -> Duration {
    Duration::from_secs(5).max(EAT * 2 * (n * meals) as u32)
}
const EAT: Duration = Duration::from_millis(2);

/// Runs a dinner; returns (deadlocks seen, meals eaten). `ordered` is the cure.
fn dinner(out: &mut impl Write, n: usize, meals: usize, ordered: bool) -> Result<(usize, usize)> {
    let forks = LockTable::new(
        (1..=n).map(|f| format!("fork {f}")).collect(),
        "philosopher",
    );
    let barrier = Barrier::new(n);
    let (tx, rx) = crossbeam_channel::unbounded::<String>();
    let patience = patience(n, meals);
    let served = std::sync::atomic::AtomicUsize::new(0); // meals eaten so far, for progress
    let results = std::thread::scope(|s| -> Result<Vec<(usize, usize)>> {
        let handles: Vec<_> = (1..=n)
            .map(|p| {
                let (forks, barrier, tx, served) = (&forks, &barrier, tx.clone(), &served);
                s.spawn(move || -> Result<(usize, usize)> {
                    // Forks are numbered 1..=n; the table indexes them from 0.
                    let (left, right) = (p - 1, p % n);
                    let (first, second) = if ordered {
                        (left.min(right), left.max(right))
                    } else {
                        (left, right)
                    };
                    let (mut deadlocks, mut eaten, mut attempt) = (0, 0, 0);
                    while eaten < meals {
                        forks
                            .acquire(p, first, patience)
                            .map_err(|e| anyhow::anyhow!("philosopher {p}: {e}"))?;
                        if !ordered && attempt == 0 {
                            // On purpose: everyone holds a fork before anyone reaches for a second.
                            // (Everyone gets here: the first forks are all different.)
                            barrier.wait();
                        } else {
                            std::thread::sleep(EAT); // the same invitation, without the force
                        }
                        attempt += 1;
                        match forks.acquire(p, second, patience) {
                            Ok(()) => {
                                std::thread::sleep(EAT); // eating
                                eaten += 1;
                                served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                forks.release(second);
                                forks.release(first);
                            }
                            Err(Refused::Deadlock(cycle)) => {
                                deadlocks += 1;
                                let _ = tx.send(format!(
                                    "{} philosopher {p}: DEADLOCK: {}",
                                    thread_tag(p),
                                    forks.describe(&cycle)
                                ));
                                let _ = tx.send(format!(
                                    "{} philosopher {p} puts fork {} down and tries again",
                                    thread_tag(p),
                                    first + 1
                                ));
                                forks.release(first);
                                std::thread::sleep(EAT * 5); // back off so the others can eat
                            }
                            Err(Refused::TimedOut) => {
                                bail!(
                                    "philosopher {p} waited {} without a cycle",
                                    duration(patience)
                                )
                            }
                        }
                    }
                    let _ = tx.send(format!(
                        "{} philosopher {p} ate {}",
                        thread_tag(p),
                        plural(eaten, "meal", "meals")
                    ));
                    Ok((deadlocks, eaten))
                })
            })
            .collect();
        drop(tx);
        // Relay the philosophers' lines; a long dinner also says every second how far it is.
        let started = std::time::Instant::now();
        let mut next = started + Duration::from_secs(1);
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => say_wrapped(out, "", &line)?,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
            if std::time::Instant::now() >= next {
                let eaten = served.load(std::sync::atomic::Ordering::Relaxed);
                let after = duration(started.elapsed());
                writeln!(
                    out,
                    "   ... {eaten} of {} meals eaten after {after}",
                    n * meals
                )?;
                next += Duration::from_secs(1);
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a philosopher panicked"))?
            })
            .collect()
    })?;
    Ok(results
        .iter()
        .fold((0, 0), |acc, r| (acc.0 + r.0, acc.1 + r.1)))
}

/// Threads: `n` philosophers eat `meals` meals each, first deadlocking, then with ordered forks.
///
/// # Errors
/// A philosopher got stuck without a cycle, or a check did not hold.
pub fn threads(out: &mut impl Write, n: usize, meals: usize) -> Result<()> {
    header(
        out,
        "dining-philosophers (threads)",
        "N philosophers, N forks, two forks to eat",
        &[("workers", n), ("meals", meals)],
    )?;
    writeln!(
        out,
        "   philosopher N is [thread N]; the order of the lines varies from run to run"
    )?;
    writeln!(out, "-- everyone takes the left fork first")?;
    let (deadlocks, eaten) = dinner(out, n, meals, false)?;
    writeln!(out, "-- cure: everyone takes the lower-numbered fork first")?;
    let (cured_deadlocks, cured_eaten) = dinner(out, n, meals, true)?;
    let all = n * meals;
    let what = format!(
        "left first: {} detected, {eaten}/{all} meals; lower fork first: {}, \
         {cured_eaten}/{all} meals",
        plural(deadlocks, "deadlock", "deadlocks"),
        plural(cured_deadlocks, "deadlock", "deadlocks")
    );
    conclude(
        out,
        deadlocks >= 1 && eaten == all && cured_deadlocks == 0 && cured_eaten == all,
        &what,
        "one global order of forks leaves no cycle to close",
    )?;
    Ok(())
}
