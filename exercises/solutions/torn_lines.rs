//! # torn-lines: a `Mutex` that keeps each line whole (solution)
//!
//! One lock, taken before the first piece and held until the last: while one worker holds it,
//! every other worker waits in `lock()`, so no piece can land inside another's line. Taking the
//! lock around each piece instead would keep each *piece* whole, not the line.

use crate::checks::torn_lines::Shared;

/// Writes one line, piece by piece; the last piece ends with `\n`.
pub fn write_line(shared: &Shared, pieces: &[String]) {
    // New: the guard lives until the end of the function, so the lock covers the whole line.
    // A worker that panicked while holding it leaves it poisoned; the log is still whole
    // lines, so go on.
    let _held = shared.lock.lock().unwrap_or_else(|p| p.into_inner());
    for piece in pieces {
        shared.log.write(piece);
    }
}
