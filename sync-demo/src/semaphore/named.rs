//! The semaphore scenario between processes: a POSIX named semaphore per kind, and the
//! children's enter and leave times replayed to find the most inside at once.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::demo::narrate::duration;

use super::{announce, conclude_limits, expected, progress, report, KINDS, PATIENCE, SLOW};
use crate::crew::Crew;
use crate::sys::NamedSemaphore;

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
    announce(out, "processes", workers, limits, work)?;
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
            guards.push(common::demo::cleanup::PathGuard::new(format!(
                "/dev/shm/sem.{}",
                &name[1..]
            )));
            semaphores.push(
                NamedSemaphore::create(name, limit as u32)
                    .with_context(|| format!("sem_open({name})"))?,
            );
        }
        let args: Vec<Vec<String>> = (0..workers)
            .map(|w| {
                vec![
                    "sem-worker".into(),
                    (w % 3).to_string(),
                    names[w % 3].clone(),
                    work.as_micros().to_string(),
                ]
            })
            .collect();
        let mut crew = Crew::spawn(args).context("spawning the workers")?;
        crew.expect_all(out, "ready", PATIENCE)?;
        // Every child has opened its semaphore: remove the names now, so nothing is left in
        // /dev/shm even if this process is killed from here on.
        for sem in &mut semaphores {
            sem.unlink().context("sem_unlink")?;
        }
        drop(guards);
        let started = Instant::now();
        crew.broadcast(crate::crew::GO)
            .context("opening the start gate")?;
        let mut told = Vec::new();
        if limited && expected(workers, limits, work) > SLOW {
            // A long run: a line at every quarter of the workers.
            let quarter = (workers / 4).max(1);
            while told.len() + quarter < workers {
                told.extend(crew.expect_n(out, "span", quarter, PATIENCE)?);
                progress(out, told.len(), workers, started)?;
            }
        }
        told.extend(crew.finish(out, "span", PATIENCE)?);
        let spans = told
            .into_iter()
            .map(|(_, rest)| parse_span(&rest))
            .collect::<Result<Vec<_>>>()?;
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

/// A worker's `span` line, `<kind> <entered ns> <left ns>`, as numbers.
fn parse_span(text: &str) -> Result<(usize, u64, u64)> {
    let numbers: Vec<u64> = text
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("a worker's span line {text:?} is not three numbers"))?;
    match numbers[..] {
        [kind, start, end] => Ok((kind as usize, start, end)),
        _ => anyhow::bail!("a worker's span line {text:?} is not three numbers"),
    }
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
    crate::crew::child::report("ready", "");
    crate::crew::wait_for_go()?;
    if let Some(sem) = &sem {
        anyhow::ensure!(
            sem.wait_timeout(PATIENCE).context("sem_timedwait")?,
            "no permit within {}",
            duration(PATIENCE)
        );
    }
    let entered = common::demo::sys::monotonic_nanos();
    std::thread::sleep(work); // the work itself
    let left = common::demo::sys::monotonic_nanos();
    if let Some(sem) = &sem {
        sem.post().context("sem_post")?;
    }
    crate::crew::child::report("span", format_args!("{kind} {entered} {left}"));
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
