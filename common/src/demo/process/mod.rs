//! The parent's side of a demo's child processes, in one place: start them, read their tagged
//! lines, talk to them, reap them with a bound, and accept their ipc-channel connection with a
//! deadline.
//!
//! A demo writes out the spawning call itself where spawning is its lesson
//! ([`crate::demo::child::self_command`] plus arguments), and hands the `Command` to
//! [`Children::start`]; everything after that is plumbing, and lives here:
//!
//! - Each child's stdout is a pipe read by a small thread, so the parent never blocks on one
//!   child while another talks, and every wait has a deadline ([`Children::recv`]). Lines that
//!   start with `@` are reports for the parent (`@ready`, `@done 1234`, see [`child::report`]);
//!   [`Children::expect_all`] collects them and copies every other line (narration) to the output.
//! - Each child's stdin is the parent's voice: one command per line ([`Children::send`],
//!   [`Children::broadcast`]); closing it ([`Children::close_stdins`]) tells a child to finish.
//! - [`Children::reap`] waits a bounded time for every child and kills those still running, so none
//!   is left either way; dropping the crew kills and reaps what is left ([`Child`]'s `Drop`).
//! - [`OneShot`] is ipc-channel's `IpcOneShotServer` with the two things it lacks: a deadline
//!   on `accept`, and its socket directory registered with [`crate::demo::cleanup`], so Ctrl-C
//!   while a child connects leaves nothing in `$TMPDIR`.

