//! Tagged reports: lines starting with `@` are for the parent ([`super::child::report`]); every
//! other line a child prints is narration, copied to the parent's output.

use super::Children;
use crate::demo::sys::describe_exit;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// The words after `@tag` in `line`, if it is that report.
fn report<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line.strip_prefix('@')?.strip_prefix(tag)?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim_start())
}

impl Children {
    /// Waits until every child has sent the report `@tag ...` ([`super::child::report`]), copying
    /// narration (lines not starting with `@`) to `out`; returns each child's words after the
    /// tag, in index order. Each report may take at most `limit` after the one before.
    ///
    /// # Errors
    /// A child ended or sent another report first, no report came in time, or `out` failed.
    pub fn expect_all(
        &mut self,
        out: &mut impl Write,
        tag: &str,
        limit: Duration,
    ) -> io::Result<Vec<String>> {
        let mut got: Vec<Option<String>> = vec![None; self.children.len()];
        // A child that has given its report may send its next one before the others give
        // theirs (its line can overtake theirs: each child's lines come through a thread of
        // their own). It is kept for whoever waits next.
        let mut later = Vec::new();
        let outcome = self.expect_each(out, tag, limit, &mut got, &mut later);
        self.held.extend(later);
        outcome?;
        Ok(got.into_iter().flatten().collect())
    }

    fn expect_each(
        &mut self,
        out: &mut impl Write,
        tag: &str,
        limit: Duration,
        got: &mut [Option<String>],
        later: &mut Vec<(usize, String)>,
    ) -> io::Result<()> {
        while got.iter().any(Option::is_none) {
            let deadline = crate::handle::deadline_in(limit);
            let (index, line) = match self.next(deadline, limit)? {
                (index, Some(line)) => (index, line),
                // A child may end right after its report: that is no error.
                (index, None) if got[index].is_some() => continue,
                (index, None) => {
                    let status = self.children[index].finish(Duration::from_secs(1))?;
                    let words = format!(
                        "child {index} (pid {}) {} before @{tag}",
                        self.pid(index),
                        describe_exit(status)
                    );
                    return Err(io::Error::other(words));
                }
            };
            match report(&line, tag) {
                _ if line.starts_with('@') && got[index].is_some() => later.push((index, line)),
                Some(rest) => got[index] = Some(rest.to_string()),
                _ if line.starts_with('@') => {
                    let words = format!("child {index} said {line:?} while we waited for @{tag}");
                    return Err(io::Error::other(words));
                }
                _ => writeln!(out, "{line}")?,
            }
        }
        Ok(())
    }

    /// Waits for `count` reports `@tag ...` from any children (one child may send several),
    /// copying narration to `out`; returns them as `(index, words)`, in arrival order. Each
    /// report may take at most `limit` after the one before. A child that ends is no error: it
    /// may have sent its reports already.
    ///
    /// # Errors
    /// Every child ended first, a child sent another report, none came in time, or `out`
    /// failed.
    pub fn expect_n(
        &mut self,
        out: &mut impl Write,
        tag: &str,
        count: usize,
        limit: Duration,
    ) -> io::Result<Vec<(usize, String)>> {
        let mut got = Vec::new();
        while got.len() < count {
            let Some((index, line)) = self.recv(limit)? else {
                let words = format!("every child ended after {} of {count} @{tag}", got.len());
                return Err(io::Error::other(words));
            };
            match report(&line, tag) {
                Some(rest) => got.push((index, rest.to_string())),
                _ if line.starts_with('@') => {
                    let words = format!("child {index} said {line:?} while we waited for @{tag}");
                    return Err(io::Error::other(words));
                }
                _ => writeln!(out, "{line}")?,
            }
        }
        Ok(got)
    }

    /// Closes every stdin (the children's signal to finish), copies what they still print to
    /// `out` and returns their reports `@tag ...` as `(index, words)`, in arrival order; then
    /// reaps every child. All of it takes at most `limit`.
    ///
    /// # Errors
    /// A child did not exit with status 0, or had to be killed at the deadline, or `out` failed.
    pub fn finish(
        mut self,
        out: &mut impl Write,
        tag: &str,
        limit: Duration,
    ) -> io::Result<Vec<(usize, String)>> {
        self.close_stdins();
        let deadline = crate::handle::deadline_in(limit);
        let mut got = Vec::new();
        while self.has_more() {
            match self.next(deadline, limit) {
                Ok((index, Some(line))) => match report(&line, tag) {
                    Some(rest) => got.push((index, rest.to_string())),
                    None if line.starts_with('@') => {}
                    None => writeln!(out, "{line}")?,
                },
                Ok((_, None)) => {}
                // The reap below kills whoever is still running, and says so.
                Err(_) => break,
            }
        }
        let statuses = self.reap(deadline.saturating_duration_since(Instant::now()))?;
        let failed: Vec<String> = (statuses.iter().zip(self.pids()))
            .filter(|(status, _)| !status.success())
            .map(|(status, pid)| format!("pid {pid} {}", describe_exit(*status)))
            .collect();
        if !failed.is_empty() {
            let words = format!("children failed: {}", failed.join(", "));
            return Err(io::Error::other(words));
        }
        Ok(got)
    }
}
