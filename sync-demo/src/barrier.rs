//! A barrier: N workers in phases; nobody starts phase k+1 before all have finished phase k.
//!
//! Each worker finishes a phase at its own time (worker i works (i+1) * 2 ms, on purpose) and
//! stamps the monotonic clock when it finishes a phase and when it starts the next. The check
//! needs no trust in the order of the printed lines: for every phase, the latest "finished" is
//! before the earliest "started next". The clock is the system's monotonic one, so stamps from
//! different processes compare.
//!
//! Then a party goes missing. A barrier that only counts would keep the others waiting for
//! ever; this one (`shared_barrier.rs`) breaks: a thread that panics on its way breaks it as it
//! unwinds, and the parent that reaps a SIGKILLed child breaks it for the child. Every waiter
//! fails at once, with an error saying why, instead of sleeping until its limit. Between
//! processes the barrier is three words in a shared segment and the waiters sleep on a futex:
//! a pipe per party to a coordinator would do too, but a futex wakes everyone with one system
//! call and no process in the middle, and it is what std's own `Barrier` is made of.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::{duration, header, pid_tag, thread_tag};
use common::demo::segment::Segment;
use common::demo::sys::{monotonic_nanos, nanos_between};

use crate::crew::child::report;
use crate::crew::Crew;
use crate::output::conclude;
use crate::shared_barrier::{BarrierWords, BreakOnPanic};

/// Phases each worker runs.
pub const PHASES: usize = 3;
/// The bound of every wait at the barrier.
const PATIENCE: Duration = Duration::from_secs(5);
/// How soon the others must fail once a party is gone.
const PROMPT: Duration = Duration::from_secs(1);

/// Worker `i`'s work in a phase: a different length each, so they arrive at different times.
fn work(i: usize) {
    std::thread::sleep(Duration::from_millis(2 * (i as u64 + 1))); // on purpose: arrive apart
}

/// Stamps: `ends[k][i]` when worker i finished phase k, `starts[k][i]` when it started phase k.
struct Stamps {
    ends: Vec<Vec<u64>>,
    starts: Vec<Vec<u64>>,
}

impl Stamps {
    fn new(workers: usize) -> Stamps {
        Stamps {
            ends: vec![vec![0; workers]; PHASES],
            starts: vec![vec![0; workers]; PHASES],
        }
    }

    /// Prints each phase's last end and next phase's first start; how many phases started early.
    fn check(&self, out: &mut impl Write) -> Result<usize> {
        let mut early = 0;
        for k in 0..PHASES - 1 {
            let last_end = *self.ends[k].iter().max().expect("workers >= 2");
            let first_start = *self.starts[k + 1].iter().min().expect("workers >= 2");
            let ok = first_start >= last_end;
            early += usize::from(!ok);
            let gap = if ok {
                format!("{} after", duration(nanos_between(last_end, first_start)))
            } else {
                format!("{} BEFORE", duration(nanos_between(first_start, last_end)))
            };
            writeln!(
                out,
                "   phase {}: the first to start phase {} did so {gap} the last finished",
                k + 1,
                k + 2
            )?;
        }
        Ok(early)
    }
}

