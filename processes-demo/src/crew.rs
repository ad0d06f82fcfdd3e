//! The crew: the workers of one scenario, the lines they report, and how the parent ends them.
//!
//! The twin scenario files call the same names on both sides (`Crew::new`, `report`, `start`,
//! `recv`, `tag`, `stop`, `endings`, `reap`, `still_alive`), so their diff shows only the
//! process boundary; this file holds the plumbing behind those names, which is not the lesson.
//! Process boundary: here a worker is a child process, and its reports are lines on its stdout.

use anyhow::{ensure, Context, Result};
use common::demo::narrate::pid_tag;
use std::io::Write;
use std::process::ExitStatus;
use std::time::Duration;

/// How a worker sends a line to the parent, who prints it under the worker's tag.
#[derive(Debug)]
pub struct Report;

impl Report {
    /// Sends `line` to the parent.
    ///
    /// # Errors
    /// The parent has stopped listening.
    pub fn send(&self, line: String) -> Result<()> {
        // Process boundary: our stdout is a pipe to the parent, which knows whose pipe it is.
        writeln!(std::io::stdout(), "{line}").context("the parent has stopped listening")
    }
}

/// The running workers of one scenario and the lines they report. Every wait on them is
/// bounded: a stuck worker is an error, never a hang.
#[derive(Debug)]
pub struct Crew {
    // Process boundary: common's crew of children, a reader thread on each one's stdout.
    workers: common::demo::process::Children,
}

impl Default for Crew {
    fn default() -> Crew {
        Crew::new()
    }
}

impl Crew {
    /// A crew with no workers yet.
    pub fn new() -> Crew {
        let workers = common::demo::process::Children::new();
        Crew { workers }
    }

    /// What the next worker reports through.
    pub fn report(&self) -> Report {
        Report
    }

    /// Starts the next worker and returns its index.
    ///
    /// # Errors
    /// The OS refused a new worker.
    pub fn start(&mut self, job: &mut std::process::Command) -> Result<usize> {
        let index = self.workers.start(job)?;
        Ok(index)
    }

    /// The next line any worker reports, as `(index, line)`, waiting at most `limit`.
    ///
    /// # Errors
    /// No line came within `limit`.
    pub fn recv(&mut self, limit: Duration) -> Result<(usize, String)> {
        let line = self.workers.recv(limit)?;
        line.context("no line from any worker")
    }

    /// How the narration names worker `index`.
    pub fn tag(&self, index: usize) -> String {
        pid_tag(self.workers.pid(index))
    }

    /// Stops worker `index` as far as a process can be stopped: kills it with `SIGKILL`.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn stop(&mut self, index: usize) -> Result<()> {
        self.workers.child(index).kill()?;
        Ok(())
    }

    /// Waits for every worker (all of them within `limit`) and returns how each one ended,
    /// in index order, whether it ended well or not.
    ///
    /// # Errors
    /// A worker did not end within `limit`.
    pub fn endings(&mut self, limit: Duration) -> Result<Vec<ExitStatus>> {
        let ended = self.workers.reap(limit)?;
        Ok(ended)
    }

    /// Waits for every worker (all of them within `limit`), checks that each ended well and
    /// returns how each one ended, in words, in index order.
    ///
    /// # Errors
    /// A worker failed, or did not end within `limit`.
    pub fn reap(&mut self, limit: Duration) -> Result<Vec<String>> {
        let mut ended = Vec::new();
        for status in self.endings(limit)? {
            let how = common::demo::sys::describe_exit(status);
            ensure!(status.success(), "a worker {how}");
            ended.push(how);
        }
        Ok(ended)
    }

    /// The workers still alive after `reap`.
    ///
    /// # Errors
    /// The OS could not list them.
    pub fn still_alive(&self) -> Result<Vec<String>> {
        Ok(crate::live_children(&self.workers.pids()))
    }
}
