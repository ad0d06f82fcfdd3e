//! # torn-lines: a `Mutex` that keeps each line whole
//!
//! **Goal.** Several workers append lines to one log, and each line is written in pieces
//! (`Log::write` writes one piece). Today another worker can write between two pieces of your
//! line, and the log reads `[thread 0] line 0: [thread 1] line 0: alpha alpha ...`: the lines
//! are torn. Make every line whole, with the lock that [`Shared`] already holds.
//!
//! **Run.** `cargo run -p exercises -- check torn-lines` (the check forces the worst
//! interleaving, `--schedule rr`, at 2, 3 and 4 workers, so a torn line shows every time).
//! Stuck? `cargo run -p exercises -- hint torn-lines`.
//!
//! **Time.** About 10 minutes.

// What every worker shares: `shared.log`, and `shared.lock`, a `Mutex<()>` nobody takes yet.
use crate::checks::torn_lines::Shared;

/// Writes one line, piece by piece; the last piece ends with `\n`.
pub fn write_line(shared: &Shared, pieces: &[String]) {
    // TODO: no other worker may write between your first piece and your last.
    for piece in pieces {
        shared.log.write(piece);
    }
}
