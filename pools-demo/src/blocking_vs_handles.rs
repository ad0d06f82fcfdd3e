//! Blocking vs handles: the caller waits (`map`), goes on working (`submit`), or awaits.
//!
//! The overview's synchronous and asynchronous work, seen from the caller. With `map` the caller
//! is blocked until every result is in, and only then does its own work: the two times add up.
//! With `submit` it hands the tasks out, gets a handle for each, does its own work while the
//! pool works, and collects the results after: the two times overlap. `.await` is the same
//! overlap written as async code: a `TaskHandle` is a `Future`, so an executor (here the small
//! `futures::executor::block_on`) runs the caller's own steps while a thread-pool task and a
//! process-pool task are out, and wakes when each result arrives.
//!
//! The tasks *wait* (they sleep, like a task waiting on a disk or a server) rather than compute,
//! so the overlap shows on any machine, however many cores it has.

use crate::{process_pool, thread_pool, Settings};
use common::demo::narrate::{conclude, duration, header, plural, ratio};
use common::Pool;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long each task waits.
pub const TASK: Duration = Duration::from_millis(60);
/// How long the caller's own work takes, in steps.
pub const OWN_STEPS: u32 = 4;
/// One step of the caller's own work.
pub const STEP: Duration = Duration::from_millis(15);

/// A task that waits, then answers: like a download, it costs time but no CPU.
pub fn wait_then_square(x: u64) -> u64 {
    std::thread::sleep(TASK);
    x * x
}

/// The caller's own work, one step (it waits too, so that only the overlap is measured).
fn own_step() {
    std::thread::sleep(STEP);
}

/// Runs the three ways on both pools and checks that every answer is right.
///
/// # Errors
/// A pool that cannot start, a task's error, or a failed check.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    let tasks = workers as u64;
    header(
        out,
        "blocking-vs-handles",
        "the caller waits (map), goes on (submit), or awaits",
        &[
            ("workers", workers.to_string()),
            ("tasks", tasks.to_string()),
            ("task", duration(TASK)),
            ("own-work", duration(STEP * OWN_STEPS)),
        ],
    )?;
    writeln!(
        out,
        "each task waits {} (no CPU); the caller's own work is {OWN_STEPS} steps of {}",
        duration(TASK),
        duration(STEP)
    )?;
    let expected: Vec<u64> = (0..tasks).map(|x| x * x).collect();
    let threads = thread_pool(workers, false)?;
    let processes = process_pool(workers, false)?;

    // 1. map: the caller is blocked until every result is in, then does its own work.
    let start = Instant::now();
    let mapped = processes.map(wait_then_square, 0..tasks)?;
    let waited = start.elapsed();
    (0..OWN_STEPS).for_each(|_| own_step());
    let blocking = start.elapsed();
    writeln!(
        out,
        "[parent] map: blocked {} for {}, then its own work: {} in all",
        duration(waited),
        plural(tasks as usize, "result", "results"),
        duration(blocking)
    )?;

    // 2. submit: hand the tasks out, work meanwhile, collect the results after.
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|x| processes.submit(wait_then_square, x))
        .collect();
    let mut finished_during_own_work = 0;
    for _ in 0..OWN_STEPS {
        own_step();
        finished_during_own_work = handles.iter().filter(|h| h.is_finished()).count();
    }
    let submitted = handles
        .into_iter()
        .map(|h| h.wait())
        .collect::<Result<Vec<u64>, _>>()?;
    let handing = start.elapsed();
    writeln!(
        out,
        "[parent] submit: own work during the tasks ({finished_during_own_work} of {tasks} done \
         by then): {} in all",
        duration(handing)
    )?;

    // 3. await: one thread-pool task and one process-pool task awaited together, while the
    // caller's own steps run on the same executor thread between polls.
    let start = Instant::now();
    let steps_before_answers = std::cell::Cell::new(0u32);
    let (from_threads, from_processes, ()) = futures::executor::block_on(async {
        let on_threads = threads.submit(wait_then_square, 3);
        let on_processes = processes.submit(wait_then_square, 4);
        let own = async {
            for _ in 0..OWN_STEPS {
                own_step();
                steps_before_answers.set(steps_before_answers.get() + 1);
                YieldNow(false).await; // let the executor poll the handles between steps
            }
        };
        futures::join!(on_threads, on_processes, own)
    });
    let awaiting = start.elapsed();
    writeln!(
        out,
        "[parent] await: a thread task and a process task awaited with {} own steps: {} in all",
        steps_before_answers.get(),
        duration(awaiting)
    )?;

    let right =
        mapped == expected && submitted == expected && from_threads? == 9 && from_processes? == 16;
    let gain = ratio(blocking, handing.max(awaiting));
    let lesson = if gain >= 1.25 {
        format!("handles let the caller work meanwhile: {gain:.2}x faster than blocking")
    } else {
        "the overlap did not show (the machine was busy: rerun)".to_string()
    };
    conclude(
        out,
        right,
        format_args!(
            "map, submit and await gave the same {} (map {}, submit {}, await {})",
            plural(tasks as usize, "answer", "answers"),
            duration(blocking),
            duration(handing),
            duration(awaiting)
        ),
        &lesson,
    )?;
    Ok(())
}

/// A future that is pending once and ready the next time: the executor polls the other
/// futures of a `join!` in between. (A step of real async work would await I/O here.)
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref(); // ask to be polled again at once
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yield_now_is_pending_once() {
        let mut polls = 0;
        futures::executor::block_on(async {
            let mut y = YieldNow(false);
            std::future::poll_fn(|cx| {
                polls += 1;
                Pin::new(&mut y).poll(cx)
            })
            .await;
        });
        assert_eq!(polls, 2);
    }
}
