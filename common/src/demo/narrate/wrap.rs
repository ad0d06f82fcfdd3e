//! Lines of at most [`WIDTH`] characters: wrapping text, a wrapping writer, and one-write lines.

use std::io::{self, Write};

/// The longest line a demo prints: longer ones wrap onto indented continuation lines.
pub const WIDTH: usize = 100;

/// Splits `text` into lines of at most [`WIDTH`] characters at spaces; the first line keeps
/// `text`'s leading spaces, every line after it starts with `indent`. A single word longer than a line is left whole.
///
/// ```
/// let lines = common::demo::narrate::wrap(&"word ".repeat(30), "    ");
/// assert_eq!(lines.len(), 2);
/// assert!(lines.iter().all(|l| l.chars().count() <= 100));
/// assert!(lines[1].starts_with("    word"));
/// ```
pub fn wrap(text: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    // Leading spaces (a line's own indentation) are kept; others only separate words.
    let lead = text.len() - text.trim_start_matches(' ').len();
    let (mut line, mut words) = (text[..lead].to_string(), 0);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let needed = line.chars().count() + usize::from(words > 0) + word.chars().count();
        if words > 0 && needed > WIDTH {
            lines.push(std::mem::replace(&mut line, indent.to_string()));
            words = 0;
        }
        if words > 0 {
            line.push(' ');
        }
        line.push_str(word);
        words += 1;
    }
    if words > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A writer that wraps every line longer than [`WIDTH`] at spaces, continuing it on lines
/// indented four spaces deeper than it starts; shorter lines pass through untouched. A demo's
/// `main` puts its stdout in one, so no narration line, however long its numbers make it, runs
/// past the width.
///
/// ```
/// use std::io::Write;
/// let mut out = common::demo::narrate::Wrapped::new(Vec::new());
/// writeln!(out, "  {}", "word ".repeat(30)).unwrap();
/// let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
/// assert!(text.lines().all(|l| l.chars().count() <= 100));
/// assert!(text.lines().nth(1).unwrap().starts_with("      word"));
/// ```
#[derive(Debug)]
pub struct Wrapped<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Wrapped<W> {
    /// Wraps the lines written to `inner`.
    pub fn new(inner: W) -> Wrapped<W> {
        Wrapped {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes out a last unfinished line and returns the inner writer.
    ///
    /// # Errors
    /// The inner writer's error.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }

    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let body = text.trim_end_matches('\n');
        if body.chars().count() <= WIDTH {
            return self.inner.write_all(line);
        }
        let lead = body.len() - body.trim_start_matches(' ').len();
        let indent = " ".repeat(lead + 4);
        let mut all = wrap(body, &indent).join("\n");
        if text.ends_with('\n') {
            all.push('\n');
        }
        self.inner.write_all(all.as_bytes())
    }
}

impl<W: Write> Write for Wrapped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.emit(&line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line)?;
        }
        self.inner.flush()
    }
}

/// Writes `text`, wrapped at [`WIDTH`] with continuation lines indented by four spaces, as one
/// `write_all`, so two processes sharing the terminal cannot interleave inside it.
///
/// ```
/// let mut out = Vec::new();
/// common::demo::narrate::say(&mut out, &format!("[parent] {}", "word ".repeat(25))).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.lines().count(), 2);
/// assert!(text.lines().nth(1).unwrap().starts_with("    word"));
/// ```
///
/// # Errors
/// Only the writer's errors.
pub fn say(out: &mut impl Write, text: &str) -> io::Result<()> {
    say_indented(out, text, "    ")
}

/// Writes `text` wrapped to [`WIDTH`], its continuation lines starting with `indent`.
pub(super) fn say_indented(out: &mut impl Write, text: &str, indent: &str) -> io::Result<()> {
    let mut all = wrap(text, indent).join("\n");
    all.push('\n');
    out.write_all(all.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_short_text_and_splits_long_text_at_spaces() {
        assert_eq!(wrap("short", "  "), vec!["short".to_string()]);
        let long = format!("{} tail", "x".repeat(98));
        assert_eq!(
            wrap(&long, "  "),
            vec!["x".repeat(98), "  tail".to_string()]
        );
    }
}
