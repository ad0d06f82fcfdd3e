//! Copies where a thread would borrow: numbers sent to a child process as lines of text over
//! its stdin, and its copy sent back over its stdout.
//!
//! A worker process cannot see its parent's memory, so no borrow reaches it: the data must be
//! copied there and back. processes-demo's borrow-stack scenario shows that cost; how the
//! numbers are written, read and put back in place is plumbing, and lives here. The format is
//! the plainest there is, one decimal number per line, so a student can watch it with `cat`;
//! a line that is not a number is a report (say, what the worker did), kept apart.

use crate::demo::process::Children;
use std::io::{self, BufRead, BufWriter, Write};
use std::time::Duration;

/// Sends `numbers` to child `index` of `crew`, one per line, and returns the bytes sent.
///
/// The child must read everything before it answers, and the crew's reader threads drain its
/// stdout meanwhile, so neither pipe can fill up and block the other side.
///
/// # Errors
/// The child's stdin is closed.
pub fn send(crew: &mut Children, index: usize, numbers: &[u64]) -> io::Result<usize> {
    let text: String = numbers.iter().map(|x| format!("{x}\n")).collect();
    crew.send(index, text.trim_end())?;
    Ok(text.len())
}

/// Closes the stdins of `crew`'s children (end of file: their input is complete), reads what
/// they print until each has sent one report, and reaps them: the numbers child `i` sends go,
/// in order, to `into[i * chunk..]`. Returns the reports (each line that is not a number, as
/// `(index, line)`, in arrival order) and the bytes received. Every wait is bounded by `limit`.
///
/// # Errors
/// `TimedOut` if nothing came within `limit`, `UnexpectedEof` if every child ended before its
/// report, `InvalidData` if a child sent more numbers than its place in `into` holds, `Other`
/// if a child did not exit with status 0.
pub fn receive(
    crew: &mut Children,
    into: &mut [u64],
    chunk: usize,
    limit: Duration,
) -> io::Result<(Vec<(usize, String)>, usize)> {
    crew.close_stdins();
    let mut filled = vec![0usize; crew.len()];
    let (mut reports, mut bytes) = (Vec::new(), 0);
    while reports.len() < crew.len() {
        let Some((index, line)) = crew.recv(limit)? else {
            let words = "every child ended before its report";
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, words));
        };
        let Ok(x) = line.parse::<u64>() else {
            reports.push((index, line));
            continue;
        };
        let place = (filled[index] < chunk).then(|| into.get_mut(index * chunk + filled[index]));
        let Some(Some(place)) = place else {
            let words = format!("child {index} sent more numbers than it was given");
            return Err(io::Error::new(io::ErrorKind::InvalidData, words));
        };
        *place = x;
        filled[index] += 1;
        bytes += line.len() + 1;
    }
    for status in crew.reap(limit)? {
        if !status.success() {
            let how = crate::demo::sys::describe_exit(status);
            return Err(io::Error::other(format!("a child {how}")));
        }
    }
    Ok((reports, bytes))
}

/// The child's side: reads its copy from stdin ([`read_stdin`]), lets `work` change it and say
/// what it did, and writes the changed copy and that report to stdout ([`write_stdout`]).
///
/// # Errors
/// As [`read_stdin`] and [`write_stdout`].
pub fn serve(work: impl FnOnce(&mut [u64]) -> String) -> io::Result<()> {
    let mut numbers = read_stdin()?;
    let report = work(&mut numbers);
    write_stdout(&numbers, &report)
}

/// The child's side: reads numbers, one per line, from stdin until end of file.
///
/// # Errors
/// A read error, or a line that is not a number.
pub fn read_stdin() -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for line in io::stdin().lock().lines() {
        let line = line?;
        let number = line.parse().map_err(|_| {
            let words = format!("not a number: \"{line}\"");
            io::Error::new(io::ErrorKind::InvalidData, words)
        })?;
        numbers.push(number);
    }
    Ok(numbers)
}

/// The child's side: writes `numbers` to stdout, one per line, then the line `report`.
///
/// # Errors
/// A write error (the parent stopped reading).
pub fn write_stdout(numbers: &[u64], report: &str) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for x in numbers {
        writeln!(out, "{x}")?;
    }
    writeln!(out, "{report}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::{receive, send};
    use crate::demo::process::Children;
    use std::process::Command;
    use std::time::Duration;

    /// A child that doubles what it reads: the copies come back, each in its place.
    #[test]
    fn numbers_go_there_and_back_into_place() {
        let script = "while read x; do echo $((x * 2)); done; echo doubled";
        let mut crew = Children::new();
        let mut data = vec![1, 2, 3, 4, 5];
        for (index, part) in data.chunks(3).enumerate() {
            crew.start(Command::new("sh").args(["-c", script])).unwrap();
            assert_eq!(send(&mut crew, index, part).unwrap(), part.len() * 2);
        }
        let (back, bytes) = receive(&mut crew, &mut data, 3, Duration::from_secs(10)).unwrap();
        assert_eq!(data, [2, 4, 6, 8, 10]);
        assert_eq!(bytes, 11);
        let mut reports: Vec<_> = back.iter().map(|(i, l)| (*i, l.as_str())).collect();
        reports.sort();
        assert_eq!(reports, [(0, "doubled"), (1, "doubled")]);
        assert!(crew.all_exited().unwrap(), "reaped");
    }

    /// A child that sends back more than it was given is an error, not a write out of place.
    #[test]
    fn too_many_numbers_are_an_error() {
        let mut crew = Children::new();
        crew.start(Command::new("sh").args(["-c", "echo 1; echo 2; echo 3; echo done"]))
            .unwrap();
        let mut data = vec![0; 4];
        let e = receive(&mut crew, &mut data, 2, Duration::from_secs(10)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    }
}
