//! Stopping: four ways to stop a pool with work running and work queued, side by side.
//!
//! Each pool gets `5 x workers` naps of [`NAP_MS`] ms, so one nap runs on every worker and the
//! rest wait in the queue; [`AFTER_MS`] ms later it is stopped one of four ways, and the stop
//! is timed from the call to its return:
//!
//! - `shutdown(false)`: Python's `shutdown(wait=True)`. Everything submitted finishes; new tasks
//!   are refused with `Error::ShutDown`.
//! - `shutdown(true)`: Python's `shutdown(cancel_futures=True)`. The running naps finish, the
//!   queued ones end `Err(Cancelled)` without running; it returns once every worker is joined.
//! - `terminate()`: Python's `Pool.terminate()`. Queued naps are cancelled at once; a process
//!   pool kills its workers, so its running naps end `Cancelled` too. A thread cannot be
//!   killed: a thread pool's running naps finish in the background, after it has returned.
//! - `drop`: what leaving a scope does. Like `shutdown(false)`: nothing is lost unnoticed.
//!
//! The counts are checked (every nap accounted for, exactly one way); the times show what each
//! way costs: the queue's length, one nap, or nothing.

use crate::tasks::nap;
use crate::{process_pool, thread_pool, Settings};
use common::demo::narrate::{conclude, duration, header};
use common::{Error, Pool, ProcessPool, TaskHandle, ThreadPool};
use std::io::Write;
use std::time::{Duration, Instant};

/// Each task naps this long.
pub const NAP_MS: u64 = 100;
/// Naps per worker: one running, the rest queued.
pub const PER_WORKER: usize = 5;
/// How long after the last submit the pool is stopped: every worker has begun its first nap.
pub const AFTER_MS: u64 = 30;

/// The four ways, in the order shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `shutdown(false)`.
    Finish,
    /// `shutdown(true)`.
    Cancel,
    /// `terminate()`.
    Terminate,
    /// `drop(pool)`.
    Drop,
}

impl Stop {
    const ALL: [Stop; 4] = [Stop::Finish, Stop::Cancel, Stop::Terminate, Stop::Drop];

    fn label(self) -> &'static str {
        match self {
            Stop::Finish => "shutdown(false)",
            Stop::Cancel => "shutdown(true)",
            Stop::Terminate => "terminate()",
            Stop::Drop => "drop(pool)",
        }
    }
}

/// What one stop did to the naps.
#[derive(Debug)]
pub struct Outcome {
    pub stop: Stop,
    /// Naps that ran to the end.
    pub finished: usize,
    /// Naps that ended `Err(Cancelled)`.
    pub cancelled: usize,
    /// Anything else (none expected).
    pub other: usize,
    /// From the stop's call to its return.
    pub took: Duration,
    /// What a task submitted after the stop got (`None` after `terminate` and `drop`, which
    /// consume the pool).
    pub after: Option<Result<u64, Error>>,
}

/// The pools' two ways to terminate, behind one name.
pub trait Terminate: Pool + Sized {
    fn stop_now(self);
}

impl Terminate for ThreadPool {
    fn stop_now(self) {
        self.terminate();
    }
}

impl Terminate for ProcessPool {
    fn stop_now(self) {
        self.terminate();
    }
}

