//! The threads twin of [`crate::demo::process::Children`]: worker threads that report lines to the
//! parent, can be asked to stop, and are joined within a bound.
//!
//! threads-demo's scenarios call the same names on their crew as processes-demo's call on
//! theirs, so that the twins' diff shows only the process boundary; this is the plumbing behind
//! the threads side. Two things differ from a crew of processes, both because a thread shares
//! its process: a thread cannot be killed (it may hold a lock or be half-way through a change
//! that nobody could undo), so the parent can only ask it to stop, and the thread must look
//! ([`Voice::stop_asked`]); and a stuck thread cannot be reaped, so a bounded join that runs out
//! says so and leaves it running. Dropping the crew asks every worker to stop and joins each
//! within [`DROP_LIMIT`], so no worker outlives an early return (say, a closed stdout).

use crossbeam_channel::{Receiver, Sender};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long dropping a crew waits for its workers after asking them to stop.
pub const DROP_LIMIT: Duration = Duration::from_secs(10);

/// A line from worker `index`, as `(index, line)`.
type Line = (usize, String);

/// Which workers were asked to stop: some by index, or all.
#[derive(Debug, Default)]
struct Stops {
    all: bool,
    asked: Vec<usize>,
}

fn stops(stops: &Mutex<Stops>) -> MutexGuard<'_, Stops> {
    // Each change is one assignment or push: a poisoned lock still holds a consistent value.
    stops
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A worker's side of its crew: lines to the parent, and whether the parent asked it to stop.
#[derive(Debug, Clone)]
pub struct Voice {
    index: usize,
    tx: Sender<Line>,
    stops: Arc<Mutex<Stops>>,
}

impl Voice {
    /// The worker's index in its crew.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Sends `line` to the parent, which reads it with [`WorkerThreads::recv`].
    ///
    /// # Errors
    /// `BrokenPipe` if the crew is gone.
    pub fn say(&self, line: String) -> io::Result<()> {
        let gone = |_| io::Error::new(io::ErrorKind::BrokenPipe, "the crew is gone");
        self.tx.send((self.index, line)).map_err(gone)
    }

    /// Whether the parent has asked this worker to stop ([`WorkerThreads::ask_to_stop`]).
    pub fn stop_asked(&self) -> bool {
        let stops = stops(&self.stops);
        stops.all || stops.asked.contains(&self.index)
    }

    /// Looks every millisecond, for at most `limit`, whether the parent asks this worker to
    /// stop; says whether it did.
    pub fn stop_asked_within(&self, limit: Duration) -> bool {
        let deadline = crate::handle::deadline_in(limit);
        while !self.stop_asked() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

/// How a worker thread ended, as `join` saw it.
#[derive(Debug)]
pub enum Ended<T> {
    /// It returned this value.
    Returned(T),
    /// It panicked with this message.
    Panicked(String),
}

impl<T, E: std::fmt::Display> std::fmt::Display for Ended<Result<T, E>> {
    /// `returned Ok`, `failed: <the error, with its causes>`, or `panicked: <its message>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Returned(Ok(_)) => write!(f, "returned Ok"),
            Ended::Returned(Err(e)) => write!(f, "failed: {e:#}"),
            Ended::Panicked(message) => write!(f, "panicked: {message}"),
        }
    }
}

impl<T: std::fmt::Display, E: std::fmt::Display> Ended<Result<T, E>> {
    /// What `join` gave back, in words: `join returned "<value>"`, `join returned the panic's
    /// message "<message>"`, or `join returned the error "<error>"`.
    pub fn said(&self) -> String {
        match self {
            Ended::Returned(Ok(value)) => format!("join returned \"{value}\""),
            Ended::Returned(Err(e)) => format!("join returned the error \"{e:#}\""),
            Ended::Panicked(message) => format!("join returned the panic's message \"{message}\""),
        }
    }
}

/// Named worker threads (`worker-0`, `worker-1`, ...) and the lines they send.
///
/// ```
/// use common::demo::threads::{WorkerThreads, Ended};
/// use std::time::Duration;
/// let mut crew = WorkerThreads::new();
/// let voice = crew.voice();
/// let index = crew.start(move || voice.say("hello".into())).unwrap();
/// assert_eq!(crew.recv(Duration::from_secs(10)).unwrap(), (index, "hello".to_string()));
/// assert!(matches!(crew.join(Duration::from_secs(10)).unwrap()[..], [Ended::Returned(Ok(()))]));
/// ```
#[derive(Debug)]
pub struct WorkerThreads<T> {
    /// `None` once joined.
    workers: Vec<Option<JoinHandle<T>>>,
    tx: Sender<Line>,
    lines: Receiver<Line>,
    stops: Arc<Mutex<Stops>>,
}

