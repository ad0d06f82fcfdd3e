//! Synchronous work: the same workers, coordinated into one agreed order: 1, 2, ..., N, again.
//!
//! Threads share a turn counter under a `Mutex` and wait on a `Condvar` until the counter names
//! them; the worker whose turn it is does its step, moves the counter on and wakes the others.
//! Processes share no memory, so the turn travels as a token around a ring of pipes: worker k
//! reads the token from its stdin, does its step and writes the next turn into the pipe of
//! worker k + 1 (the last writes to the first). Either way only one worker works at a time, so
//! the order is the same on every run, which the demo checks twice, and the run takes about N
//! times as long as the uncoordinated one: the price of the order, measured here.

use std::io::{BufRead, Write};
use std::process::Stdio;
use std::sync::{Barrier, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::demo::narrate::{duration, header, plural, thread_tag};

use crate::crew::{child, Crew};
use crate::independent_order;
use crate::order::{parse_step, step_work, worker_tags, Run, Step};
use crate::output::{conclude, load_warning, say_wrapped};

/// The longest a worker waits for its turn before giving up: far beyond any healthy run.
const PATIENCE: Duration = Duration::from_secs(10);

/// How long a run of children may take before they are killed.
const CHILD_LIMIT: Duration = Duration::from_secs(20);

/// The descriptor on which a ring child finds the pipe to its successor.
const RING_OUT_FD: i32 = 3;

/// The turn (from 0) at which `worker` (from 1) does `step` (from 1).
fn turn_of(worker: usize, step: usize, workers: usize) -> usize {
    (step - 1) * workers + (worker - 1)
}

/// The agreed order: worker 1 to `workers` in turn, `steps` rounds.
pub fn agreed(workers: usize, steps: usize) -> Vec<usize> {
    (0..steps).flat_map(|_| 1..=workers).collect()
}

/// One run of `workers` threads taking turns through a counter and a condition variable.
///
/// # Errors
/// A worker waited 10 s for its turn, or panicked.
pub fn threads_once(workers: usize, steps: usize) -> Result<Run> {
    let turn = Mutex::new(0usize);
    let turn_changed = Condvar::new();
    let start_line = Barrier::new(workers + 1);
    let (all, start) = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=workers)
            .map(|worker| {
                let (turn, turn_changed, start_line) = (&turn, &turn_changed, &start_line);
                scope.spawn(move || -> Result<Vec<(usize, Instant)>> {
                    start_line.wait();
                    let mut done = Vec::new();
                    for step in 1..=steps {
                        let mine = turn_of(worker, step, workers);
                        // New: wait until the counter names this worker (bounded).
                        let guard = turn.lock().unwrap_or_else(PoisonError::into_inner);
                        let (guard, waited) = turn_changed
                            .wait_timeout_while(guard, PATIENCE, |t| *t != mine)
                            .unwrap_or_else(PoisonError::into_inner);
                        if waited.timed_out() {
                            bail!(
                                "worker {worker} waited {} for turn {mine}",
                                duration(PATIENCE)
                            );
                        }
                        drop(guard); // nobody else can go until the counter moves on
                        std::thread::sleep(step_work()); // the step's work
                        done.push((step, Instant::now()));
                        // New: pass the turn on and wake the waiters; only the named one goes.
                        *turn.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                        turn_changed.notify_all();
                    }
                    Ok(done)
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        let all: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (all, start)
    });
    let mut found = Vec::new();
    for (index, result) in all.into_iter().enumerate() {
        let worker = index + 1;
        let done = result.map_err(|_| anyhow::anyhow!("worker {worker} panicked"))??;
        found.extend(done.into_iter().map(|(step, when)| Step {
            worker,
            step,
            at: when.saturating_duration_since(start),
        }));
    }
    let took = found.iter().map(|s| s.at).max().unwrap_or_default();
    Ok(Run::new(
        found,
        took,
        (1..=workers).map(thread_tag).collect(),
    ))
}

/// One run of `workers` child processes passing a token around a ring of pipes.
///
/// # Errors
/// A pipe or child could not be made, a child failed, or the run took too long.
pub fn processes_once(out: &mut impl Write, workers: usize, steps: usize) -> Result<Run> {
    // Process boundary: no shared counter; pipe k carries the turn into worker k + 1.
    let mut ins = Vec::new();
    let mut outs = Vec::new();
    for _ in 0..workers {
        let (reader, writer) = std::io::pipe().context("making a pipe for the ring")?;
        ins.push(Some(reader));
        outs.push(writer);
    }
    let mut first_turn = outs[0]
        .try_clone()
        .context("copying the ring's first pipe")?;
    let args: Vec<Vec<String>> = (1..=workers)
        .map(|worker| {
            let v = [worker.to_string(), workers.to_string(), steps.to_string()];
            ["agreed-order-worker".to_string()]
                .into_iter()
                .chain(v)
                .collect()
        })
        .collect();
    let mut crew = Crew::new();
    for (index, args) in args.into_iter().enumerate() {
        let mut cmd = common::demo::child::self_command();
        cmd.arg("child").args(args);
        // Worker index + 1 reads the token from its stdin, and writes to the next one's pipe.
        crate::sys::pass_fd(&mut cmd, &outs[(index + 1) % workers], RING_OUT_FD);
        let ring_in = ins[index].take().expect("each pipe is read by one worker");
        crew.start_with_stdin(&mut cmd, Stdio::from(ring_in))
            .context("spawning a ring worker")?;
    }
    // Only the children may hold the ring's ends now: a worker that dies then closes its pipe,
    // and its successor reads end-of-file instead of waiting for ever.
    drop(outs);
    let tags = worker_tags(&crew.pids());
    crew.expect_all(out, "ready", CHILD_LIMIT)?;
    let start = common::demo::sys::monotonic_nanos();
    writeln!(first_turn, "0").context("handing the first turn to worker 1")?;
    drop(first_turn);
    let told = crew.finish(out, "step", CHILD_LIMIT)?;
    let found = told
        .iter()
        .map(|(_, text)| parse_step(text, start))
        .collect::<Result<Vec<_>>>()?;
    let took = found.iter().map(|s| s.at).max().unwrap_or_default();
    Ok(Run::new(found, took, tags))
}

/// In a child: worker `worker` of `workers` waits for the token on stdin, does its step of
/// work, and passes the next turn to its successor, `steps` times.
///
/// # Errors
/// The ring broke (end-of-file: a neighbour died), or a token came out of turn.
pub fn child(worker: usize, workers: usize, steps: usize) -> Result<()> {
    let mut next = crate::sys::take_passed_fd(RING_OUT_FD)
        .context("this worker was started without the pipe to its successor")?;
    child::report("ready", "");
    let mut ring_in = std::io::stdin().lock();
    for step in 1..=steps {
        let mine = turn_of(worker, step, workers);
        let mut token = String::new();
        if ring_in.read_line(&mut token).context("reading the token")? == 0 {
            bail!("worker {worker}: the ring broke before turn {mine}");
        }
        let turn: usize = token.trim().parse().context("a malformed token")?;
        if turn != mine {
            bail!("worker {worker}: got turn {turn}, expected {mine}");
        }
        std::thread::sleep(step_work()); // the step's work
        child::report(
            "step",
            format!("{worker} {step} {}", common::demo::sys::monotonic_nanos()),
        );
        if turn + 1 < workers * steps {
            writeln!(next, "{}", turn + 1).context("passing the token on")?;
        }
    }
    Ok(())
}

/// The scenario for threads or processes: an uncoordinated run for comparison, then two runs
/// in the agreed order, checked, with what the order cost.
fn show(
    out: &mut impl Write,
    kind: &str,
    how: &str,
    (workers, steps): (usize, usize),
    mut free: impl FnMut(&mut dyn Write) -> Result<Run>,
    mut agreed_run: impl FnMut(&mut dyn Write) -> Result<Run>,
) -> Result<()> {
    header(
        out,
        &format!("agreed-order ({kind})"),
        "the same workers take turns in an agreed order",
        &[("workers", workers), ("steps", steps)],
    )?;
    writeln!(out, "   {how}")?;
    let busy = load_warning(out)?;
    let baseline = free(out)?;
    writeln!(
        out,
        "-- no coordination (as in independent-order), for comparison"
    )?;
    say_wrapped(out, "   order:", &baseline.order_text())?;
    writeln!(out, "   took {}", duration(baseline.took))?;
    let expected = agreed(workers, steps);
    let mut runs = Vec::new();
    for run in 1..=2 {
        let this = agreed_run(out)?;
        writeln!(out, "-- agreed order, run {run}")?;
        if run == 1 {
            this.narrate(out)?;
        }
        say_wrapped(out, "   order:", &this.order_text())?;
        writeln!(out, "   took {}", duration(this.took))?;
        runs.push(this);
    }
    let in_order = runs.iter().all(|r| r.order() == expected);
    let took = runs
        .iter()
        .map(|r| r.took)
        .min()
        .expect("the loop above pushed two runs");
    let ratio = common::demo::narrate::ratio(took, baseline.took);
    let what = format!(
        "2 of 2 runs in the agreed order (workers 1 to {workers}, {}): {in_order}; \
         {} in turns against {} uncoordinated ({ratio:.2}x)",
        plural(steps, "round", "rounds"),
        duration(took),
        duration(baseline.took)
    );
    // Chosen from the numbers above; a busy machine is said, not hidden.
    let cost = if ratio >= 1.5 {
        format!("cost {ratio:.2}x the time: workers waited for their turns")
    } else {
        format!("cost little here ({ratio:.2}x the time)")
    };
    let caveat = if busy {
        " (a busy machine: rerun to trust the cost)"
    } else {
        ""
    };
    let lesson = format!("the turns bought one order every run and {cost}{caveat}");
    conclude(out, in_order, &what, &lesson)?;
    Ok(())
}

/// The scenario with threads: a turn counter and a condition variable.
///
/// # Errors
/// A worker failed, the check failed, or `out` failed.
pub fn threads(out: &mut impl Write, workers: usize, steps: usize) -> Result<()> {
    show(
        out,
        "threads",
        "a turn counter in a Mutex; each waits on a Condvar until the counter names it",
        (workers, steps),
        |_| independent_order::threads_once(workers, steps),
        |_| threads_once(workers, steps),
    )
}

/// The scenario with processes: a token around a ring of pipes.
///
/// # Errors
/// A child failed, the check failed, or `out` failed.
pub fn processes(out: &mut impl Write, workers: usize, steps: usize) -> Result<()> {
    show(
        out,
        "processes",
        "a token around a ring of pipes: each reads its turn, then writes the next one's",
        (workers, steps),
        |mut out| independent_order::processes_once(&mut out, workers, steps),
        |mut out| processes_once(&mut out, workers, steps),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agreed_order_is_round_after_round() {
        assert_eq!(agreed(3, 2), vec![1, 2, 3, 1, 2, 3]);
        assert_eq!(turn_of(1, 1, 3), 0);
        assert_eq!(turn_of(3, 2, 3), 5);
    }
}