/// Threads: phases at the barrier, then one thread panics on its way to it.
///
/// # Errors
/// A wait failed where it should not, or a check did not hold.
pub fn threads(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "barrier (threads)",
        "workers in phases: nobody starts the next before all finish this one",
        &[("workers", workers), ("phases", PHASES)],
    )?;
    let words = BarrierWords::default();
    let parties = workers as u32;
    let per_worker: Vec<Result<Vec<(u64, u64)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                let words = &words;
                s.spawn(move || -> Result<Vec<(u64, u64)>> {
                    let mut stamps = Vec::new();
                    let mut start = monotonic_nanos();
                    for _ in 0..PHASES {
                        work(i);
                        let end = monotonic_nanos();
                        stamps.push((start, end));
                        words.wait(parties, PATIENCE)?;
                        start = monotonic_nanos();
                    }
                    Ok(stamps)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("a worker panicked"))?)
            .collect()
    });
    let mut stamps = Stamps::new(workers);
    for (i, worker) in per_worker.into_iter().enumerate() {
        for (k, (start, end)) in worker?.into_iter().enumerate() {
            (stamps.starts[k][i], stamps.ends[k][i]) = (start, end);
        }
    }
    writeln!(
        out,
        "{} .. {}: {PHASES} phases each",
        thread_tag(0),
        thread_tag(workers - 1)
    )?;
    let early = stamps.check(out)?;

    writeln!(
        out,
        "-- {} panics on its way to the barrier; the others are waiting there",
        thread_tag(workers - 1)
    )?;
    let words = BarrierWords::default();
    let died_at = AtomicU64::new(0);
    // A one-line message instead of the default hook's: the panic is the point here. The hook
    // is global, so the default one is put back after.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failed: Vec<(usize, Result<bool, _>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                let (words, died_at) = (&words, &died_at);
                s.spawn(move || {
                    let _guard = BreakOnPanic(words);
                    if i == workers - 1 {
                        std::thread::sleep(Duration::from_millis(30)); // on purpose: others wait
                        died_at.store(monotonic_nanos(), SeqCst);
                        panic!("worker died before the barrier");
                    }
                    let got = words.wait(parties, PATIENCE);
                    (i, got, monotonic_nanos())
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    std::panic::set_hook(default_hook);
    writeln!(
        out,
        "{} panicked; its guard broke the barrier as it unwound",
        thread_tag(workers - 1)
    )?;
    let died_at = died_at.load(SeqCst);
    let (broken, slowest) = told(out, &failed, died_at, thread_tag)?;
    let passed = early == 0 && broken == workers - 1 && slowest < PROMPT;
    finish(out, passed, workers, early, broken, slowest, "panicked")
}

/// Prints how each survivor's wait ended; how many were told the barrier broke, and the
/// longest it took after `died_at`.
fn told<E: std::fmt::Display>(
    out: &mut impl Write,
    survivors: &[(usize, Result<bool, E>, u64)],
    died_at: u64,
    tag: impl Fn(usize) -> String,
) -> Result<(usize, Duration)> {
    let (mut broken, mut slowest) = (0, Duration::ZERO);
    for (who, got, at) in survivors {
        let after = nanos_between(died_at, *at);
        match got {
            Err(e) => {
                writeln!(out, "{} failed {} later: {e}", tag(*who), duration(after))?;
                broken += 1;
                slowest = slowest.max(after);
            }
            Ok(_) => writeln!(out, "{} passed the barrier?!", tag(*who))?,
        }
    }
    Ok((broken, slowest))
}

fn finish(
    out: &mut impl Write,
    passed: bool,
    workers: usize,
    early: usize,
    broken: usize,
    slowest: Duration,
    how: &str,
) -> Result<()> {
    let what = format!(
        "{PHASES} phases, {workers} workers: {early} started a phase early; one {how} at the \
         barrier: {broken} of {} others failed, within {}",
        workers - 1,
        duration(slowest)
    );
    conclude(
        out,
        passed,
        &what,
        "a barrier holds everyone until the last arrives, and must break if one never will",
    )?;
    Ok(())
}

/// Processes: the same phases with the barrier in a shared segment, then a child SIGKILLed.
///
/// # Errors
/// A spawn or segment operation failed, or a check did not hold.
pub fn processes(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "barrier (processes)",
        "workers in phases, the barrier in a shared segment (futex)",
        &[("workers", workers), ("phases", PHASES)],
    )?;
    let mut words = Segment::<BarrierWords>::create("barrier").context("creating the segment")?;
    let name = words.name().to_string();
    let args = |i: usize| {
        let (parties, i) = (workers.to_string(), i.to_string());
        [
            "barrier-party".to_string(),
            name.clone(),
            parties,
            i,
            "phases".into(),
        ]
    };
    let crew = Crew::spawn((0..workers).map(args)).context("spawning the parties")?;
    words
        .unlink_once_opened(workers, PATIENCE)
        .context("waiting for every party to map the segment")?;
    let reports = crew.finish(out, "phase", PATIENCE * 2)?;
    let mut stamps = Stamps::new(workers);
    for (i, words) in reports {
        let n: Vec<u64> = words
            .split(' ')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("a party's report")?;
        let [k, start, end] = n[..] else {
            anyhow::bail!("a party reported {words:?}");
        };
        (stamps.starts[k as usize][i], stamps.ends[k as usize][i]) = (start, end);
    }
    writeln!(
        out,
        "   {workers} processes ran {PHASES} phases each (their pids vary from run to run)"
    )?;
    let early = stamps.check(out)?;

    writeln!(
        out,
        "-- one party is SIGKILLed on its way to the barrier; the others are waiting there"
    )?;
    let mut words =
        Segment::<BarrierWords>::create("barrier-kill").context("creating the segment")?;
    let name = words.name().to_string();
    let args = |i: usize, part: &str| {
        let (parties, i) = (workers.to_string(), i.to_string());
        [
            "barrier-party".to_string(),
            name.clone(),
            parties,
            i,
            part.into(),
        ]
    };
    // Two crews: the survivors must end well; the victim's end is a kill.
    let mut crew = Crew::spawn((0..workers - 1).map(|i| args(i, "survivor")))
        .context("spawning the parties")?;
    let mut victim = Crew::spawn([args(workers - 1, "victim")]).context("spawning the victim")?;
    words
        .unlink_once_opened(workers, PATIENCE)
        .context("waiting for every party to map the segment")?;
    crew.expect_all(out, "ready", PATIENCE)?;
    victim.expect_all(out, "ready", PATIENCE)?;
    std::thread::sleep(Duration::from_millis(30)); // on purpose: let the others reach the barrier
    let victim_pid = victim.pid(0);
    let died_at = monotonic_nanos();
    let status = victim.child(0).kill().context("killing the victim")?;
    // The parent reaped it, so the parent knows: it breaks the barrier for the dead party.
    words.break_barrier();
    writeln!(
        out,
        "[parent] {} {}: the parent breaks the barrier",
        pid_tag(victim_pid),
        common::demo::sys::describe_exit(status)
    )?;
    let pids = crew.pids();
    let reports = crew.finish(out, "broken", PATIENCE)?;
    let survivors: Vec<(usize, Result<bool, String>, u64)> = reports
        .into_iter()
        .map(|(i, at)| {
            let broken = Err(crate::shared_barrier::BarrierError::Broken.to_string());
            (i, broken, at.parse().unwrap_or(u64::MAX))
        })
        .collect();
    let (broken, slowest) = told(out, &survivors, died_at, |i| pid_tag(pids[i]))?;
    let passed = early == 0 && broken == workers - 1 && slowest < PROMPT;
    finish(
        out,
        passed,
        workers,
        early,
        broken,
        slowest,
        "was SIGKILLed",
    )
}

