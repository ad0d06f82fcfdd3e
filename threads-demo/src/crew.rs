//! The crew: the workers of one scenario, the lines they report, and how the parent ends them.
//!
//! The twin scenario files call the same names on both sides (`Crew::new`, `report`, `start`,
//! `recv`, `tag`, `stop`, `endings`, `reap`, `still_alive`), so their diff shows only the
//! process boundary; this file holds the plumbing behind those names, which is not the lesson.
//! Here a worker is a thread of this process, and its reports travel over a crossbeam channel.

use anyhow::{ensure, Context, Result};
use common::demo::narrate::thread_tag;
use common::demo::threads::{Ended, Voice};
use std::time::Duration;

/// How a worker sends a line to the parent, who prints it under the worker's tag.
#[derive(Debug)]
pub struct Report(Voice);

impl Report {
    /// Sends `line` to the parent.
    ///
    /// # Errors
    /// The parent has stopped listening.
    pub fn send(&self, line: String) -> Result<()> {
        self.0.say(line).context("the parent has stopped listening")
    }

    /// Whether the parent asks this worker to stop ([`Crew::stop`]) within `limit`: a thread
    /// cannot be killed, so it must look.
    pub fn stop_asked_within(&self, limit: Duration) -> bool {
        self.0.stop_asked_within(limit)
    }
}

/// The running workers of one scenario and the lines they report. Every wait on them is
/// bounded: a stuck worker is an error, never a hang.
#[derive(Debug)]
pub struct Crew<T = ()> {
    // common's crew of threads, which asks them to stop and joins them when dropped.
    workers: common::demo::threads::WorkerThreads<Result<T>>,
}

impl<T: Send + 'static> Default for Crew<T> {
    fn default() -> Crew<T> {
        Crew::new()
    }
}

impl<T: Send + 'static> Crew<T> {
    /// A crew with no workers yet.
    pub fn new() -> Crew<T> {
        let workers = common::demo::threads::WorkerThreads::new();
        Crew { workers }
    }

    /// What the next worker reports through.
    pub fn report(&self) -> Report {
        Report(self.workers.voice())
    }

    /// Starts the next worker and returns its index.
    ///
    /// # Errors
    /// The OS refused a new worker.
    pub fn start(&mut self, job: impl FnOnce() -> Result<T> + Send + 'static) -> Result<usize> {
        let index = self.workers.start(job)?;
        Ok(index)
    }

    /// The next line any worker reports, as `(index, line)`, waiting at most `limit`.
    ///
    /// # Errors
    /// No line came within `limit`.
    pub fn recv(&mut self, limit: Duration) -> Result<(usize, String)> {
        let line = self.workers.recv(limit);
        line.context("no line from any worker")
    }

    /// How the narration names worker `index`.
    pub fn tag(&self, index: usize) -> String {
        thread_tag(index)
    }

    /// Stops worker `index` as far as a thread can be stopped: asks it, and it must look.
    ///
    /// # Errors
    /// None: asking cannot fail (the twin's kill can).
    pub fn stop(&mut self, index: usize) -> Result<()> {
        self.workers.ask_to_stop(index);
        Ok(())
    }

    /// Waits for every worker (all of them within `limit`) and returns how each one ended,
    /// in index order, whether it ended well or not.
    ///
    /// # Errors
    /// A worker did not end within `limit`.
    pub fn endings(&mut self, limit: Duration) -> Result<Vec<Ended<Result<T>>>> {
        let ended = self.workers.join(limit)?;
        Ok(ended)
    }

    /// Waits for every worker (all of them within `limit`), checks that each ended well and
    /// returns how each one ended, in words, in index order.
    ///
    /// # Errors
    /// A worker failed, or did not end within `limit`.
    pub fn reap(&mut self, limit: Duration) -> Result<Vec<String>> {
        let mut ended = Vec::new();
        for ending in self.endings(limit)? {
            let how = ending.to_string();
            ensure!(matches!(ending, Ended::Returned(Ok(_))), "a worker {how}");
            ended.push(how);
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
