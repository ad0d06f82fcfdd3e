//! The crew: the workers of one scenario, the lines they report, and how the parent ends them.
//!
//! The twin scenario files call the same names on both sides (`Crew::new`, `report`, `start`,
//! `recv`, `tag`, `reap`, `still_alive`), so their diff shows only the process boundary; this
//! file holds the plumbing behind those names, which is not the lesson.
//! Here a worker is a thread of this process, and its reports travel over a crossbeam channel.

use anyhow::{ensure, Context, Result};
use common::demo::narrate::thread_tag;
use crossbeam_channel::{Receiver, Sender};
use std::time::{Duration, Instant};

/// How a worker sends a line to the parent, who prints it under the worker's tag.
#[derive(Debug)]
pub struct Report(usize, Sender<(usize, String)>);

impl Report {
    /// Sends `line` to the parent.
    ///
    /// # Errors
    /// The parent has stopped listening.
    pub fn send(&self, line: String) -> Result<()> {
        let sent = self.1.send((self.0, line)).ok();
        sent.context("the parent has stopped listening")
    }
}

/// The running workers of one scenario and the lines they report. Every wait on them is
/// bounded: a stuck worker is an error, never a hang.
#[derive(Debug)]
pub struct Crew {
    workers: Vec<std::thread::JoinHandle<Result<()>>>,
    tx: Sender<(usize, String)>,
    lines: Receiver<(usize, String)>,
}

impl Default for Crew {
    fn default() -> Crew {
        Crew::new()
    }
}

impl Crew {
    /// A crew with no workers yet.
    pub fn new() -> Crew {
        let (tx, lines) = crossbeam_channel::unbounded();
        let workers = Vec::new();
        Crew { workers, tx, lines }
    }

    /// What the next worker reports through.
    pub fn report(&self) -> Report {
        Report(self.workers.len(), self.tx.clone())
    }

    /// Starts the next worker and returns its index.
    ///
    /// # Errors
    /// The OS refused a new worker.
    pub fn start(&mut self, job: impl FnOnce() -> Result<()> + Send + 'static) -> Result<usize> {
        let index = self.workers.len();
        let thread = std::thread::Builder::new().name(format!("worker-{index}"));
        self.workers.push(thread.spawn(job)?);
        Ok(index)
    }

    /// The next line any worker reports, as `(index, line)`, waiting at most `limit`.
    ///
    /// # Errors
    /// No line came within `limit`.
    pub fn recv(&mut self, limit: Duration) -> Result<(usize, String)> {
        let line = self.lines.recv_timeout(limit).ok();
        line.context("no line from any worker")
    }

    /// How the narration names worker `index`.
    pub fn tag(&self, index: usize) -> String {
        thread_tag(index)
    }

    /// Waits for every worker (all of them within `limit`), checks that each ended well and
    /// returns how each one ended, in words, in index order.
    ///
    /// # Errors
    /// A worker failed, or did not end within `limit`.
    pub fn reap(&mut self, limit: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + limit;
        let mut ended = Vec::new();
        for worker in self.workers.drain(..) {
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let done = worker.is_finished();
            ensure!(done, "a worker is stuck, and a thread cannot be killed");
            let how = worker.join().ok().context("a worker panicked")?;
            how.context("a worker failed")?;
            ended.push("returned Ok".to_string());
        }
        Ok(ended)
    }

    /// The workers still alive after `reap`.
    ///
    /// # Errors
    /// The OS could not list them.
    pub fn still_alive(&self) -> Result<Vec<String>> {
        crate::live_threads("worker-")
    }
}