/// In a child: party `index` of `parties` at the barrier in segment `name`. In `part`
/// "phases" it runs the phases and reports `@phase k start end` for each; a "victim" reports
/// `@ready` and never arrives (it is killed); a "survivor" reports `@ready`, waits at the
/// barrier, and reports `@broken <when>` once it is told the barrier broke.
///
/// # Errors
/// The segment could not be opened, or a wait failed where it should not.
pub fn child(name: &str, parties: usize, index: usize, part: &str) -> Result<()> {
    let words = Segment::<BarrierWords>::open(name).context("opening the barrier's segment")?;
    let parties = parties as u32;
    match part {
        "phases" => {
            let mut start = monotonic_nanos();
            for k in 0..PHASES {
                work(index);
                let end = monotonic_nanos();
                report("phase", format!("{k} {start} {end}"));
                words.wait(parties, PATIENCE)?;
                start = monotonic_nanos();
            }
            Ok(())
        }
        "victim" => {
            report("ready", "");
            std::thread::sleep(PATIENCE * 3); // killed long before; the bound is a safety net
            Ok(())
        }
        "survivor" => {
            report("ready", "");
            let got = words.wait(parties, PATIENCE);
            anyhow::ensure!(
                got.is_err(),
                "passed a barrier that a dead party never reached"
            );
            report("broken", monotonic_nanos());
            Ok(())
        }
        other => anyhow::bail!("no such part: {other}"),
    }
}