/// Fills `pool` with naps, stops it the `stop` way, and counts how each nap ended.
fn trial<P: Terminate>(pool: P, stop: Stop) -> Outcome {
    let naps = PER_WORKER * pool.workers();
    let handles: Vec<TaskHandle<u64>> = (0..naps).map(|_| pool.submit(nap, NAP_MS)).collect();
    std::thread::sleep(Duration::from_millis(AFTER_MS));
    let started = Instant::now();
    let after = match stop {
        Stop::Finish | Stop::Cancel => {
            pool.shutdown(stop == Stop::Cancel);
            let took = started.elapsed();
            (took, Some(pool.submit(nap, 1).wait()))
        }
        Stop::Terminate => {
            pool.stop_now();
            (started.elapsed(), None)
        }
        Stop::Drop => {
            drop(pool);
            (started.elapsed(), None)
        }
    };
    let (took, after) = after;
    let mut outcome = Outcome {
        stop,
        finished: 0,
        cancelled: 0,
        other: 0,
        took,
        after,
    };
    // Bounded: every nap is over, cancelled, or (a terminated thread pool's) a nap away.
    for mut handle in handles {
        match handle.wait_timeout(Duration::from_secs(10)) {
            Ok(_) => outcome.finished += 1,
            Err(Error::Cancelled) => outcome.cancelled += 1,
            Err(_) => outcome.other += 1,
        }
    }
    outcome
}

/// Whether `o`, on a pool of `workers` of the kind `kind`, ended as its way promises.
fn as_promised(o: &Outcome, kind: &str, workers: usize) -> bool {
    let naps = PER_WORKER * workers;
    let accounted = o.finished + o.cancelled == naps && o.other == 0;
    let refused = o.after.as_ref().is_none_or(|a| *a == Err(Error::ShutDown));
    // The queue is never empty when the stop comes: at least one nap per worker is queued.
    let queued_cancelled = o.cancelled >= 1;
    let ended = match (o.stop, kind) {
        (Stop::Finish | Stop::Drop, _) => o.finished == naps,
        (Stop::Terminate, "process") => queued_cancelled && o.finished < naps,
        (Stop::Cancel | Stop::Terminate, _) => queued_cancelled && o.finished >= 1,
    };
    accounted && refused && ended
}

fn report(out: &mut impl Write, kind: &str, o: &Outcome) -> std::io::Result<()> {
    let after = match (&o.after, o.stop, kind) {
        (Some(Err(Error::ShutDown)), ..) => "; a new task: ShutDown",
        (Some(_), ..) => "; a new task: not refused!",
        (None, Stop::Terminate, "thread") => "; running naps end after",
        (None, ..) => "",
    };
    writeln!(
        out,
        "{kind:<7} {:<15} finished {:>2}, cancelled {:>2}, returned in {:>7}{after}",
        o.stop.label(),
        o.finished,
        o.cancelled,
        duration(o.took),
    )
}

/// Runs the four stops on both pools, a fresh pool for each, and checks every count.
///
/// # Errors
/// A pool that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "stopping",
        "four ways to stop a pool with work running and queued",
        &[
            ("workers", workers.to_string()),
            ("naps", format!("{} of {NAP_MS} ms", PER_WORKER * workers)),
            ("stopped after", format!("{AFTER_MS} ms")),
        ],
    )?;
    let mut all = Vec::new();
    for stop in Stop::ALL {
        let o = trial(thread_pool(workers, false)?, stop);
        report(out, "thread", &o)?;
        all.push(("thread", o));
    }
    for stop in Stop::ALL {
        let o = trial(process_pool(workers, false)?, stop);
        report(out, "process", &o)?;
        all.push(("process", o));
    }
    let right = all.iter().all(|(kind, o)| as_promised(o, kind, workers));
    let took = |kind: &str, stop: Stop| {
        all.iter()
            .find(|(k, o)| *k == kind && o.stop == stop)
            .map_or(Duration::ZERO, |(_, o)| o.took)
    };
    // The lesson follows what was measured: did cancelling the queue make the stop quicker?
    let quicker = ["thread", "process"]
        .iter()
        .all(|k| took(k, Stop::Cancel) < took(k, Stop::Finish));
    let lesson = if quicker {
        "shutdown(true) waits for one task, not the queue; only a process pool can stop a \
         running task"
    } else {
        "cancelling the queue did not shorten the stop on this run (a busy machine?): rerun"
    };
    conclude(
        out,
        right,
        format_args!(
            "8 stops, {} naps each: every nap finished or was cancelled, as its stop promises",
            PER_WORKER * workers
        ),
        lesson,
    )?;
    Ok(())
}