impl<T: Send + 'static> Default for WorkerThreads<T> {
    fn default() -> WorkerThreads<T> {
        WorkerThreads::new()
    }
}

impl<T: Send + 'static> WorkerThreads<T> {
    /// A crew with no workers yet.
    pub fn new() -> WorkerThreads<T> {
        let (tx, lines) = crossbeam_channel::unbounded();
        WorkerThreads {
            workers: Vec::new(),
            tx,
            lines,
            stops: Arc::default(),
        }
    }

    /// The voice of the next worker to start: hand it to that worker's job.
    pub fn voice(&self) -> Voice {
        Voice {
            index: self.workers.len(),
            tx: self.tx.clone(),
            stops: Arc::clone(&self.stops),
        }
    }

    /// Starts the next worker, a thread named `worker-<index>`, and returns its index.
    ///
    /// # Errors
    /// The OS refused a new thread.
    pub fn start(&mut self, job: impl FnOnce() -> T + Send + 'static) -> io::Result<usize> {
        let index = self.workers.len();
        let thread = std::thread::Builder::new().name(format!("worker-{index}"));
        self.workers.push(Some(thread.spawn(job)?));
        Ok(index)
    }

    /// How many workers were started.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether no worker was started.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The next line any worker sends, as `(index, line)`, waiting at most `limit`.
    ///
    /// # Errors
    /// `TimedOut` if no line came within `limit`.
    pub fn recv(&self, limit: Duration) -> io::Result<Line> {
        self.lines.recv_timeout(limit).map_err(|_| {
            let words = format!("no line from a worker within {}", within(limit));
            io::Error::new(io::ErrorKind::TimedOut, words)
        })
    }

    /// Asks worker `index` to stop: it sees so at its next [`Voice::stop_asked`].
    pub fn ask_to_stop(&self, index: usize) {
        stops(&self.stops).asked.push(index);
    }

    /// Waits for every worker not joined yet (all of them within `limit`) and returns how each
    /// one ended, in index order.
    ///
    /// # Errors
    /// `TimedOut` if a worker is still running at the deadline: a thread cannot be killed, so
    /// it is left to run (and dropping the crew asks it to stop).
    pub fn join(&mut self, limit: Duration) -> io::Result<Vec<Ended<T>>> {
        let deadline = crate::handle::deadline_in(limit);
        let mut ended = Vec::new();
        for (index, slot) in self.workers.iter_mut().enumerate() {
            let Some(worker) = slot.take() else {
                continue;
            };
            if !finished_by(&worker, deadline) {
                *slot = Some(worker);
                let words = format!("worker {index} did not end within {}", within(limit));
                return Err(io::Error::new(io::ErrorKind::TimedOut, words));
            }
            ended.push(match worker.join() {
                Ok(value) => Ended::Returned(value),
                Err(payload) => Ended::Panicked(message(&*payload)),
            });
        }
        Ok(ended)
    }
}

impl<T> Drop for WorkerThreads<T> {
    fn drop(&mut self) {
        stops(&self.stops).all = true;
        let deadline = Instant::now() + DROP_LIMIT;
        for worker in self.workers.iter_mut().filter_map(Option::take) {
            if finished_by(&worker, deadline) {
                let _ = worker.join(); // its panic, if any, was printed by the panic hook
            }
        }
    }
}

/// The narration's tag for the calling thread: `[thread 1]` for crew worker 1 (a thread named
/// `worker-1`), else `[thread <its name>]`. For a panic hook that tags its line like the rest.
pub fn current_tag() -> String {
    let me = std::thread::current();
    let name = me.name().unwrap_or("unnamed");
    let index = name.strip_prefix("worker-").and_then(|i| i.parse().ok());
    index.map_or(format!("[thread {name}]"), crate::demo::narrate::thread_tag)
}

/// Whether `worker` has finished by `deadline`, polling every millisecond until then.
fn finished_by<T>(worker: &JoinHandle<T>, deadline: Instant) -> bool {
    while !worker.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    worker.is_finished()
}

/// A panic's message: `panic!` carries a `&str` or, with format arguments, a `String`.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload.downcast_ref::<&str>().map(|s| s.to_string());
    let text = text.or_else(|| payload.downcast_ref::<String>().cloned());
    text.unwrap_or_else(|| "(a panic with no message)".to_string())
}

fn within(limit: Duration) -> String {
    crate::demo::narrate::duration(limit)
}

#[cfg(test)]
mod tests;
