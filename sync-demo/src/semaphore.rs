//! The seed's semaphore: 100 workers, three kinds of work, each kind limited to a few at once.
//!
//! Worker `i` does kind `i % 3`. Every worker records how many of its kind are inside at the
//! moment it enters; the highest such number per kind is what the check reads. All workers are
//! released at once through a gate, so without a semaphore nearly a third of them are inside
//! their kind together. With one semaphore per kind (limit permits each), a worker waits for a
//! permit before it enters and the count can never pass the limit. Threads use this crate's
//! [`Semaphore`]; processes use POSIX named semaphores, and since
//! they share no counter, each child reports when it entered and left (on the one monotonic
//! clock all processes read) and the parent replays those times to find the most inside at once.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::narrate::{duration, header, plural};

use crate::classics::Event;
use crate::counting_semaphore::Semaphore;
use crate::crew::Crew;
use crate::output::conclude;
use crate::sys::NamedSemaphore;

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
    work * rounds.max().unwrap_or(0) as u32
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
    header(
        out,
        "semaphore (threads)",
        "workers of three kinds, each kind limited",
        &[
            ("workers", workers.to_string()),
            ("limits", limits.map(|l| l.to_string()).join(",")),
            ("work", duration(work)),
        ],
    )?;
    let mut runs = Vec::new();
    for limited in [false, true] {
        let semaphores = limits.map(Semaphore::new);
        let inside = [(); 3].map(|_| AtomicUsize::new(0));
        let most = [(); 3].map(|_| AtomicUsize::new(0));
        let gate = Event::new();
        let started = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let (semaphores, inside, most, gate) = (&semaphores, &inside, &most, &gate);
                    s.spawn(move || -> Result<()> {
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
                    })
                })
                .collect();
            gate.set(); // every worker is waiting (or about to): let them all go at once
            if limited && expected(workers, limits, work) > SLOW {
                // A long run: say every second how far it is.
                let mut next = Instant::now() + Duration::from_secs(1);
                while !handles.iter().all(|h| h.is_finished()) {
                    std::thread::sleep(Duration::from_millis(20));
                    if Instant::now() >= next {
                        let done = handles.iter().filter(|h| h.is_finished()).count();
                        progress(out, done, workers, started)?;
                        next += Duration::from_secs(1);
                    }
                }
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

/// Replays `(kind, entered, left)` times and returns the most workers inside each kind at once.
pub fn most_at_once(spans: &[(usize, u64, u64)]) -> [usize; 3] {
    let mut most = [0; 3];
    for (k, slot) in most.iter_mut().enumerate() {
        // A leave sorts before an enter at the same instant: a worker leaves before it posts
        // the permit that lets the next one in, so the next one's time is never earlier.
        let mut events: Vec<(u64, i32)> = spans
            .iter()
            .filter(|s| s.0 == k)
            .flat_map(|s| [(s.1, 1), (s.2, -1)])
            .collect();
        events.sort();
        let mut now = 0i32;
        for (_, delta) in events {
            now += delta;
            *slot = (*slot).max(now as usize);
        }
    }
    most
}

/// Processes: one child per worker, without and then with a POSIX named semaphore per kind.
///
/// # Errors
/// A spawn or semaphore call failed, a child failed, or the check did not hold.
pub fn processes(
    out: &mut impl Write,
    workers: usize,
    limits: [usize; 3],
    work: Duration,
) -> Result<()> {
    header(
        out,
        "semaphore (processes)",
        "workers of three kinds, each kind limited",
        &[
            ("workers", workers.to_string()),
            ("limits", limits.map(|l| l.to_string()).join(",")),
            ("work", duration(work)),
        ],
    )?;
    let mut runs = Vec::new();
    for limited in [false, true] {
        // Named with our pid, so that parallel runs do not clash; "-" means no semaphore.
        let names = KINDS.map(|k| {
            if limited {
                format!("/sync-demo-{}-kind-{k}", std::process::id())
            } else {
                "-".into()
            }
        });
        let mut semaphores = Vec::new();
        let mut guards = Vec::new();
        for (name, &limit) in names.iter().zip(&limits).filter(|_| limited) {
            // glibc keeps the semaphore as /dev/shm/sem.<name>: register it for Ctrl-C.
            guards.push(common::cleanup::PathGuard::new(format!(
                "/dev/shm/sem.{}",
                &name[1..]
            )));
            semaphores.push(
                NamedSemaphore::create(name, limit as u32)
                    .with_context(|| format!("sem_open({name})"))?,
            );
        }
        let args = (0..workers)
            .map(|w| {
                vec![
                    "sem-worker".into(),
                    (w % 3).to_string(),
                    names[w % 3].clone(),
                    work.as_micros().to_string(),
                ]
            })
            .collect();
        let mut crew = Crew::spawn(args)?;
        crew.expect(out, "ready", workers, PATIENCE)?;
        // Every child has opened its semaphore: remove the names now, so nothing is left in
        // /dev/shm even if this process is killed from here on.
        for sem in &mut semaphores {
            sem.unlink().context("sem_unlink")?;
        }
        drop(guards);
        let started = Instant::now();
        crew.go()?;
        let mut told = Vec::new();
        if limited && expected(workers, limits, work) > SLOW {
            // A long run: a line at every quarter of the workers.
            let quarter = (workers / 4).max(1);
            while told.len() + quarter < workers {
                told.extend(crew.expect(out, "span", quarter, PATIENCE)?);
                progress(out, told.len(), workers, started)?;
            }
        }
        told.extend(crew.finish(out, "span", PATIENCE)?);
        let spans = told
            .into_iter()
            .map(|(_, rest)| {
                let v: Vec<u64> = rest.split(' ').filter_map(|x| x.parse().ok()).collect();
                (
                    v.first().copied().unwrap_or(0) as usize,
                    v.get(1).copied().unwrap_or(0),
                    v.get(2).copied().unwrap_or(0),
                )
            })
            .collect::<Vec<_>>();
        anyhow::ensure!(
            spans.len() == workers,
            "{} of {workers} workers reported",
            spans.len()
        );
        let max = most_at_once(&spans);
        report(
            out,
            if limited {
                "with a named semaphore per kind"
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

/// In a child: one worker of `kind`; `sem` is the semaphore's name, or `-` for none.
///
/// # Errors
/// The semaphore could not be opened or no permit came in time.
pub fn child(kind: usize, sem: &str, work: Duration) -> Result<()> {
    let sem = match sem {
        "-" => None,
        name => Some(NamedSemaphore::open(name).with_context(|| format!("sem_open({name})"))?),
    };
    crate::crew::tell("ready", "");
    crate::crew::wait_for_go()?;
    if let Some(sem) = &sem {
        anyhow::ensure!(
            sem.wait_timeout(PATIENCE).context("sem_timedwait")?,
            "no permit within {}",
            duration(PATIENCE)
        );
    }
    let entered = common::sys::monotonic_nanos();
    std::thread::sleep(work); // the work itself
    let left = common::sys::monotonic_nanos();
    if let Some(sem) = &sem {
        sem.post().context("sem_post")?;
    }
    crate::crew::tell("span", format_args!("{kind} {entered} {left}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn replayed_spans_count_overlaps() {
        let spans = [
            (0, 0, 10),
            (0, 5, 15),
            (0, 10, 20),
            (1, 0, 1),
            (2, 3, 4),
            (2, 4, 5),
        ];
        assert_eq!(super::most_at_once(&spans), [2, 1, 1]);
    }
}
