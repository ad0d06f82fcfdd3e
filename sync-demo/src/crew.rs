//! A crew of child processes: this program started again with its hidden `child` subcommand.
//!
//! Each child's stdout is a pipe read by a small thread, so the parent never blocks on it: lines
//! that start with `@` are messages to the parent (`@ready`, `@span 0 123 456`), every other
//! line is narration, copied to the parent's output. Each child's stdin is the start signal: the
//! parent writes one line to every child when it wants them to go at once, a gate made of pipes.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::{Receiver, RecvTimeoutError};

/// The running children, their start gates and the lines they send.
pub struct Crew {
    children: Vec<common::demo::child::Child>,
    gates: Vec<Option<ChildStdin>>,
    lines: Receiver<(usize, String)>,
}

impl Crew {
    /// Starts one child per argument list (`child <role> ...`), from the calling thread, which
    /// must outlive them (the main thread).
    ///
    /// # Errors
    /// A spawn error.
    pub fn spawn(arg_lists: Vec<Vec<String>>) -> Result<Crew> {
        Crew::spawn_with(arg_lists, |_, _| {})
    }

    /// Like [`Crew::spawn`], with `configure(index, command)` called on each command just
    /// before it starts (to give a child another stdin, or an extra descriptor). A child whose
    /// stdin is not piped has no start gate.
    ///
    /// # Errors
    /// A spawn error.
    pub fn spawn_with(
        arg_lists: Vec<Vec<String>>,
        mut configure: impl FnMut(usize, &mut std::process::Command),
    ) -> Result<Crew> {
        let (tx, lines) = crossbeam_channel::unbounded();
        let mut crew = Crew {
            children: Vec::new(),
            gates: Vec::new(),
            lines,
        };
        for (index, args) in arg_lists.into_iter().enumerate() {
            let mut cmd = common::demo::child::self_command();
            cmd.arg("child")
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            configure(index, &mut cmd);
            let mut child = common::demo::child::Child::spawn(&mut cmd)
                .with_context(|| format!("spawning child process: {}", args.join(" ")))?;
            let stdout = child
                .inner_mut()
                .stdout
                .take()
                .context("child stdout is piped")?;
            crew.gates.push(child.inner_mut().stdin.take());
            crew.children.push(child);
            let tx = tx.clone();
            // The reader ends at end-of-file, i.e. when the child exits or is killed.
            std::thread::Builder::new()
                .name(format!("read-child-{index}"))
                .spawn(move || {
                    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                        let _ = tx.send((index, line));
                    }
                })
                .context("starting a reader thread")?;
        }
        Ok(crew)
    }

    /// The pids of the children, in spawn order.
    pub fn pids(&self) -> Vec<u32> {
        self.children
            .iter()
            .map(common::demo::child::Child::pid)
            .collect()
    }

    /// Waits at most `limit` for `count` messages `@<tag> ...`, copying narration to `out`;
    /// returns `(child index, rest of the line)` for each.
    ///
    /// # Errors
    /// Fewer messages came in time (a child died or hangs), or `out` failed.
    pub fn expect(
        &self,
        out: &mut impl Write,
        tag: &str,
        count: usize,
        limit: Duration,
    ) -> Result<Vec<(usize, String)>> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((i, line)) => {
                    if let Some(rest) = message(&line, tag) {
                        got.push((i, rest.to_string()));
                    } else if !line.starts_with('@') {
                        writeln!(out, "{line}")?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    bail!(
                        "only {} of {count} children said @{tag} within {}",
                        got.len(),
                        common::demo::narrate::duration(limit)
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("children exited after {} of {count} @{tag}", got.len())
                }
            }
        }
        Ok(got)
    }

    /// Opens the gate: writes one line to every child's stdin.
    ///
    /// # Errors
    /// A child is gone.
    pub fn go(&mut self) -> Result<()> {
        for gate in self.gates.iter_mut().flatten() {
            gate.write_all(b"go\n")
                .context("writing to a child's stdin")?;
        }
        Ok(())
    }

    /// Whether every child has exited (reaping those that have).
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn all_exited(&mut self) -> Result<bool> {
        for child in &mut self.children {
            if child.try_wait().context("checking on a child")?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Kills child `index` with SIGKILL and reaps it.
    ///
    /// # Errors
    /// The `waitpid` error.
    pub fn kill(&mut self, index: usize) -> Result<String> {
        let status = self.children[index].kill().context("killing a child")?;
        Ok(common::demo::sys::describe_exit(status))
    }

    /// Waits at most `limit` for every child to exit (killing those still running then), copies
    /// their remaining narration to `out` and returns their messages `@<tag> ...`.
    ///
    /// # Errors
    /// A child failed or had to be killed, or `out` failed.
    pub fn finish(
        mut self,
        out: &mut impl Write,
        tag: &str,
        limit: Duration,
    ) -> Result<Vec<(usize, String)>> {
        let deadline = Instant::now() + limit;
        let mut failures = Vec::new();
        // Closing the gates first means a child still waiting for "go" reads end-of-file.
        self.gates.clear();
        for child in &mut self.children {
            let pid = child.pid();
            let status = child
                .finish(deadline.saturating_duration_since(Instant::now()))
                .context("waiting for a child")?;
            if !status.success() {
                failures.push(format!(
                    "{} {}",
                    common::demo::narrate::pid_tag(pid),
                    common::demo::sys::describe_exit(status)
                ));
            }
        }
        let mut got = Vec::new();
        // Every child is reaped, so each reader thread reaches end-of-file soon.
        while let Ok((i, line)) = self.lines.recv_timeout(Duration::from_secs(2)) {
            if let Some(rest) = message(&line, tag) {
                got.push((i, rest.to_string()));
            } else if !line.starts_with('@') {
                writeln!(out, "{line}")?;
            }
        }
        if !failures.is_empty() {
            bail!("children failed: {}", failures.join(", "));
        }
        Ok(got)
    }
}

fn message<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line.strip_prefix('@')?.strip_prefix(tag)?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim_start())
}

/// In a child: waits for the parent's "go" line on stdin.
///
/// # Errors
/// Stdin closed first (the parent gave up or died).
pub fn wait_for_go() -> Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the start signal")?;
    if line.trim() != "go" {
        bail!("the parent closed the start gate");
    }
    Ok(())
}

/// In a child: narration tagged with this process's pid, straight to the parent.
pub fn say(text: impl std::fmt::Display) {
    println!(
        "{} {text}",
        common::demo::narrate::pid_tag(std::process::id())
    );
}

/// In a child: a message to the parent (`@tag ...`).
pub fn tell(tag: &str, rest: impl std::fmt::Display) {
    println!("@{tag} {rest}");
}