use crate::demo::child::Child;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::io::{self, BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub mod child;
mod one_shot;
mod reports;
pub use one_shot::OneShot;

/// What a reader thread passes on: a line of child `index`, or `None` once its stdout closed.
pub(crate) type Line = (usize, Option<String>);

/// The running children of one scenario, their stdins and the lines they print.
///
/// ```
/// use common::demo::process::Children;
/// use std::time::Duration;
/// let mut crew = Children::new();
/// let mut cmd = std::process::Command::new("echo");
/// cmd.arg("hello");
/// let index = crew.start(&mut cmd).unwrap();
/// let got = crew.recv(Duration::from_secs(10)).unwrap();
/// assert_eq!(got, Some((index, "hello".to_string())));
/// assert!(crew.reap(Duration::from_secs(10)).unwrap()[0].success());
/// ```
#[derive(Debug)]
pub struct Children {
    children: Vec<Child>,
    stdins: Vec<Option<ChildStdin>>,
    tx: Sender<Line>,
    lines: Receiver<Line>,
    /// Whose stdout has closed (the child exited, or is about to).
    closed: Vec<bool>,
    /// Reports read early, in arrival order: a child that already gave the report being
    /// waited for may send its next one before the others give theirs (see `expect_all`).
    held: std::collections::VecDeque<(usize, String)>,
}

impl Default for Children {
    fn default() -> Children {
        Children::new()
    }
}

impl Children {
    /// An empty crew; [`Children::start`] adds children.
    pub fn new() -> Children {
        let (tx, lines) = crossbeam_channel::unbounded();
        Children {
            children: Vec::new(),
            stdins: Vec::new(),
            tx,
            lines,
            closed: Vec::new(),
            held: std::collections::VecDeque::new(),
        }
    }

    /// Starts this program again once per argument list, each as `child <args...>` (through
    /// [`crate::demo::child::self_command`] and [`Children::start`]), for demos where spawning is
    /// not the lesson. Call it from the main thread (see [`Children::start`]).
    ///
    /// # Errors
    /// A spawn error; the children started before it are killed and reaped when the partial
    /// crew is dropped.
    pub fn spawn<A: AsRef<std::ffi::OsStr>>(
        arg_lists: impl IntoIterator<Item = impl IntoIterator<Item = A>>,
    ) -> io::Result<Children> {
        let mut crew = Children::new();
        for args in arg_lists {
            let mut cmd = crate::demo::child::self_command();
            crew.start(cmd.arg("child").args(args))?;
        }
        Ok(crew)
    }

    /// Starts `cmd` with its stdin and stdout piped to and from us, registered for cleanup on
    /// Ctrl-C, and returns its index in the crew (0, 1, 2, ... in start order).
    ///
    /// A child started by [`crate::demo::child::self_command`] dies when the *thread* that
    /// started it ends: call this from a thread that outlives the child (the main thread).
    ///
    /// # Errors
    /// The spawn error, or a reader thread that cannot start.
    pub fn start(&mut self, cmd: &mut Command) -> io::Result<usize> {
        self.start_with_stdin(cmd, Stdio::piped())
    }

    /// Like [`Children::start`], but the child reads `stdin` (a pipe from a sibling, a file)
    /// instead of a pipe from us: the crew has no voice to it, so [`Children::send`] to it fails.
    ///
    /// # Errors
    /// As [`Children::start`].
    pub fn start_with_stdin(&mut self, cmd: &mut Command, stdin: Stdio) -> io::Result<usize> {
        let index = self.children.len();
        cmd.stdin(stdin).stdout(Stdio::piped());
        let mut child = Child::spawn(cmd)?;
        let stdout = child
            .inner_mut()
            .stdout
            .take()
            .expect("stdout is piped: set two lines above");
        self.stdins.push(child.inner_mut().stdin.take());
        self.children.push(child);
        self.closed.push(false);
        let tx = self.tx.clone();
        std::thread::Builder::new()
            .name(format!("child-{index}-stdout"))
            .spawn(move || {
                // Ends at end of file, that is when the child has exited (or closed stdout).
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send((index, Some(line))).is_err() {
                        return;
                    }
                }
                let _ = tx.send((index, None));
            })?;
        Ok(index)
    }

    /// How many children were started.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether no child was started.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The process id of child `index`.
    ///
    /// # Panics
    /// If no child has that index.
    pub fn pid(&self, index: usize) -> u32 {
        self.children[index].pid()
    }

    /// The children's process ids, in index order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::pid).collect()
    }

    /// Child `index` itself, e.g. to signal or kill it.
    ///
    /// # Panics
    /// If no child has that index.
    pub fn child(&mut self, index: usize) -> &mut Child {
        &mut self.children[index]
    }

    /// Sends one command line to child `index`.
    ///
    /// # Errors
    /// The child's stdin is closed (it exited, or [`Children::close_stdins`] closed it).
    pub fn send(&mut self, index: usize, command: &str) -> io::Result<()> {
        let stdin = self.stdins[index].as_mut().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("child {index}'s stdin is closed"),
            )
        })?;
        writeln!(stdin, "{command}").and_then(|()| stdin.flush())
    }

    /// Sends the same command line to every child.
    ///
    /// # Errors
    /// As [`Children::send`].
    pub fn broadcast(&mut self, command: &str) -> io::Result<()> {
        (0..self.children.len()).try_for_each(|i| self.send(i, command))
    }

    /// Closes every child's stdin: a child reading it sees end of file, its signal to finish.
    pub fn close_stdins(&mut self) {
        self.stdins.iter_mut().for_each(|stdin| drop(stdin.take()));
    }

    /// The next line any child prints, as `(index, line)`, waiting at most `limit`; `None` once
    /// every child's stdout has closed.
    ///
    /// # Errors
    /// `TimedOut` if no line came within `limit`.
    pub fn recv(&mut self, limit: Duration) -> io::Result<Option<(usize, String)>> {
        let deadline = crate::handle::deadline_in(limit);
        while self.has_more() {
            if let (index, Some(line)) = self.next(deadline, limit)? {
                return Ok(Some((index, line)));
            }
        }
        Ok(None)
    }

    /// Whether a line may still come: one held, or a child whose stdout is open.
    pub(crate) fn has_more(&self) -> bool {
        !self.held.is_empty() || self.closed.contains(&false)
    }

    /// The next event: a held line first, else the reader threads' next line, or a child's
    /// stdout closing (marked).
    pub(crate) fn next(&mut self, deadline: Instant, limit: Duration) -> io::Result<Line> {
        if let Some((index, line)) = self.held.pop_front() {
            return Ok((index, Some(line)));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok((index, None)) => {
                self.closed[index] = true;
                Ok((index, None))
            }
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                let words = format!("no line from a child within {}", within(limit));
                Err(io::Error::new(io::ErrorKind::TimedOut, words))
            }
            Err(RecvTimeoutError::Disconnected) => unreachable!("the crew holds a sender itself"),
        }
    }

    /// Closes every stdin, then waits for every child (all of them within `limit`) and returns
    /// how each one ended, in index order. A child still running at the deadline is killed,
    /// so none is left either way.
    ///
    /// # Errors
    /// A `waitpid` error, or `TimedOut` naming the children that had to be killed.
    pub fn reap(&mut self, limit: Duration) -> io::Result<Vec<ExitStatus>> {
        self.close_stdins();
        let deadline = crate::handle::deadline_in(limit);
        let mut statuses = Vec::new();
        let mut killed = Vec::new();
        for child in &mut self.children {
            match child.wait_timeout(deadline.saturating_duration_since(Instant::now()))? {
                Some(status) => statuses.push(status),
                None => {
                    statuses.push(child.kill()?);
                    killed.push(child.pid().to_string());
                }
            }
        }
        if !killed.is_empty() {
            let words = format!(
                "pid {} did not end within {}, so killed",
                killed.join(", pid "),
                within(limit)
            );
            return Err(io::Error::new(io::ErrorKind::TimedOut, words));
        }
        Ok(statuses)
    }

    /// Whether every child has exited, reaping those that have; it never waits.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn all_exited(&mut self) -> io::Result<bool> {
        for child in &mut self.children {
            if child.try_wait()?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Kills every child with `SIGKILL` and reaps it: no cleanup code of theirs runs.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn kill_all(&mut self) -> io::Result<Vec<ExitStatus>> {
        self.children.iter_mut().map(Child::kill).collect()
    }
}

/// How each child ended, in words: `exited with code 0, killed by signal 9 (SIGKILL)`.
pub fn describe_all(statuses: &[ExitStatus]) -> String {
    let words: Vec<String> = statuses
        .iter()
        .map(|s| crate::demo::sys::describe_exit(*s))
        .collect();
    words.join(", ")
}

pub(crate) fn within(limit: Duration) -> String {
    crate::demo::narrate::duration(limit)
}

#[cfg(test)]
mod tests;
