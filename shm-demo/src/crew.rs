//! The parent's side of its children: start them, talk to them line by line, never wait forever.
//!
//! Each child is this executable started again with the hidden `child` subcommand. The parent
//! writes commands to the child's stdin, one per line; the child answers on its stdout. A line
//! starting with `@` is a report for the parent (`@mapped`, `@done 1234`); any other line is
//! narration, which the parent copies to its own output, so a test reading the parent's output
//! sees the children's lines too. One reader thread per child turns lines into channel messages,
//! so every wait has a deadline (`recv_timeout`) and a child that dies is noticed at once (its
//! pipe closes).

use anyhow::{anyhow, bail, Context, Result};
use common::demo::child::{self_command, Child};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Stdio};
use std::time::{Duration, Instant};

/// How long any single report from a child may take before the parent gives up.
pub const REPORT_LIMIT: Duration = Duration::from_secs(30);

/// A message from a child's reader thread: a line, or `None` when its stdout closed.
type Line = (usize, Option<String>);

/// The running children of one scenario. Dropping it kills and reaps any still running.
pub struct Crew {
    children: Vec<Child>,
    stdins: Vec<Option<ChildStdin>>,
    lines: Receiver<Line>,
    /// Whose stdout has closed (the child exited, or is about to).
    closed: Vec<bool>,
}

impl Crew {
    /// Starts `n` children; child `i` gets `child <args(i)...>` as its arguments.
    ///
    /// Call it from the main thread: children die when the thread that spawned them ends.
    ///
    /// # Errors
    /// If a child cannot be started.
    pub fn spawn(n: usize, args: impl Fn(usize) -> Vec<String>) -> Result<Crew> {
        let (tx, lines) = crossbeam_channel::unbounded();
        let mut crew = Crew {
            children: Vec::new(),
            stdins: Vec::new(),
            lines,
            closed: vec![false; n],
        };
        for i in 0..n {
            let mut cmd = self_command();
            cmd.arg("child")
                .args(args(i))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let mut child =
                Child::spawn(&mut cmd).with_context(|| format!("spawning child {i}"))?;
            let stdout = child
                .inner_mut()
                .stdout
                .take()
                .context("child stdout was not piped")?;
            crew.stdins.push(child.inner_mut().stdin.take());
            crew.children.push(child);
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("child-{i}-stdout"))
                .spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if tx.send((i, Some(line))).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send((i, None));
                })
                .context("starting a reader thread")?;
        }
        Ok(crew)
    }

    /// The children's process ids, in index order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::pid).collect()
    }

    /// Sends one command line to child `i`.
    ///
    /// # Errors
    /// If the child's stdin is closed (it exited).
    pub fn send(&mut self, i: usize, command: &str) -> Result<()> {
        let stdin = self.stdins[i]
            .as_mut()
            .ok_or_else(|| anyhow!("child {i} has no stdin"))?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("writing \"{command}\" to child {i}"))
    }

    /// Sends the same command to every child.
    ///
    /// # Errors
    /// As [`Crew::send`].
    pub fn broadcast(&mut self, command: &str) -> Result<()> {
        (0..self.children.len()).try_for_each(|i| self.send(i, command))
    }

    /// Waits until every child has sent the report `@tag ...`, copying narration to `out`;
    /// returns each child's words after the tag, in index order.
    ///
    /// # Errors
    /// If a child exits first, or any report takes longer than [`REPORT_LIMIT`].
    pub fn expect_all(&mut self, out: &mut impl Write, tag: &str) -> Result<Vec<String>> {
        let mut got: Vec<Option<String>> = vec![None; self.children.len()];
        let prefix = format!("@{tag}");
        let mut deadline = Instant::now() + REPORT_LIMIT;
        while got.iter().any(Option::is_none) {
            let (i, line) = match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    bail!(
                        "no @{tag} from a child within {}",
                        common::demo::narrate::duration(REPORT_LIMIT)
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("every child's output closed before @{tag}")
                }
            };
            match line {
                Some(line) if line.starts_with(&prefix) => {
                    got[i] = Some(line[prefix.len()..].trim().to_string());
                    deadline = Instant::now() + REPORT_LIMIT;
                }
                Some(line) if line.starts_with('@') => {
                    bail!("child {i} said \"{line}\" while we waited for @{tag}")
                }
                Some(line) => writeln!(out, "{line}")?,
                // A child may end right after its last report: that is no error.
                None if got[i].is_some() => self.closed[i] = true,
                None => {
                    self.closed[i] = true;
                    let status = self.children[i].finish(Duration::from_secs(1))?;
                    bail!(
                        "child {i} (pid {}) {} before @{tag}",
                        self.children[i].pid(),
                        common::demo::sys::describe_exit(status)
                    );
                }
            }
        }
        Ok(got.into_iter().flatten().collect())
    }

    /// Kills every child with SIGKILL and reaps it: no cleanup code of theirs runs.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn kill_all(&mut self) -> Result<()> {
        for child in &mut self.children {
            child.kill().context("killing a child")?;
        }
        Ok(())
    }

    /// Closes every child's stdin (their signal to exit), copies their last lines to `out`, and
    /// reaps them; each must exit with status 0 within a few seconds.
    ///
    /// # Errors
    /// If a child fails or does not exit in time (it is then killed).
    pub fn finish(mut self, out: &mut impl Write) -> Result<()> {
        self.stdins.clear();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.closed.contains(&false) {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok((_, Some(line))) => writeln!(out, "{line}")?,
                Ok((i, None)) => self.closed[i] = true,
                Err(_) => break,
            }
        }
        for (i, child) in self.children.iter_mut().enumerate() {
            let status = child.finish(Duration::from_secs(2))?;
            if !status.success() {
                bail!(
                    "child {i} (pid {}) {}",
                    child.pid(),
                    common::demo::sys::describe_exit(status)
                );
            }
        }
        Ok(())
    }
}

/// The child's side: reports and narration on stdout, commands from stdin.
pub mod child {
    use std::io::{BufRead, Write};

    /// Sends the report `@tag words` to the parent.
    pub fn report(tag: &str, words: impl std::fmt::Display) {
        let mut stdout = std::io::stdout().lock();
        // If the parent is gone, nobody is left to tell; the child ends at its next read.
        let _ = writeln!(stdout, "@{tag} {words}").and_then(|()| stdout.flush());
    }

    /// Prints one line of narration tagged with this child's pid.
    pub fn say(what: impl std::fmt::Display) {
        let mut stdout = std::io::stdout().lock();
        let tag = common::demo::narrate::pid_tag(std::process::id());
        let _ = writeln!(stdout, "{tag} {what}").and_then(|()| stdout.flush());
    }

    /// The next command from the parent, or `None` once the parent closed our stdin (or died).
    pub fn next_command() -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()),
        }
    }
}
